package rrl

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/rs/zerolog"
)

// The tests run the Limiter with its clock stopped (newLimiter) and move it
// by hand: clock second n is l.clock.Store(n).

var (
	client  = netip.MustParseAddr("192.0.2.1")
	client2 = netip.MustParseAddr("198.51.100.1")
)

func newTest(t testing.TB, cfg Config) *Limiter {
	t.Helper()
	l, err := newLimiter(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// verdicts checks n responses and returns their verdicts, counted.
func verdicts(l *Limiter, a netip.Addr, kind Kind, key uint64, n int) map[Verdict]int {
	got := map[Verdict]int{}
	for range n {
		got[l.Check(a, kind, key)]++
	}
	return got
}

// TestBucket: rate responses a second pass, the next is limited, and a
// source that keeps to its rate is never limited.
func TestBucket(t *testing.T) {
	l := newTest(t, Defaults(5))
	for sec := uint32(1); sec <= 20; sec++ {
		l.clock.Store(sec)
		if got := verdicts(l, client, Answer, 1, 5); got[Pass] != 5 {
			t.Fatalf("second %d: 5 responses at rate 5: %v", sec, got)
		}
	}
	if v := l.Check(client, Answer, 1); v == Pass {
		t.Fatal("the 6th response of a second passed at rate 5")
	}
	// That response is a debt: the next second has 4 left.
	l.clock.Store(21)
	if got := verdicts(l, client, Answer, 1, 5); got[Pass] != 4 {
		t.Errorf("second after a debt of 1: %v, want 4 passed", got)
	}
	if s := l.Stats(); s.Passed != 104 || s.Slipped+s.Dropped != 2 || s.Episodes != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestSlip: every Slip-th limited response is Slip, the rest Drop.
func TestSlip(t *testing.T) {
	for _, tc := range []struct {
		slip int
		want string
	}{
		{0, "DDDDDDDDD"},
		{1, "SSSSSSSSS"},
		{2, "DSDSDSDSD"},
		{3, "DDSDDSDDS"},
	} {
		cfg := Defaults(1)
		cfg.Slip = tc.slip
		l := newTest(t, cfg)
		if v := l.Check(client, Answer, 1); v != Pass {
			t.Fatalf("slip %d: first response %v", tc.slip, v)
		}
		var got strings.Builder
		for range len(tc.want) {
			got.WriteByte(strings.ToUpper(l.Check(client, Answer, 1).String())[0])
		}
		if got.String() != tc.want {
			t.Errorf("slip %d: %s, want %s", tc.slip, got.String(), tc.want)
		}
		s := l.Stats()
		if slips := strings.Count(tc.want, "S"); s.Slipped != uint64(slips) || s.Dropped != uint64(len(tc.want)-slips) {
			t.Errorf("slip %d: stats %+v", tc.slip, s)
		}
	}
}

// TestWindow: a flood's debt is bounded by the window, so a source that
// stops for longer than the window is forgiven; a burst is paid back over
// the following seconds.
func TestWindow(t *testing.T) {
	cfg := Defaults(10)
	cfg.Window = 5 * time.Second
	l := newTest(t, cfg)
	l.clock.Store(1)
	for key := range uint64(2) {
		verdicts(l, client, Answer, key, 10_000) // debt capped at 5 s × 10
	}
	l.clock.Store(1 + 5) // silent for the window: the debt is just paid
	if v := l.Check(client, Answer, 0); v == Pass {
		t.Error("after 5 s of silence, a debt of 5 s is not yet forgiven")
	}
	l.clock.Store(1 + 6)
	if got := verdicts(l, client, Answer, 1, 10); got[Pass] != 10 {
		t.Errorf("after more than the window: %v, want 10 passed", got)
	}

	// A burst of three seconds' worth, then half the rate: the burst's
	// excess (20) is paid back at 5 a second, limiting seconds 2 to 4.
	for _, tc := range []struct {
		window  time.Duration
		limited string
	}{
		{15 * time.Second, "1110000"},
		{time.Second, "1000000"}, // a debt of at most one second
	} {
		cfg.Window = tc.window
		l := newTest(t, cfg)
		l.clock.Store(1)
		verdicts(l, client, Answer, 1, 30)
		var got strings.Builder
		for sec := uint32(2); sec <= 8; sec++ {
			l.clock.Store(sec)
			v := verdicts(l, client, Answer, 1, 5)
			switch {
			case v[Pass] == 5:
				got.WriteByte('0')
			case v[Pass] == 0:
				got.WriteByte('1')
			default:
				got.WriteByte('?')
			}
		}
		if got.String() != tc.limited {
			t.Errorf("window %v: seconds 2-8 limited %s, want %s", tc.window, got.String(), tc.limited)
		}
	}
}

// TestPrefixes: addresses in one network share an account, in different
// ones not; IPv4-mapped IPv6 addresses count as IPv4.
func TestPrefixes(t *testing.T) {
	for _, tc := range []struct {
		a, b  string
		share bool
	}{
		{"192.0.2.1", "192.0.2.200", true},
		{"192.0.2.1", "192.0.3.1", false},
		{"192.0.2.1", "::ffff:192.0.2.9", true},
		{"2001:db8:0:1::1", "2001:db8:0:ff:ffff::1", true}, // one /56
		{"2001:db8:0:1::1", "2001:db8:0:101::1", false},
	} {
		l := newTest(t, Defaults(4))
		a, b := netip.MustParseAddr(tc.a), netip.MustParseAddr(tc.b)
		verdicts(l, a, Answer, 1, 4)
		if shared := l.Check(b, Answer, 1) != Pass; shared != tc.share {
			t.Errorf("%s then %s: shared %v, want %v", tc.a, tc.b, shared, tc.share)
		}
	}
	cfg := Defaults(4)
	cfg.IPv4PrefixLen = 32
	l := newTest(t, cfg)
	verdicts(l, client, Answer, 1, 4)
	if l.Check(client.Next(), Answer, 1) != Pass {
		t.Error("with /32, a neighbour shares the account")
	}
}

// TestKindsAndKeys: each kind has its own rate and accounts, each key its
// own account; a rate of 0 is no limit.
func TestKindsAndKeys(t *testing.T) {
	cfg := Defaults(5)
	cfg.NXDomainsPerSecond = 2
	cfg.ErrorsPerSecond = 0
	l := newTest(t, cfg)
	verdicts(l, client, Answer, 1, 5)
	if l.Check(client, Answer, 1) == Pass {
		t.Fatal("6th answer passed")
	}
	if l.Check(client, Answer, 2) != Pass {
		t.Error("another key shares the account")
	}
	if got := verdicts(l, client, NXDomain, 1, 3); got[Pass] != 2 {
		t.Errorf("NXDOMAIN at 2 a second: %v", got)
	}
	if got := verdicts(l, client, NoData, 1, 5); got[Pass] != 5 {
		t.Errorf("NODATA shares the answers' account: %v", got)
	}
	if got := verdicts(l, client, Error, 0, 1000); got[Pass] != 1000 {
		t.Errorf("errors with rate 0: %v", got)
	}
}

// TestExempt: exempt networks and loopback are never limited.
func TestExempt(t *testing.T) {
	cfg := Defaults(1)
	cfg.Exempt = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8::/32")}
	l := newTest(t, cfg)
	for _, a := range []string{"198.51.100.1", "::ffff:198.51.100.7", "2001:db8::53", "127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"} {
		if got := verdicts(l, netip.MustParseAddr(a), Answer, 1, 100); got[Pass] != 100 {
			t.Errorf("exempt %s: %v", a, got)
		}
	}
	if got := verdicts(l, client, Answer, 1, 3); got[Pass] != 1 {
		t.Errorf("not exempt: %v", got)
	}
	cfg.ExemptLoopback = false
	l = newTest(t, cfg)
	if got := verdicts(l, netip.MustParseAddr("127.0.0.1"), Answer, 1, 3); got[Pass] != 1 {
		t.Errorf("loopback, not exempt: %v", got)
	}
}

// logLines is the log written so far, as lines containing substr. The
// tests' Limiters log from the test's goroutine only (their clock is
// stopped), so a plain buffer will do.
type logLines struct{ b bytes.Buffer }

func (s *logLines) lines(substr string) []string {
	var out []string
	for _, line := range strings.Split(s.b.String(), "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return out
}

func newLogged(t *testing.T, cfg Config) (*Limiter, *logLines) {
	t.Helper()
	var logs logLines
	l, err := newLimiter(cfg, zerolog.New(&logs.b))
	if err != nil {
		t.Fatal(err)
	}
	return l, &logs
}

// TestEpisodeLog: an episode is logged once when it starts and once when
// it ends, with what it slipped and dropped; never per packet.
func TestEpisodeLog(t *testing.T) {
	cfg := Defaults(10)
	cfg.Window = 2 * time.Second
	l, logs := newLogged(t, cfg)
	for sec := uint32(1); sec <= 3; sec++ {
		l.clock.Store(sec)
		verdicts(l, client, Answer, 1, 1000)
		l.sweepAll() // still limited: nothing ends
	}
	if got := logs.lines(`"limiting responses"`); len(got) != 1 || !strings.Contains(got[0], `"client":"192.0.2.0/24"`) || !strings.Contains(got[0], `"kind":"answer"`) {
		t.Fatalf("start lines: %q", got)
	}
	if got := logs.lines("ended"); len(got) != 0 {
		t.Fatalf("ended while flooding: %q", got)
	}
	l.clock.Store(3 + 3) // silent longer than the window
	l.sweepAll()
	s := l.Stats()
	want := fmt.Sprintf(`"duration":5,"slipped":%d,"dropped":%d`, s.Slipped, s.Dropped)
	if got := logs.lines(`"limiting ended"`); len(got) != 1 || !strings.Contains(got[0], want) {
		t.Errorf("end lines: %q, want one with %s", got, want)
	}
	if s.Slipped+s.Dropped != 3000-10 || s.Episodes != 1 {
		t.Errorf("stats %+v", s)
	}
	// A new flood is a new episode.
	verdicts(l, client, Answer, 1, 100)
	if got := logs.lines(`"limiting responses"`); len(got) != 2 {
		t.Errorf("start lines of two episodes: %q", got)
	}
}

// TestEpisodeLogBounded: a spoofer starting episodes from many networks
// gets a bounded number of log lines; the summary counts the rest.
func TestEpisodeLogBounded(t *testing.T) {
	l, logs := newLogged(t, Defaults(1))
	for i := range 1000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1})
		verdicts(l, a, Answer, 1, 2)
	}
	if got := logs.lines(`"limiting responses"`); len(got) != maxStartsLogged {
		t.Errorf("%d start lines in one second, want %d", len(got), maxStartsLogged)
	}
	if s := l.Stats(); s.Episodes != 1000 {
		t.Errorf("episodes %d, want 1000", s.Episodes)
	}
	l.summarize()
	if got := logs.lines(`"rate limiting summary"`); len(got) != 1 || !strings.Contains(got[0], `"episodes":1000,"episodes_not_logged":984`) {
		t.Errorf("summary %q", got)
	}
}

// TestLogOnly: every response passes, but what would have been limited is
// counted and logged.
func TestLogOnly(t *testing.T) {
	cfg := Defaults(5)
	cfg.LogOnly = true
	l, logs := newLogged(t, cfg)
	if got := verdicts(l, client, Answer, 1, 100); got[Pass] != 100 {
		t.Errorf("log only: %v", got)
	}
	if s := l.Stats(); s.WouldLimit != 95 || s.Slipped+s.Dropped != 0 || s.Passed != 5 {
		t.Errorf("stats %+v", s)
	}
	if got := logs.lines("would limit"); len(got) != 1 {
		t.Errorf("log lines %q", got)
	}
	l.clock.Store(100)
	l.sweepAll()
	if got := logs.lines(`"would_limit":95,"message":"would-limit episode ended (log only)"`); len(got) != 1 {
		t.Errorf("end lines %q", logs.lines("ended"))
	}
}

// TestEviction: the table never grows; many sources each under its rate do
// not free a limited one; a flood that keeps every account limited
// (thrashing the table) lets a limited source through at most at its rate.
func TestEviction(t *testing.T) {
	cfg := Defaults(5)
	cfg.TableSize = 64
	cfg.Slip = 0
	victim := netip.MustParseAddr("203.0.113.7")
	spoofed := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10 + byte(i>>16), byte(i >> 8), byte(i), 1}) }

	l := newTest(t, cfg)
	buckets := len(l.buckets)
	verdicts(l, victim, Answer, 1, 100)
	for sec := uint32(2); sec <= 10; sec++ {
		l.clock.Store(sec)
		for i := range 100_000 { // one response each: no account limited
			l.Check(spoofed(i), Answer, uint64(i))
		}
		if got := verdicts(l, victim, Answer, 1, 100); got[Pass] != 0 {
			t.Fatalf("second %d: 100,000 sources under their rate freed a limited one: %v", sec, got)
		}
	}
	if len(l.buckets) != buckets || cap(l.buckets) != buckets {
		t.Errorf("table grew from %d to %d buckets", buckets, len(l.buckets))
	}

	l = newTest(t, cfg)
	verdicts(l, victim, Answer, 1, 100)
	for sec := uint32(2); sec <= 10; sec++ {
		l.clock.Store(sec)
		passed := 0
		for i := range 2000 { // every account as deep in debt as the victim: it is evicted
			verdicts(l, spoofed(i), Answer, 1, 100)
			if i%20 == 0 {
				passed += verdicts(l, victim, Answer, 1, 1)[Pass]
			}
		}
		if passed > 5 {
			t.Errorf("second %d: a thrashed table let %d of the victim's responses through, more than its rate", sec, passed)
		}
	}
}

// TestNoAllocs: Check allocates nothing, passing or limiting (after the
// episode's start).
func TestNoAllocs(t *testing.T) {
	l := newTest(t, Defaults(10))
	six := netip.MustParseAddr("2001:db8::1")
	verdicts(l, six, Answer, 1, 100)
	for name, f := range map[string]func(){
		"pass":    func() { l.Check(client, Answer, uint64(time.Now().UnixNano())) },
		"limited": func() { l.Check(six, Answer, 1) },
		"exempt":  func() { l.Check(netip.MustParseAddr("127.0.0.1"), Answer, 1) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per Check", name, n)
		}
	}
}

// TestConcurrent: many workers checking while the clock moves and sweeps
// run (run it with -race): every response is counted once, and no source
// gets more than its rate.
func TestConcurrent(t *testing.T) {
	cfg := Defaults(50)
	cfg.TableSize = 256
	l := newTest(t, cfg)
	const workers, each, seconds = 8, 20_000, 5
	var wg sync.WaitGroup
	passed := make([]int, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				// Worker 0's network is shared by all; the others' are their own.
				a := netip.AddrFrom4([4]byte{192, 0, 2, byte(w)})
				if i%2 == 1 {
					a = netip.AddrFrom4([4]byte{10, byte(w), byte(i % 64), 1})
				}
				if l.Check(a, Answer, 1) == Pass && i%2 == 0 {
					passed[w]++
				}
			}
		})
	}
	wg.Go(func() {
		for sec := uint32(2); sec <= seconds; sec++ {
			l.clock.Store(sec)
			l.sweepAll()
		}
	})
	wg.Wait()
	s := l.Stats()
	if s.Passed+s.Slipped+s.Dropped != workers*each {
		t.Errorf("stats %+v add up to %d, want %d", s, s.Passed+s.Slipped+s.Dropped, workers*each)
	}
	total := 0
	for _, p := range passed {
		total += p
	}
	if max := 50 * seconds; total > max {
		t.Errorf("192.0.2.0/24 got %d responses in %d seconds at rate 50", total, seconds)
	}
}

// TestClock: New's clock moves and Close stops it (twice is fine).
func TestClock(t *testing.T) {
	l, err := New(Defaults(10), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for l.clock.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if l.clock.Load() < 2 {
		t.Error("the clock did not move in 30 s")
	}
	l.Close()
	l.Close()
}

// TestNil: a nil Limiter is rate limiting turned off.
func TestNil(t *testing.T) {
	var l *Limiter
	if got := verdicts(l, client, Answer, 1, 100); got[Pass] != 100 {
		t.Errorf("nil Limiter: %v", got)
	}
	if l.Stats() != (Stats{}) {
		t.Error("nil Limiter counted")
	}
	l.Close()
}

// TestUnknownKind: a kind out of range counts as an error.
func TestUnknownKind(t *testing.T) {
	cfg := Defaults(100)
	cfg.ErrorsPerSecond = 1
	l := newTest(t, cfg)
	if got := verdicts(l, client, Kind(200), 0, 3); got[Pass] != 1 {
		t.Errorf("kind 200 at the errors' rate of 1: %v", got)
	}
	if Kind(200).String() != "kind(200)" || Verdict(9).String() != "verdict(9)" || NXDomain.String() != "nxdomain" {
		t.Error("String")
	}
}

func TestConfigCheck(t *testing.T) {
	if err := func() *Config { c := Defaults(10); return &c }().Check(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.NXDomainsPerSecond = -1 }, "nxdomain rate -1 is out of range"},
		{func(c *Config) { c.ResponsesPerSecond = MaxRate + 1 }, "answer rate 100001"},
		{func(c *Config) { c.Window = 1500 * time.Millisecond }, "window 1.5s: must be whole seconds"},
		{func(c *Config) { c.Window = 0 }, "window 0s"},
		{func(c *Config) { c.Slip = 11 }, "slip 11"},
		{func(c *Config) { c.IPv4PrefixLen = 4 }, "IPv4 prefix length 4"},
		{func(c *Config) { c.IPv6PrefixLen = 129 }, "IPv6 prefix length 129"},
		{func(c *Config) { c.TableSize = 0 }, "table size 0"},
		{func(c *Config) { c.Exempt = []netip.Prefix{{}} }, "exempt prefix is not valid"},
	} {
		c := Defaults(10)
		tc.change(&c)
		if _, err := New(c, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

// TestEntrySize keeps the memory the README gives per account true.
func TestEntrySize(t *testing.T) {
	if got := unsafe.Sizeof(bucket{}); got != bucketEntries*bytesPerEntry {
		t.Errorf("a bucket of %d accounts takes %d bytes, not %d each", bucketEntries, got, bytesPerEntry)
	}
	l := newTest(t, Defaults(1))
	if got := uintptr(len(l.buckets)) * unsafe.Sizeof(bucket{}); got > 1_750_000 {
		t.Errorf("the default table takes %d bytes, the README says 1.7 MB", got)
	}
}
