package dnsrr

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/zones"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// fakeHealth is a health view a test sets by hand: members down per check
// name (so that it answers alike for any snapshot of the same zones) and
// drained addresses.
type fakeHealth struct {
	mu      sync.Mutex
	down    map[downKey]bool
	drained map[netip.Addr]bool
	since   map[netip.Addr]time.Time // when members came up, for slow start
	weight  map[netip.Addr]int       // reported weights in percent; 100 if absent
}

type downKey struct {
	check string
	addr  netip.Addr
}

func newFakeHealth() *fakeHealth {
	return &fakeHealth{down: map[downKey]bool{}, drained: map[netip.Addr]bool{}, since: map[netip.Addr]time.Time{}, weight: map[netip.Addr]int{}}
}

func (f *fakeHealth) Up(c *zones.Check, a netip.Addr) bool {
	if c == nil {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.down[downKey{c.Name, a}]
}

func (f *fakeHealth) UpSince(c *zones.Check, a netip.Addr) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.since[a]
}

func (f *fakeHealth) Weight(c *zones.Check, a netip.Addr) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if w, ok := f.weight[a]; ok {
		return w
	}
	return 100
}

func (f *fakeHealth) Drained(a netip.Addr) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.drained[a.Unmap()]
}

// toggleDrain drains a, or undrains it if it was drained.
func (f *fakeHealth) toggleDrain(a netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.drained[a] {
		delete(f.drained, a)
	} else {
		f.drained[a] = true
	}
}

// toggleDown flips check's verdict on a.
func (f *fakeHealth) toggleDown(check string, a netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := downKey{check, a}
	f.down[k] = !f.down[k]
}

func (f *fakeHealth) Draining() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.drained) > 0
}

// healthZone has pools that share members (so one change touches several
// sets), both families, every policy, min_healthy counts and fractions,
// two checks, unchecked pools (drains only), CNAME chains to pools (one
// through a DNAME) and a wildcard pool. Members come from a small set of addresses.
func healthZone(t testing.TB) *zones.Snapshot {
	t.Helper()
	snap, err := zones.Load([]string{healthZonePath(t)})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// healthZonePath writes healthZone's file and returns its path.
func healthZonePath(t testing.TB) string {
	t.Helper()
	v4 := func(i int) string { return fmt.Sprintf("192.0.2.%d", i) }
	v6 := func(i int) string { return fmt.Sprintf("2001:db8::%d", i) }
	list := func(idx ...int) string {
		var out []string
		for _, i := range idx {
			if i < 0 {
				out = append(out, fmt.Sprintf("%q", v6(-i)))
			} else {
				out = append(out, fmt.Sprintf("%q", v4(i)))
			}
		}
		return "[" + strings.Join(out, ", ") + "]"
	}
	var b strings.Builder
	b.WriteString(`origin = "h.test."
ns = ["ns1"]
[soa]
serial = 1
[records.ns1]
a = ["192.0.2.250"]
[records.alias]
cname = "www"
[records.alias2]
cname = "alias"
[records.walias]
cname = "x.apps"
[records.old]
dname = "new"
[records.viadname]
cname = "x.old"
[records.static]
a = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
aaaa = ["2001:db8::1", "2001:db8::2"]
[checks.web]
type = "tcp"
port = 80
[checks.api]
type = "tcp"
port = 8080
`)
	pools := []struct{ name, addrs, extra string }{
		{"www", list(1, 2, 3, 4, -1, -2, -3), `check = "web"`},
		{"api", list(2, 3, 4, 5, -2, -3), `check = "api"` + "\nmin_healthy = 2"},
		{"none", list(1, 5, 6, -1, -4), `check = "web"` + "\non_all_down = \"none\"\nmin_healthy = 0.5"},
		{"fail", list(3, 6, -3, -4), `check = "api"` + "\non_all_down = \"servfail\""},
		{"mix", list(1, 2, 5, 6, -1, -4), `check = "api"` + "\nmin_healthy = 3"},
		{"plain", list(4, 5, 6, -2), ""},
		{"x.new", list(2, 6, -3), `check = "web"`},
		{"*.apps", list(1, 6, -1, -2), `check = "web"`},
		{"big", list(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18), `check = "web"` + "\nmin_healthy = 0.25"},
		{"deg", list(1, 2, 3, -1), `check = "web"` + "\nttl = 60\nttl_degraded = 5"},
		{"degdrain", list(4, 5, 6), `check = "api"` + "\nttl = 60\nttl_degraded = 5\nttl_degraded_drains = true\non_all_down = \"none\""},
		{"sticky", list(1, 2, 3, 4, -1, -2), `check = "web"` + "\nsticky = \"client\"\nweights = { \"192.0.2.1\" = 3 }"},
	}
	for _, p := range pools {
		fmt.Fprintf(&b, "[pools.%q]\naddresses = %s\n%s\n", p.name, p.addrs, p.extra)
	}
	path := filepath.Join(t.TempDir(), "h.test.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// healthAddrs are the addresses healthZone's members are drawn from.
func healthAddrs() []netip.Addr {
	var out []netip.Addr
	for i := 1; i <= 18; i++ {
		out = append(out, netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", i)))
	}
	for i := 1; i <= 4; i++ {
		out = append(out, netip.MustParseAddr(fmt.Sprintf("2001:db8::%d", i)))
	}
	return out
}

// healthNames are the names whose answers depend on health.
var healthNames = []string{"www", "api", "none", "fail", "mix", "plain", "static", "big",
	"alias", "alias2", "walias", "x.apps", "y.apps", "*.apps", "x.new", "x.old", "viadname"}

// A health change recomputes only the sets holding the changed addresses,
// in place, and drops only some templates: after any sequence of changes,
// every set must serve what a full recomputation serves, and the fast path
// must answer what the full path answers. Templates are built between
// changes (queries in random order), so stale ones would show.
func TestHealthChangedAtMatchesFullRecompute(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 9))
			snap := healthZone(t)
			h := newFakeHealth()
			var logs bytes.Buffer
			s := New(nil, Chaos{}, snap, zerolog.New(&logs))
			s.SetHealth(h)
			addrs := healthAddrs()
			checks := []string{"web", "api"}
			transitions := 0
			for step := range 150 {
				warmTemplates(t, s, rng)
				before := s.state.Load().policies()
				// One to three changes at once: a check's verdict on an
				// address, or a drain.
				var changed []netip.Addr
				for range 1 + rng.IntN(3) {
					a := addrs[rng.IntN(len(addrs))]
					if rng.IntN(3) == 0 {
						h.toggleDrain(a)
					} else {
						h.toggleDown(checks[rng.IntN(2)], a)
					}
					changed = append(changed, a)
				}
				s.HealthChangedAt(changed)
				after := s.state.Load().policies()
				for k := range after {
					if !before[k] {
						transitions++
					}
				}
				for k := range before {
					if !after[k] {
						transitions++
					}
				}
				compareWithFull(t, s, h, step)
				compareFastWithFull(t, s, step)
				if t.Failed() {
					return
				}
			}
			// Each policy transition is logged once, as the full path does.
			logged := strings.Count(logs.String(), "too few pool members up") +
				strings.Count(logs.String(), "pool has enough members up again")
			if logged != transitions {
				t.Errorf("logged %d policy transitions, want %d", logged, transitions)
			}
			if transitions == 0 {
				t.Errorf("no policy ever decided: the sequence tests too little")
			}
		})
	}
}

// warmTemplates queries some health-dependent names on the fast path.
func warmTemplates(t *testing.T, s *Server, rng *rand.Rand) {
	var wq wireQuery
	for range 6 {
		name := healthNames[rng.IntN(len(healthNames))] + ".h.test."
		qt := []uint16{dns.TypeA, dns.TypeAAAA}[rng.IntN(2)]
		pkt, err := new(dns.Msg).SetQuestion(name, qt).Pack()
		if err != nil {
			t.Fatal(err)
		}
		s.answerUDP(pkt, make([]byte, 0, 4096), &wq)
	}
}

// compareWithFull checks every pool set of s against a full recompute.
func compareWithFull(t *testing.T, s *Server, h Health, step int) {
	t.Helper()
	st := s.state.Load()
	want := filterPools(st.snap, h, st.policies(), zerolog.Nop())
	for _, z := range st.snap.Zones() {
		for p, set := range poolSets(z, allPools) {
			slot := setSlot(p, set.Type)
			got, exp := st.health[z].sets[slot].Load(), want[z].sets[slot].Load()
			if !sameServing(got, exp, set) || !samePolicy(got, exp) {
				t.Errorf("step %d: %s %s serves %s, a full recompute %s", step, p.Name,
					dns.TypeToString[set.Type], describe(got, set), describe(exp, set))
			}
		}
	}
}

func describe(hs *healthySet, set *zones.RRset) string {
	served, servfail := serving(hs, set)
	switch {
	case servfail:
		return "SERVFAIL"
	case served == nil:
		return "nothing"
	}
	var out []string
	for _, rr := range served.Records() {
		out = append(out, zones.AddrOf(rr).String())
	}
	return fmt.Sprintf("%v (policy %v)", out, hs != nil && hs.policy)
}

// compareFastWithFull checks the fast path's answers against the full
// path's for every health-dependent name.
func compareFastWithFull(t *testing.T, s *Server, step int) {
	t.Helper()
	var wq wireQuery
	for _, n := range healthNames {
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
			pkt, err := new(dns.Msg).SetQuestion(n+".h.test.", qt).Pack()
			if err != nil {
				t.Fatal(err)
			}
			got := s.answerUDP(pkt, make([]byte, 0, 4096), &wq)
			want := s.answerSlow(pkt, make([]byte, 0, 4096), new(wireQuery), true)
			if g, w := canonical(t, got), canonical(t, want); g != w {
				t.Errorf("step %d: %s %s:\nfast path:\n%s\nfull path:\n%s", step, n, dns.TypeToString[qt], g, w)
			}
		}
	}
}

// Queries racing with health changes never keep a stale template: once the
// changes stop, the fast path answers what the full path does. Run with
// -race, this also checks that sets are swapped, not modified.
func TestHealthChangedAtRacingQueries(t *testing.T) {
	snap := healthZone(t)
	h := newFakeHealth()
	s := New(nil, Chaos{}, snap, zerolog.Nop())
	s.SetHealth(h)
	addrs := healthAddrs()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			var wq wireQuery
			buf := make([]byte, 0, 4096)
			for {
				select {
				case <-stop:
					return
				default:
				}
				name := healthNames[rng.IntN(len(healthNames))] + ".h.test."
				pkt, _ := new(dns.Msg).SetQuestion(name, dns.TypeA).Pack()
				s.answerUDP(pkt, buf, &wq)
			}
		})
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for range 2000 {
		a := addrs[rng.IntN(len(addrs))]
		if rng.IntN(2) == 0 {
			h.toggleDrain(a)
		} else {
			h.toggleDown("web", a)
		}
		s.HealthChangedAt([]netip.Addr{a})
	}
	close(stop)
	wg.Wait()
	compareWithFull(t, s, h, -1)
	compareFastWithFull(t, s, -1)
}

// An address in no pool changes nothing, and a full recompute keeps the
// member index of an unchanged snapshot.
func TestHealthChangedAtUnknownAddress(t *testing.T) {
	s := New(nil, Chaos{}, healthZone(t), zerolog.Nop())
	s.SetHealth(newFakeHealth())
	st := s.state.Load()
	s.HealthChangedAt([]netip.Addr{netip.MustParseAddr("203.0.113.99")})
	if s.state.Load() != st {
		t.Error("a change of an address in no pool replaced the served state")
	}
	s.HealthChanged()
	if s.state.Load().index != st.index {
		t.Error("a full recompute of the same snapshot rebuilt the member index")
	}
	if !slices.IsSortedFunc(st.index.members, compareMember) {
		t.Error("member index not sorted")
	}
}

// An IPv4 address and its IPv4-mapped IPv6 form are one member for a
// drain, in every zone that holds either: a master file's name with
// several addresses is a pool (unchecked) and may hold the mapped form.
func TestHealthChangedAtMappedAcrossZones(t *testing.T) {
	dir := t.TempDir()
	master := filepath.Join(dir, "m.test.zone")
	if err := os.WriteFile(master, []byte(`$ORIGIN m.test.
$TTL 300
@    IN SOA ns1 hostmaster 1 3600 900 1209600 60
@    IN NS  ns1
ns1  IN A   192.0.2.53
www  IN A   192.0.2.1
www  IN A   192.0.2.2
www  IN AAAA ::ffff:192.0.2.1
www  IN AAAA 2001:db8::9
alias IN CNAME www
`), 0o644); err != nil {
		t.Fatal(err)
	}
	snap, err := zones.Load([]string{master, healthZonePath(t)})
	if err != nil {
		t.Fatal(err)
	}
	h := newFakeHealth()
	s := New(nil, Chaos{}, snap, zerolog.Nop())
	s.SetHealth(h)
	a := netip.MustParseAddr("192.0.2.1")
	names := []string{"www.m.test.", "alias.m.test.", "www.h.test.", "alias.h.test."}
	for step, drain := range []bool{true, false, true} {
		for _, n := range names { // build templates from the state before
			for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
				pkt, _ := new(dns.Msg).SetQuestion(n, qt).Pack()
				s.answerUDP(pkt, make([]byte, 0, 4096), &wireQuery{})
			}
		}
		h.mu.Lock()
		if drain {
			h.drained[a] = true
		} else {
			delete(h.drained, a)
		}
		h.mu.Unlock()
		// The prober reports either form; both must find every set.
		changed := a
		if step == 2 {
			changed = netip.AddrFrom16(a.As16())
		}
		s.HealthChangedAt([]netip.Addr{changed})
		compareWithFull(t, s, h, step)
		for _, n := range names {
			for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
				pkt, _ := new(dns.Msg).SetQuestion(n, qt).Pack()
				got := canonical(t, s.answerUDP(pkt, make([]byte, 0, 4096), &wireQuery{}))
				want := canonical(t, s.answerSlow(pkt, make([]byte, 0, 4096), new(wireQuery), true))
				if got != want {
					t.Errorf("step %d: %s %s:\nfast path:\n%s\nfull path:\n%s", step, n, dns.TypeToString[qt], got, want)
				}
				if drain && strings.Contains(got, "192.0.2.1\n") {
					t.Errorf("step %d: %s %s serves the drained 192.0.2.1:\n%s", step, n, dns.TypeToString[qt], got)
				}
			}
		}
	}
}

// Health changes racing with reloads: a change applies to whichever
// snapshot is served, and none is lost across a swap; queries racing with
// both keep no stale template.
func TestHealthChangedAtRacingSwaps(t *testing.T) {
	snaps := []*zones.Snapshot{healthZone(t), healthZone(t)}
	h := newFakeHealth()
	s := New(nil, Chaos{}, snaps[0], zerolog.Nop())
	s.SetHealth(h)
	addrs := healthAddrs()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // queries
		rng := rand.New(rand.NewPCG(3, 3))
		var wq wireQuery
		buf := make([]byte, 0, 4096)
		for {
			select {
			case <-stop:
				return
			default:
			}
			name := healthNames[rng.IntN(len(healthNames))] + ".h.test."
			pkt, _ := new(dns.Msg).SetQuestion(name, []uint16{dns.TypeA, dns.TypeAAAA}[rng.IntN(2)]).Pack()
			s.answerUDP(pkt, buf, &wq)
		}
	})
	wg.Go(func() { // reloads
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			s.Swap(snaps[i%2])
		}
	})
	rng := rand.New(rand.NewPCG(5, 5))
	for range 500 {
		a := addrs[rng.IntN(len(addrs))]
		if rng.IntN(2) == 0 {
			h.toggleDrain(a)
		} else {
			h.toggleDown([]string{"web", "api"}[rng.IntN(2)], a)
		}
		s.HealthChangedAt([]netip.Addr{a})
	}
	close(stop)
	wg.Wait()
	compareWithFull(t, s, h, -1)
	compareFastWithFull(t, s, -1)
}

// ttl_degraded: the pool's answers carry it while a member is down, on
// both paths; a drain lowers it only with ttl_degraded_drains; recovery
// restores the pool's TTL.
func TestTTLDegraded(t *testing.T) {
	s := New(nil, Chaos{}, healthZone(t), zerolog.Nop())
	h := newFakeHealth()
	s.SetHealth(h)
	ttls := func(name string) (fast, full uint32) {
		t.Helper()
		pkt, err := new(dns.Msg).SetQuestion(name, dns.TypeA).Pack()
		if err != nil {
			t.Fatal(err)
		}
		var wq wireQuery
		for i, out := range [][]byte{s.answerUDP(pkt, make([]byte, 0, 4096), &wq), s.answerSlow(pkt, make([]byte, 0, 4096), new(wireQuery), true)} {
			m := new(dns.Msg)
			if err := m.Unpack(out); err != nil || len(m.Answer) == 0 {
				t.Fatalf("%s: no answer (%v)", name, err)
			}
			for _, rr := range m.Answer {
				if rr.Header().Ttl != m.Answer[0].Header().Ttl {
					t.Fatalf("%s: mixed TTLs in %v", name, m.Answer)
				}
			}
			if i == 0 {
				fast = m.Answer[0].Header().Ttl
			} else {
				full = m.Answer[0].Header().Ttl
			}
		}
		return fast, full
	}
	want := func(step, name string, ttl uint32) {
		t.Helper()
		if fast, full := ttls(name); fast != ttl || full != ttl {
			t.Errorf("%s: %s TTL %d (fast path) and %d (full path), want %d", step, name, fast, full, ttl)
		}
	}
	want("all up", "deg.h.test.", 60)
	want("all up", "degdrain.h.test.", 60)

	a2 := netip.MustParseAddr("192.0.2.2")
	h.toggleDown("web", a2)
	s.HealthChangedAt([]netip.Addr{a2})
	want("one down", "deg.h.test.", 5)

	a4 := netip.MustParseAddr("192.0.2.4")
	h.toggleDrain(a4)
	s.HealthChangedAt([]netip.Addr{a4})
	want("one drained", "degdrain.h.test.", 5)
	h.toggleDrain(a4)
	s.HealthChangedAt([]netip.Addr{a4})
	want("undrained", "degdrain.h.test.", 60)

	// Every member down and on_all_down = "all": all served, degraded.
	for _, a := range []string{"192.0.2.1", "192.0.2.3"} {
		h.toggleDown("web", netip.MustParseAddr(a))
		s.HealthChangedAt([]netip.Addr{netip.MustParseAddr(a)})
	}
	want("all down", "deg.h.test.", 5)

	for _, a := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		h.toggleDown("web", netip.MustParseAddr(a))
		s.HealthChangedAt([]netip.Addr{netip.MustParseAddr(a)})
	}
	want("recovered", "deg.h.test.", 60)
}

// slow_start: a member that came up a quarter of the ramp ago has a
// quarter of its weight (first position, chi-square with 1 df at p =
// 10⁻⁶: 23.93), Ramping lists its pool while it lasts, and once it is over
// the weights are whole again.
func TestSlowStart(t *testing.T) {
	zone := `origin = "ss.test."
ns = ["ns1.ss.test."]
[soa]
serial = 1
[records.ns1]
a = ["192.0.2.53"]
[checks.web]
type = "tcp"
port = 80
[pools.www]
addresses = ["192.0.2.1", "192.0.2.2"]
check = "web"
slow_start = "60s"
`
	s := tomlServer(t, "ss.test.toml", zone)
	h := newFakeHealth()
	s.SetHealth(h)
	a1, a2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	if r := s.Ramping(); len(r) != 0 {
		t.Fatalf("ramping %v with no member in slow start", r)
	}
	h.mu.Lock()
	h.since[a2] = time.Now().Add(-15 * time.Second)
	h.mu.Unlock()
	s.HealthChangedAt([]netip.Addr{a2})
	if r := s.Ramping(); !slices.Equal(r, []netip.Addr{a1, a2}) {
		t.Errorf("ramping %v, want the pool's members", r)
	}
	pkt, _ := new(dns.Msg).SetQuestion("www.ss.test.", dns.TypeA).Pack()
	for _, path := range []string{"fast", "full"} {
		firsts := 0
		const n = 4000
		for range n {
			var out []byte
			if path == "fast" {
				out = s.answerUDP(pkt, make([]byte, 0, 512), new(wireQuery))
			} else {
				out = s.answerSlow(pkt, make([]byte, 0, 512), new(wireQuery), true)
			}
			m := new(dns.Msg)
			if err := m.Unpack(out); err != nil || len(m.Answer) != 2 {
				t.Fatalf("answer %v (%v)", m, err)
			}
			if zones.AddrOf(m.Answer[0]) == a2 {
				firsts++
			}
		}
		// About 25/125 = 0.2 (the 15 s already elapsed may move it a hair).
		e := 0.2 * n
		if x := (float64(firsts)-e)*(float64(firsts)-e)/e + (float64(n-firsts)-(n-e))*(float64(n-firsts)-(n-e))/(n-e); x > 23.93 {
			t.Errorf("%s path: the member in slow start came first %d of %d times, want about %v (chi-square %.1f)", path, firsts, n, e, x)
		}
	}
	h.mu.Lock()
	h.since[a2] = time.Now().Add(-61 * time.Second)
	h.mu.Unlock()
	s.HealthChangedAt(s.Ramping())
	if r := s.Ramping(); len(r) != 0 {
		t.Errorf("still ramping %v after the ramp", r)
	}
}

// Reported weights (weight_header) scale the configured ones: a member of
// weight 2 that reports 25% comes first with the share of weight 0.5
// (chi-square with 1 df at p = 10⁻⁶: 23.93), on both paths; at 0% it
// leaves the answers while others are up, and is served again, as a
// drained member is, when they are all down.
func TestReportedWeight(t *testing.T) {
	zone := `origin = "rw.test."
ns = ["ns1.rw.test."]
[soa]
serial = 1
[records.ns1]
a = ["192.0.2.53"]
[checks.web]
type = "http"
weight_header = "X-Weight"
[pools.www]
addresses = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
check = "web"
weights = { "192.0.2.1" = 2 }
`
	s := tomlServer(t, "rw.test.toml", zone)
	h := newFakeHealth()
	s.SetHealth(h)
	a1, a2, a3 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	setWeight := func(a netip.Addr, pct int) {
		h.mu.Lock()
		h.weight[a] = pct
		h.mu.Unlock()
		s.HealthChangedAt([]netip.Addr{a})
	}
	pkt, _ := new(dns.Msg).SetQuestion("www.rw.test.", dns.TypeA).Pack()
	answer := func(path string) []netip.Addr {
		var out []byte
		if path == "fast" {
			out = s.answerUDP(pkt, make([]byte, 0, 512), new(wireQuery))
		} else {
			out = s.answerSlow(pkt, make([]byte, 0, 512), new(wireQuery), true)
		}
		m := new(dns.Msg)
		if err := m.Unpack(out); err != nil {
			t.Fatalf("answer: %v", err)
		}
		var addrs []netip.Addr
		for _, rr := range m.Answer {
			addrs = append(addrs, zones.AddrOf(rr))
		}
		return addrs
	}
	share := func(what string, p float64) {
		t.Helper()
		for _, path := range []string{"fast", "full"} {
			firsts := 0
			const n = 4000
			for range n {
				if got := answer(path); len(got) != 3 {
					t.Fatalf("%s: answer %v, want the 3 members", what, got)
				} else if got[0] == a1 {
					firsts++
				}
			}
			e := p * n
			if x := (float64(firsts)-e)*(float64(firsts)-e)/e + (float64(n-firsts)-(n-e))*(float64(n-firsts)-(n-e))/(n-e); x > 23.93 {
				t.Errorf("%s, %s path: 192.0.2.1 came first %d of %d times, want about %v (chi-square %.1f)", what, path, firsts, n, e, x)
			}
		}
	}
	share("100%", 2.0/4)
	setWeight(a1, 25)
	share("25%", 0.5/2.5)
	setWeight(a1, 100)
	share("100% again", 2.0/4)

	setWeight(a1, 0)
	for _, path := range []string{"fast", "full"} {
		for range 200 {
			if got := answer(path); len(got) != 2 || slices.Contains(got, a1) {
				t.Fatalf("0%%, %s path: answer %v, want 192.0.2.1 withdrawn", path, got)
			}
		}
	}
	if s.Answers("www.rw.test.", a1) {
		t.Error("Answers says 192.0.2.1 at 0% is served")
	}
	h.toggleDown("web", a2)
	h.toggleDown("web", a3)
	s.HealthChangedAt([]netip.Addr{a2, a3})
	if got := answer("full"); !slices.Equal(got, []netip.Addr{a1}) {
		t.Errorf("the others down: answer %v, want the member at 0%% (up, like a drained one)", got)
	}
}
