package healthprobe

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

// logBuf collects log lines for assertions and also copies them to the
// test log.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
	t   testing.TB
}

func (l *logBuf) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Logf("%s", bytes.TrimRight(b, "\n"))
	return l.buf.Write(b)
}

// count returns how many log lines contain every one of subs.
func (l *logBuf) count(subs ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range strings.Split(l.buf.String(), "\n") {
		all := line != ""
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			n++
		}
	}
	return n
}

func testLogger(t testing.TB) (zerolog.Logger, *logBuf) {
	lb := &logBuf{t: t}
	return zerolog.New(lb).Level(zerolog.InfoLevel), lb
}

// fakeNet stands in for the network inside a synctest bubble: each address
// answers as told, optionally taking some (fake) time or hanging until the
// probe's context ends.
type fakeNet struct {
	mu       sync.Mutex
	ok       map[netip.Addr]bool
	hang     map[netip.Addr]bool
	delay    time.Duration
	calls    map[netip.Addr]int
	inflight int
	peak     int
	weights  map[netip.Addr]weightReport // what a passing probe reports
}

func newFakeNet() *fakeNet {
	return &fakeNet{ok: map[netip.Addr]bool{}, hang: map[netip.Addr]bool{}, calls: map[netip.Addr]int{}}
}

func (f *fakeNet) set(a netip.Addr, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ok[a] = ok
}

func (f *fakeNet) setHang(a netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hang[a] = true
}

func (f *fakeNet) count(a netip.Addr) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[a]
}

func (f *fakeNet) setWeight(a netip.Addr, w weightReport) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.weights == nil {
		f.weights = map[netip.Addr]weightReport{}
	}
	f.weights[a] = w
}

func (f *fakeNet) newProbe(t Target, c *Check, ua string) (probeFunc, func()) {
	probe, release := f.newUnweighted(t, c, ua)
	return func(ctx context.Context) (weightReport, error) {
		if _, err := probe(ctx); err != nil {
			return weightReport{}, err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.weights[t.Addr], nil
	}, release
}

func (f *fakeNet) newUnweighted(t Target, _ *Check, _ string) (probeFunc, func()) {
	return noWeight(func(ctx context.Context) error {
		f.mu.Lock()
		f.calls[t.Addr]++
		f.inflight++
		f.peak = max(f.peak, f.inflight)
		ok, hang, delay := f.ok[t.Addr], f.hang[t.Addr], f.delay
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			f.inflight--
			f.mu.Unlock()
		}()
		if hang {
			<-ctx.Done()
			return ctx.Err()
		}
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if !ok {
			return errFake
		}
		return nil
	}), func() {}
}

// noWeight is a probe that reports no weight.
func noWeight(f func(context.Context) error) probeFunc {
	return func(ctx context.Context) (weightReport, error) { return weightReport{}, f(ctx) }
}

var errFake = fakeError("connection refused (fake)")

type fakeError string

func (e fakeError) Error() string { return string(e) }

// startFake makes a prober on f inside a synctest bubble, runs it, and
// stops it (waiting for Run to return) when the test ends.
func startFake(t *testing.T, opts Options, f *fakeNet, ts ...Target) (*Prober, *logBuf) {
	t.Helper()
	log, lb := testLogger(t)
	p, err := New(opts, log)
	if err != nil {
		t.Fatal(err)
	}
	p.newProbe = f.newProbe
	if err := p.SetTargets(ts); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return p, lb
}

// waitCalls waits (in fake time) until a has been probed n times and the
// results are recorded.
func (f *fakeNet) waitCalls(t *testing.T, a netip.Addr, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Hour)
	for f.count(a) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d probes after an hour, want %d", a, f.count(a), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	synctest.Wait()
}

// status fetches a target's status or fails.
func status(t *testing.T, p *Prober, tg Target) Status {
	t.Helper()
	s, ok := p.View().Status(tg.Key())
	if !ok {
		t.Fatalf("no status for %s", tg.Key())
	}
	return s
}

// drainChanges empties the Changes channel and reports whether it held a
// signal.
func drainChanges(p *Prober) bool {
	select {
	case <-p.Changes():
		return true
	default:
		return false
	}
}

// pollUntil polls cond in real time until it holds or the deadline passes.
func pollUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
