package healthprobe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"
)

var (
	addrA = netip.MustParseAddr("192.0.2.1")
	addrB = netip.MustParseAddr("192.0.2.2")
	addrC = netip.MustParseAddr("2001:db8::3")
)

func fakeCheck() *Check {
	return &Check{Kind: KindTCP, Port: 80, Interval: time.Second, Timeout: 200 * time.Millisecond, Fall: 3, Rise: 2}
}

// TestRiseFall walks one target through the hysteresis, one probe at a
// time: Fall consecutive failures to go down, Rise consecutive successes
// to come back, and any other result resets the run.
func TestRiseFall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		tg := Target{addrA, fakeCheck()}
		f.set(addrA, true)
		p, logs := startFake(t, Options{}, f, tg)
		drainChanges(p)

		steps := []struct {
			ok   bool
			want State
		}{
			{true, Up},                           // the first probe decides
			{false, Up}, {false, Up}, {true, Up}, // two failures, then reset
			{false, Up}, {false, Up}, {false, Down}, // fall = 3
			{true, Down}, {false, Down}, {true, Down}, // one success, then reset
			{true, Up}, // rise = 2
		}
		prev := Unknown
		var prevSince time.Time
		for i, s := range steps {
			f.set(addrA, s.ok)
			f.waitCalls(t, addrA, i+1)
			st := status(t, p, tg)
			if st.State != s.want {
				t.Fatalf("probe %d (ok=%v): state %s, want %s", i+1, s.ok, st.State, s.want)
			}
			if st.LastOK != s.ok {
				t.Errorf("probe %d: LastOK %v, want %v", i+1, st.LastOK, s.ok)
			}
			if (st.ConsecutiveOK > 0) == (st.ConsecutiveFail > 0) {
				t.Errorf("probe %d: counters ok=%d fail=%d, want exactly one non-zero", i+1, st.ConsecutiveOK, st.ConsecutiveFail)
			}
			changed := st.State != prev
			if got := drainChanges(p); got != changed {
				t.Errorf("probe %d: Changes signalled %v, want %v", i+1, got, changed)
			}
			if changed && !st.Since.Equal(st.LastCheck) {
				t.Errorf("probe %d: Since %v, want the transition time %v", i+1, st.Since, st.LastCheck)
			}
			if !changed && !st.Since.Equal(prevSince) {
				t.Errorf("probe %d: Since moved without a transition", i+1)
			}
			if got := p.View().Serving(tg.Key()); got != (s.want == Up) {
				t.Errorf("probe %d: Serving %v in state %s", i+1, got, st.State)
			}
			prev, prevSince = st.State, st.Since
		}
		st := status(t, p, tg)
		if st.LastError != errFake.Error() || st.LastFailure.IsZero() {
			t.Errorf("after recovery: LastError %q at %v, want the last failure kept", st.LastError, st.LastFailure)
		}
		// Transitions are logged once each, never per probe.
		if n := logs.count(`"level":"warn"`, `"state":"down"`, `"from":"up"`, `"target":"192.0.2.1:80"`, `"check":"tcp"`, errFake.Error()); n != 1 {
			t.Errorf("%d warn lines for the down transition, want 1", n)
		}
		if n := logs.count(`"level":"info"`, `"state":"up"`); n != 2 {
			t.Errorf("%d info lines for up transitions, want 2 (first probe, recovery)", n)
		}
		if n := logs.count(`"message":"probe"`); n != 0 {
			t.Errorf("%d per-probe lines above debug", n)
		}
	})
}

// TestFlap checks that a target alternating between success and failure
// never changes state when rise and fall are above 1.
func TestFlap(t *testing.T) {
	for _, initial := range []State{Up, Down} {
		t.Run(initial.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeNet()
				tg := Target{addrA, fakeCheck()}
				p, logs := startFake(t, Options{InitialState: initial}, f, tg)
				for i := range 30 {
					f.set(addrA, i%2 == 0)
					f.waitCalls(t, addrA, i+1)
					if st := status(t, p, tg); st.State != initial {
						t.Fatalf("probe %d: state %s, want %s throughout", i+1, st.State, initial)
					}
				}
				if n := logs.count(`"message":"target`); n != 0 {
					t.Errorf("%d transition lines while flapping, want 0", n)
				}
			})
		})
	}
}

// TestInitialState checks where targets start and how the first probe
// moves them under each initial state.
func TestInitialState(t *testing.T) {
	cases := []struct {
		initial State
		ok      bool
		want    State // after the first probe
	}{
		{Unknown, true, Up},
		{Unknown, false, Down},
		{Up, false, Up},    // one failure of fall = 3
		{Down, true, Down}, // one success of rise = 2
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/ok=%v", c.initial, c.ok), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeNet()
				f.setHang(addrB)
				f.set(addrA, c.ok)
				tg := Target{addrA, fakeCheck()}
				slow := Target{addrB, fakeCheck()} // never answers
				p, _ := startFake(t, Options{InitialState: c.initial}, f, tg, slow)
				if err := p.FirstRound(t.Context()); err != nil {
					t.Fatal(err)
				}
				if st := status(t, p, tg); st.State != c.want {
					t.Errorf("after first probe: %s, want %s", st.State, c.want)
				}
				// slow is decided by its timeout; before that it had
				// the initial state (checked in TestSetTargets).
				if st := status(t, p, slow); c.initial == Unknown && st.State != Down {
					t.Errorf("hung target: %s, want down after its timeout", st.State)
				}
			})
		})
	}
}

// TestUnknownServes checks fail-open for targets not yet decided and for
// keys the prober does not know.
func TestUnknownServes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		f.setHang(addrA)
		tg := Target{addrA, fakeCheck()}
		p, _ := startFake(t, Options{}, f, tg)
		synctest.Wait() // the probe is in flight and hangs
		st := status(t, p, tg)
		if st.State != Unknown || !st.LastCheck.IsZero() {
			t.Fatalf("before any result: %+v", st)
		}
		if !p.View().Serving(tg.Key()) {
			t.Error("an undecided target is not served")
		}
		if !p.View().Serving("no such key") {
			t.Error("an unknown key is not served")
		}
	})
}

// TestHungTargetCostsOnlyItsTimeout: a target that never answers takes its
// timeout to be declared down, and a healthy target beside it keeps its
// own schedule.
func TestHungTargetCostsOnlyItsTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		f.setHang(addrA)
		f.set(addrB, true)
		hung := Target{addrA, &Check{Kind: KindTCP, Port: 80, Interval: 2 * time.Second, Timeout: 1500 * time.Millisecond}}
		fast := Target{addrB, &Check{Kind: KindTCP, Port: 80, Interval: 100 * time.Millisecond, Timeout: 50 * time.Millisecond}}
		start := time.Now()
		p, _ := startFake(t, Options{Concurrency: 2}, f, hung, fast)
		if err := p.FirstRound(t.Context()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 1500*time.Millisecond {
			t.Errorf("first round took %s, want the hung target's timeout 1.5s", d)
		}
		// During those 1.5s the fast target was probed on its schedule:
		// once at start, then every 100ms after a jitter of at most 150ms.
		if n := f.count(addrB); n < 13 {
			t.Errorf("fast target probed %d times while the hung one timed out, want >= 13", n)
		}
		st := status(t, p, hung)
		if st.State != Down || !strings.Contains(st.LastError, "timed out after 1.5s") {
			t.Errorf("hung target: %s %q, want down with a timeout", st.State, st.LastError)
		}
		if st := status(t, p, fast); st.State != Up {
			t.Errorf("fast target: %s", st.State)
		}
	})
}

// TestConcurrencyBound: no more probes in flight than Concurrency, and
// every target still gets its first probe.
func TestConcurrencyBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		f.delay = 100 * time.Millisecond
		var ts []Target
		for i := range 20 {
			a := netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)})
			f.set(a, true)
			ts = append(ts, Target{a, fakeCheck()})
		}
		p, _ := startFake(t, Options{Concurrency: 3}, f, ts...)
		if err := p.FirstRound(t.Context()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		f.mu.Lock()
		peak := f.peak
		f.mu.Unlock()
		if peak != 3 {
			t.Errorf("peak in flight %d, want 3", peak)
		}
		for _, tg := range ts {
			if n := f.count(tg.Addr); n < 4 {
				t.Errorf("%s probed %d times in 5s, want >= 4", tg.Addr, n)
			}
		}
	})
}

// TestJitter: targets configured together spread their probes over the
// interval after the first round.
func TestJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		var ts []Target
		for i := range 50 {
			a := netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)})
			f.set(a, true)
			ts = append(ts, Target{a, fakeCheck()})
		}
		p, _ := startFake(t, Options{}, f, ts...)
		if err := p.FirstRound(t.Context()); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		seen := map[time.Duration]bool{}
		for range 30 { // 3s in steps of 100ms
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
			for _, s := range p.View().All() {
				if d := s.LastCheck.Sub(start); d > 0 {
					seen[d%time.Second] = true
				}
			}
		}
		// With 50 uniform phases, nearly all should be distinct; a
		// schedule without jitter gives exactly one.
		if len(seen) < 10 {
			t.Errorf("probes happened at %d distinct phases of the interval, want them spread", len(seen))
		}
	})
}

// TestSetTargets: unchanged targets keep their state, new ones start in
// the initial state, removed ones stop being probed; an invalid set
// changes nothing.
func TestSetTargets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		f.set(addrA, true)
		f.set(addrB, false)
		f.set(addrC, true)
		a := Target{addrA, fakeCheck()}
		b := Target{addrB, fakeCheck()}
		p, _ := startFake(t, Options{InitialState: Down}, f, a, b)
		f.waitCalls(t, addrA, 2) // rise = 2
		stA := status(t, p, a)
		if stA.State != Up {
			t.Fatalf("a: %s, want up after rise", stA.State)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		stA = status(t, p, a)

		// An invalid set is refused whole.
		bad := &Check{Kind: "icmp"}
		err := p.SetTargets([]Target{a, {addrC, bad}, {netip.Addr{}, fakeCheck()}})
		if err == nil || !strings.Contains(err.Error(), `kind "icmp"`) || !strings.Contains(err.Error(), "no address") {
			t.Fatalf("invalid targets: %v", err)
		}
		if _, ok := p.View().Status(b.Key()); !ok {
			t.Fatal("a refused SetTargets removed b")
		}

		// Same key in a fresh Check value: unchanged. c is new. b goes.
		a2 := Target{addrA, fakeCheck()}
		c := Target{addrC, fakeCheck()}
		drainChanges(p)
		if err := p.SetTargets([]Target{a2, c, c}); err != nil {
			t.Fatal(err)
		}
		if !drainChanges(p) {
			t.Error("no Changes signal after SetTargets")
		}
		synctest.Wait()
		if got := status(t, p, a2); got.State != Up || !got.Since.Equal(stA.Since) || got.ConsecutiveOK < stA.ConsecutiveOK {
			t.Errorf("unchanged target lost its state: %+v, was %+v", got, stA)
		}
		// c succeeded once, which is not enough to rise from the initial
		// Down.
		if got := status(t, p, c); got.State != Down || got.ConsecutiveOK != 1 {
			t.Errorf("new target: %s ok=%d, want down with one success", got.State, got.ConsecutiveOK)
		}
		if _, ok := p.View().Status(b.Key()); ok {
			t.Error("removed target still in the View")
		}
		if p.View().Len() != 2 {
			t.Errorf("View has %d targets, want 2", p.View().Len())
		}
		nb := f.count(addrB)
		time.Sleep(10 * time.Second)
		if n := f.count(addrB); n != nb {
			t.Errorf("removed target probed %d more times", n-nb)
		}
		if f.count(addrC) < 5 {
			t.Errorf("new target probed %d times in 10s", f.count(addrC))
		}

		// A changed check is a new target: a fresh state.
		changed := fakeCheck()
		changed.Fall = 5
		a3 := Target{addrA, changed}
		if a3.Key() == a.Key() {
			t.Fatal("a changed check kept its key")
		}
		if err := p.SetTargets([]Target{a3, c}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := status(t, p, a3); got.State != Down || got.ConsecutiveOK != 1 {
			t.Errorf("changed target: %s ok=%d, want a fresh start", got.State, got.ConsecutiveOK)
		}
	})
}

// TestFirstRoundBeforeRun: FirstRound waits for Run to probe, and ends
// with its context.
func TestFirstRoundBeforeRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log, _ := testLogger(t)
		p, err := New(Options{}, log)
		if err != nil {
			t.Fatal(err)
		}
		p.newProbe = newFakeNet().newProbe
		if err := p.SetTargets([]Target{{addrA, fakeCheck()}}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := p.FirstRound(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("FirstRound without Run: %v, want the context's error", err)
		}
		// Once Run starts, the first round completes.
		ctx, stop := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { p.Run(ctx); close(done) }()
		if err := p.FirstRound(t.Context()); err != nil {
			t.Error(err)
		}
		stop()
		<-done
	})
}

// TestRunOnce: Run returns when its context ends, with every goroutine
// stopped (the bubble fails otherwise), and may not be called twice.
func TestRunOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		f.setHang(addrA)
		p, _ := startFake(t, Options{}, f, Target{addrA, fakeCheck()}, Target{addrB, fakeCheck()})
		synctest.Wait()
		if err := p.Run(t.Context()); err == nil {
			t.Error("second Run accepted")
		}
		// Cleanup cancels and waits; a probe hanging in flight must not
		// hold Run up.
	})
}

// TestProbePanic: a panicking probe is a failure, not a crash.
func TestProbePanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log, logs := testLogger(t)
		p, err := New(Options{}, log)
		if err != nil {
			t.Fatal(err)
		}
		p.newProbe = func(Target, *Check, string) (probeFunc, func()) {
			return noWeight(func(context.Context) error { panic("boom") }), func() {}
		}
		tg := Target{addrA, fakeCheck()}
		if err := p.SetTargets([]Target{tg}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { p.Run(ctx); close(done) }()
		if err := p.FirstRound(t.Context()); err != nil {
			t.Fatal(err)
		}
		cancel()
		<-done
		if st := status(t, p, tg); st.State != Down || !strings.Contains(st.LastError, "boom") {
			t.Errorf("%s %q", st.State, st.LastError)
		}
		if logs.count(`"message":"probe panicked"`, "boom") != 1 {
			t.Error("panic not logged")
		}
	})
}

// TestTakeChanges: each kind of change is listed once until taken (the
// targets whose State moved, the drained, undrained and expired
// addresses); probes that move no State list nothing; past
// maxPendingChanges the list gives way to All.
func TestTakeChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		f.set(addrA, true)
		f.set(addrB, true)
		a, b := Target{addrA, fakeCheck()}, Target{addrB, fakeCheck()}
		p, _ := startFake(t, Options{}, f, a, b)
		if err := p.FirstRound(t.Context()); err != nil {
			t.Fatal(err)
		}
		keys := func(c Changed) []string {
			var out []string
			for _, tg := range c.Targets {
				out = append(out, tg.Key())
			}
			slices.Sort(out)
			return out
		}
		if c := p.TakeChanges(); c.All || !slices.Equal(keys(c), []string{a.Key(), b.Key()}) {
			t.Errorf("after the first round: %+v, want both targets (added, then up)", c)
		}
		time.Sleep(5 * time.Second) // probes that change nothing
		synctest.Wait()
		if c := p.TakeChanges(); c.All || len(c.Targets)+len(c.Addrs) > 0 {
			t.Errorf("steady probes listed %+v", c)
		}

		f.set(addrB, false)
		time.Sleep(5 * time.Second) // Fall = 3 failures
		synctest.Wait()
		if st := status(t, p, b); st.State != Down {
			t.Fatalf("B is %s", st.State)
		}
		if c := p.TakeChanges(); !slices.Equal(keys(c), []string{b.Key()}) || len(c.Addrs) > 0 {
			t.Errorf("after B went down: %+v", c)
		}

		if err := p.Drain(addrC, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := p.Drain(netip.MustParseAddr("::ffff:192.0.2.1"), time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := p.Undrain(addrC); err != nil {
			t.Fatal(err)
		}
		c := p.TakeChanges()
		slices.SortFunc(c.Addrs, netip.Addr.Compare)
		if !slices.Equal(c.Addrs, []netip.Addr{addrA, addrC}) || len(c.Targets) > 0 {
			t.Errorf("after drains: %+v, want A (unmapped) and C once each", c)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if c := p.TakeChanges(); !slices.Equal(c.Addrs, []netip.Addr{addrA}) {
			t.Errorf("after the drain expired: %+v", c)
		}

		// A flood of changes nobody takes stays bounded.
		for i := range maxPendingChanges + 10 {
			p.mu.Lock()
			p.pending.addr(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
			p.mu.Unlock()
		}
		if c := p.TakeChanges(); !c.All || len(c.Addrs) > 0 {
			t.Errorf("past the bound: All=%v with %d addresses", c.All, len(c.Addrs))
		}
		if err := p.SetTargets([]Target{a}); err != nil {
			t.Fatal(err)
		}
		if c := p.TakeChanges(); c.All || !slices.Equal(keys(c), []string{b.Key()}) {
			t.Errorf("after SetTargets dropped B: %+v", c)
		}
	})
}

// TestClipError: a failure message is kept to maxErrorBytes of valid UTF-8,
// cut between runes, however long or broken the backend's part of it.
func TestClipError(t *testing.T) {
	if got := clipError("status 503 Service Unavailable"); got != "status 503 Service Unavailable" {
		t.Fatalf("a short message changed: %q", got)
	}
	long := "status 500 " + strings.Repeat("é", 400)
	got := clipError(long)
	if len(got) > maxErrorBytes || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "status 500 é") {
		t.Fatalf("clipError(%d bytes) = %d bytes %q", len(long), len(got), got)
	}
	if got := clipError("bad \xff\xfe bytes"); !utf8.ValidString(got) {
		t.Fatalf("invalid UTF-8 kept: %q", got)
	}
}

// TestClipErrorEscapes: a backend's escape sequences and bidi overrides
// in a failure message are kept written out, not acted on.
func TestClipErrorEscapes(t *testing.T) {
	got := clipError("status 503 \x1b[2J\u202egnirts")
	if strings.ContainsAny(got, "\x1b\u202e") || !strings.Contains(got, `\x1b[2J`) {
		t.Errorf("clipError kept control characters: %q", got)
	}
}
