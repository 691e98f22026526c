package app

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/internal/config"
	"github.com/dnsrr/dnsrr/zones"
	"github.com/rs/zerolog"
)

// Bounds that only keep a broken app from hanging a test; no test
// asserts speed.
const (
	hangGuard    = 10 * time.Second
	pollInterval = 10 * time.Millisecond
)

const testZone = `origin = "app.test."
ns = ["ns1"]
[soa]
serial = 1
[pools.www]
addresses = ["192.0.2.1", "192.0.2.2"]
[records.ns1]
a = ["192.0.2.53"]
`

var (
	drainedMember = netip.MustParseAddr("192.0.2.2")
	poolName      = "www.app.test."
)

// testParams serves testZone on a free loopback port, no admin API, with
// load as the zone loader; reloads come from the returned channel.
func testParams(t *testing.T, load LoadZonesFunc) (Params, chan os.Signal) {
	t.Helper()
	dir := t.TempDir()
	zone := filepath.Join(dir, "app.test.toml")
	if err := os.WriteFile(zone, []byte(testZone), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Listen = []string{"127.0.0.1:0"}
	cfg.Zones = []string{zone}
	cfg.Health.Admin = ""
	reloads := make(chan os.Signal, 8)
	return Params{
		Config:     cfg,
		LoadConfig: func() (*config.Config, error) { c := *cfg; return &c, nil },
		Reloads:    reloads,
		Log:        zerolog.New(zerolog.NewTestWriter(t)),
		Load:       load,
	}, reloads
}

// serve starts the app and runs it until the returned stop is called,
// which waits (bounded) for run to return.
func serve(t *testing.T, p Params) (*App, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a, err := start(ctx, p)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		a.run(ctx)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case <-ran:
			case <-time.After(hangGuard):
				t.Fatalf("run did not return within %v of its context ending", hangGuard)
			}
		})
	}
	t.Cleanup(stop)
	return a, stop
}

// blockingLoad loads normally at startup; every reload signals entered
// and then waits for release, ignoring stop, as a read of a FIFO would.
type blockingLoad struct {
	entered chan struct{}
	release chan struct{}
	reloads atomic.Int32
}

func newBlockingLoad(t *testing.T) *blockingLoad {
	b := &blockingLoad{entered: make(chan struct{}, 16), release: make(chan struct{})}
	t.Cleanup(func() {
		select {
		case <-b.release:
		default:
			close(b.release)
		}
	})
	return b
}

func (b *blockingLoad) load(cfg *config.Config, old *zones.Snapshot, stop func(string) error) (*zones.Snapshot, error) {
	if old != nil {
		b.reloads.Add(1)
		b.entered <- struct{}{}
		<-b.release
	}
	return LoadZones(cfg, old, stop)
}

func waitFor(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(hangGuard):
		t.Fatalf("%s: not within %v", what, hangGuard)
	}
}

func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, hangGuard)
		}
		time.Sleep(pollInterval)
	}
}

// TestHealthWhileReloadBlocked: while a reload is stuck in a load that
// cannot be told to stop, a drain still reaches DNS answers, and shutdown
// returns without waiting for the load.
func TestHealthWhileReloadBlocked(t *testing.T) {
	bl := newBlockingLoad(t)
	p, reloads := testParams(t, bl.load)
	a, stop := serve(t, p)
	if !a.srv.Answers(poolName, drainedMember) {
		t.Fatalf("%s not answered before the drain", drainedMember)
	}
	reloads <- syscall.SIGHUP
	waitFor(t, "reload entering the load", bl.entered)

	if err := a.health.prober.Drain(drainedMember, time.Time{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "drain applied during the blocked reload", func() bool { return !a.srv.Answers(poolName, drainedMember) })
	stop() // fails the test if run waits for the load
}

// TestReloadsCoalesce: requests that arrive while a reload runs make one
// more reload after it, not one each.
func TestReloadsCoalesce(t *testing.T) {
	bl := newBlockingLoad(t)
	p, reloads := testParams(t, bl.load)
	serve(t, p)
	reloads <- syscall.SIGHUP
	waitFor(t, "first reload", bl.entered)
	for range 5 {
		reloads <- syscall.SIGHUP
	}
	close(bl.release)
	waitFor(t, "second reload", bl.entered)
	if n := len(reloads); n != 0 {
		t.Errorf("%d requests still queued when the second reload started; want 0 (all five served by it)", n)
	}
	if n := bl.reloads.Load(); n != 2 {
		t.Errorf("%d reloads, want 2", n)
	}
}

// TestStartupLoadCancelled: SIGTERM during the first load ends Serve
// cleanly without waiting for the load.
func TestStartupLoadCancelled(t *testing.T) {
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	entered := make(chan struct{})
	p, _ := testParams(t, func(*config.Config, *zones.Snapshot, func(string) error) (*zones.Snapshot, error) {
		close(entered)
		<-stuck
		return nil, errors.New("unreachable")
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, p) }()
	waitFor(t, "startup load", entered)
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after SIGTERM during the first load = %v, want nil (a stop)", err)
		}
	case <-time.After(hangGuard):
		t.Fatalf("Serve did not return within %v of its context ending", hangGuard)
	}
}

// testFile is the file the fake loads below say they read.
const testFile = "zones/slow.test.toml"

// TestBudget: runLoad stops a load over its time or memory budget with an
// error naming the file and the limit; a load that cannot be stopped is
// left behind after stopGrace, and ctx ends any load at once.
func TestBudget(t *testing.T) {
	defer func(g time.Duration) { stopGrace = g }(stopGrace)
	// cooperative loops, asking stop between steps, as zones does.
	cooperative := func(step func()) loadFunc {
		return func(stop func(string) error) (*zones.Snapshot, error) {
			for {
				if err := stop(testFile); err != nil {
					return nil, &zones.Error{File: testFile, Msg: err.Error()}
				}
				step()
			}
		}
	}
	var kept [][]byte
	const chunk, most = 1 << 20, 256 // at most 256 MiB, should the watch fail
	allocate := func() {
		if len(kept) == most {
			panic("the memory budget never stopped the load")
		}
		kept = append(kept, make([]byte, chunk))
	}
	stuck := make(chan struct{})
	defer close(stuck)
	blocked := func(stop func(string) error) (*zones.Snapshot, error) {
		_ = stop(testFile)
		<-stuck
		return nil, nil
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name    string
		ctx     context.Context
		budget  budget
		load    loadFunc
		want    []string
		pending bool // done still open after runLoad returns
	}{
		{"time", context.Background(), budget{timeout: 20 * time.Millisecond, memory: 1 << 40},
			cooperative(func() { time.Sleep(time.Millisecond) }), []string{testFile, "reload_timeout", "20ms"}, false},
		{"memory", context.Background(), budget{timeout: time.Hour, memory: 16 << 20, memoryNote: "16MiB"},
			cooperative(allocate), []string{testFile, "reload_memory", "16MiB"}, false},
		{"blocked", context.Background(), budget{timeout: 20 * time.Millisecond, memory: 1 << 40},
			blocked, []string{testFile, "reload_timeout", "did not stop"}, true},
		{"cancelled", cancelled, budget{timeout: time.Hour, memory: 1 << 40},
			blocked, []string{"cancelled"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A cooperative load stops at its next step, however loaded the
			// machine: give it all the time it may need. A blocked one is
			// left behind after the grace, which is kept short.
			stopGrace = time.Minute
			if tc.pending {
				stopGrace = 50 * time.Millisecond
			}
			r := runLoad(tc.ctx, tc.budget, tc.load)
			snap, done, err := r.snap, r.done, r.err
			kept = nil
			if snap != nil || err == nil {
				t.Fatalf("runLoad = %v, %v; want an error", snap, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			select {
			case <-done:
				if tc.pending {
					t.Errorf("done closed, but the load cannot have returned")
				}
			default:
				if !tc.pending {
					t.Errorf("done open after the load returned")
				}
			}
		})
	}
}

// TestNoLoadBesideALeftBehindOne: while a load left behind still runs, a
// reload fails at once instead of starting a second load beside it.
func TestNoLoadBesideALeftBehindOne(t *testing.T) {
	left := make(chan struct{})
	a := &App{loading: left}
	if _, err := a.loadZones(context.Background(), budget{timeout: time.Hour, memory: 1 << 40}, config.Default(), nil); !errors.Is(err, errAbandoned) {
		t.Errorf("loadZones beside a running load = %v, want errAbandoned", err)
	}
}

// TestMemoryLimitRestoredOnVerdict: once a load is over its memory, the Go
// memory limit is back to what it was while the load is still stopping
// (or stuck): a live heap over the lowered limit would keep the collector
// running flat out beside the server until the load returns or is left
// behind.
func TestMemoryLimitRestoredOnVerdict(t *testing.T) {
	defer func(g time.Duration) { stopGrace = g }(stopGrace)
	stopGrace = hangGuard
	before := debug.SetMemoryLimit(-1)
	var kept [][]byte
	var during, afterVerdict int64
	load := func(stop func(string) error) (*zones.Snapshot, error) {
		during = before
		for len(kept) < 256 && stop(testFile) == nil { // at most 256 MiB
			// The watch may lower the limit just after the load began.
			during = min(during, debug.SetMemoryLimit(-1))
			kept = append(kept, make([]byte, 1<<20))
			time.Sleep(time.Millisecond)
		}
		// Told to stop: the load takes its time to notice, as a
		// large one might.
		for deadline := time.Now().Add(hangGuard); time.Now().Before(deadline); time.Sleep(pollInterval) {
			if afterVerdict = debug.SetMemoryLimit(-1); afterVerdict == before {
				break
			}
		}
		return nil, &zones.Error{File: testFile, Msg: stop(testFile).Error()}
	}
	r := runLoad(context.Background(), budget{timeout: time.Hour, memory: 16 << 20, memoryNote: "16MiB"}, load)
	kept = nil
	if r.err == nil || !strings.Contains(r.err.Error(), "reload_memory") {
		t.Fatalf("runLoad: %v, want over reload_memory", r.err)
	}
	if during >= before {
		t.Errorf("memory limit during the load %d, want below %d", during, before)
	}
	if afterVerdict != before {
		t.Errorf("memory limit after the verdict, while the load stops: %d, want %d back", afterVerdict, before)
	}
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("memory limit after the load: %d, want %d", got, before)
	}
}

// TestShutdownDuringStuckConfigRead: a reload stuck reading the
// configuration (a FIFO as the configuration file) does not hold up
// shutdown.
func TestShutdownDuringStuckConfigRead(t *testing.T) {
	p, reloads := testParams(t, nil)
	// The reload logs once released, after the test: not to t.
	p.Log = zerolog.New(&syncBuffer{})
	stuck, entered := make(chan struct{}), make(chan struct{}, 1)
	t.Cleanup(func() { close(stuck) })
	p.LoadConfig = func() (*config.Config, error) {
		entered <- struct{}{}
		<-stuck
		return nil, errors.New("unreachable")
	}
	_, stop := serve(t, p)
	reloads <- syscall.SIGHUP
	waitFor(t, "reload reading the configuration", entered)
	stop() // fails the test if run waits for the read
}

// TestReloadWarnsAdminChange: the admin API is not restarted by a reload,
// so a changed token or address is said to need a restart rather than
// silently kept.
func TestReloadWarnsAdminChange(t *testing.T) {
	p, reloads := testParams(t, nil)
	var logged syncBuffer
	p.Log = zerolog.New(&logged)
	cfg := *p.Config
	cfg.Health.AdminToken = []byte("0123456789abcdef0123456789abcdef")
	p.LoadConfig = func() (*config.Config, error) { c := cfg; return &c, nil }
	serve(t, p)
	reloads <- syscall.SIGHUP
	poll(t, "reload applied", func() bool { return strings.Contains(logged.String(), "reload applied") })
	if !strings.Contains(logged.String(), "admin API settings changed") {
		t.Errorf("a reload with a new admin token logged no warning:\n%s", logged.String())
	}
}

// syncBuffer is a log destination that tests read while the app writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
