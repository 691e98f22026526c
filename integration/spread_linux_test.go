package integration

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// spreadMembers is the pool the clients ask for, listed neither sorted nor
// in any order a resolver could keep by accident.
var spreadMembers = []string{
	"192.0.2.5", "192.0.2.3", "192.0.2.8", "192.0.2.1",
	"192.0.2.7", "192.0.2.2", "192.0.2.6", "192.0.2.4",
}

const (
	longTTL  = 300 // outlasts the test: every answer of the phase "within one TTL" comes from one fetch
	shortTTL = 2   // the phase "across TTLs" waits for each expiry; 2 s so that a poll sees the TTL go down
	subsetN  = 2   // max_answers of the subset pools
	// heavyMember weighs heavyWeight in the weighted pools, the others 1:
	// dnsrr puts it first in 5 of 12 answers, and in 68 % of the subsets.
	heavyMember = "192.0.2.6"
	heavyWeight = 5
	// spreadAlpha bounds the chance that one statistical check fails while
	// the answers are as random as they should be.
	spreadAlpha = 1e-6
)

// spreadParams say how much to ask; the script (integration/perf/resolvers.sh)
// raises them through the environment.
type spreadParams struct {
	kinds     []resolverKind
	resolvers int // of each kind
	clients   int // per resolver, each from a port of its own
	queries   int // per client, within one TTL
	rounds    int // TTL periods, each client asking once in each
}

func spreadParamsFromEnv(t *testing.T) spreadParams {
	t.Helper()
	p := spreadParams{resolvers: 3, clients: 20, queries: 5, rounds: 6}
	names := []string{"unbound", "unbound-fixed"}
	if v := os.Getenv("DNSRR_RESOLVERS"); v == "all" {
		names = nil
		for _, k := range resolverKinds {
			names = append(names, k.name)
		}
	} else if v != "" {
		names = strings.Split(v, ",")
	}
	for _, n := range names {
		k, ok := findResolverKind(strings.TrimSpace(n))
		if !ok {
			t.Fatalf("DNSRR_RESOLVERS: unknown resolver %q (known: %s, or all)", n, resolverNames(resolverKinds))
		}
		p.kinds = append(p.kinds, k)
	}
	// Each resolver is a process, each client a socket, each round a TTL.
	for _, e := range []struct {
		env string
		dst *int
		max int
	}{
		{"DNSRR_SPREAD_RESOLVERS", &p.resolvers, 20}, {"DNSRR_SPREAD_CLIENTS", &p.clients, 200},
		{"DNSRR_SPREAD_QUERIES", &p.queries, 100}, {"DNSRR_SPREAD_ROUNDS", &p.rounds, 100},
	} {
		if v := os.Getenv(e.env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > e.max {
				t.Fatalf("%s=%q: want a count from 1 to %d", e.env, v, e.max)
			}
			*e.dst = n
		}
	}
	return p
}

// TestResolverSpread asks recursive resolvers, each with its own cache,
// for a pool of 8 addresses that dnsrr serves behind a real delegation, and
// counts which address each client gets first and which addresses its
// answers hold: within one TTL (every answer from one fetch) and across
// TTLs (a fetch per period). It does so for a whole pool, a pool with
// max_answers = 2, both with one member weighing 5, and a sticky pool with
// max_answers = 2 (those the dnsrr under test accepts). It checks what each
// resolver does to order (README, "What caches do to order"), that a
// sticky pool's resolver keeps its members, and that what varies spreads
// as dnsrr draws it, as far as chance allows. The report goes to the test
// log and, with DNSRR_SPREAD_REPORT=FILE, to that file.
func TestResolverSpread(t *testing.T) {
	t.Parallel()
	p := spreadParamsFromEnv(t)
	pools := []spreadPool{{name: "whole"}}
	if acceptsPoolKeys(t, "max_answers = 2\nweights = { \"192.0.2.1\" = 2 }") {
		heavy := map[string]int{heavyMember: heavyWeight}
		pools = append(pools, spreadPool{name: "subset", maxAnswers: subsetN},
			spreadPool{name: "weighted", weights: heavy}, spreadPool{name: "weighted-subset", maxAnswers: subsetN, weights: heavy})
	} else {
		t.Log("this dnsrr does not accept max_answers and weights: only the whole pool is asked for")
	}
	if acceptsPoolKeys(t, "max_answers = 2\nsticky = \"client\"") {
		pools = append(pools, spreadPool{name: "sticky-subset", maxAnswers: subsetN, sticky: true})
	} else {
		t.Log("this dnsrr does not accept sticky: the sticky pool is left out")
	}
	c := startChain(t, spreadZone(pools), p.kinds, p.resolvers)
	var report strings.Builder
	fmt.Fprintf(&report, "Pool of %d addresses (%s), dnsrr behind a root delegation, %d resolvers of each kind, %d clients each.\n",
		len(spreadMembers), strings.Join(sortedAddrs(spreadMembers), " "), p.resolvers, p.clients)
	fmt.Fprintf(&report, "Within one TTL: %d queries per client (TTL %d s). Across TTLs: %d periods (TTL %d s), one query per client in each.\n",
		p.queries, longTTL, p.rounds, shortTTL)
	// Every kind and pool at once: the phases across TTLs mostly wait.
	type run struct {
		kind resolverKind
		pool spreadPool
		obs  []observation
	}
	var runs []*run
	var wg sync.WaitGroup
	for _, k := range p.kinds {
		var rs []*resolver
		for _, r := range c.resolvers {
			if r.kind.name == k.name {
				rs = append(rs, r)
			}
		}
		for _, pool := range pools {
			r := &run{kind: k, pool: pool}
			runs = append(runs, r)
			conns := make([][]net.Conn, len(rs))
			for i, res := range rs {
				conns[i] = c.ns.dialUDP(res.addr, p.clients+1)
			}
			wg.Go(func() { r.obs = observe(t, rs, conns, pool, p) })
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	var summary, weighted []string
	for _, r := range runs {
		checkSpreadObservations(t, r.kind, r.pool, r.obs)
		section, lines := spreadReport(r.kind, r.pool, r.obs)
		report.WriteString(section)
		if r.pool.weights != nil {
			weighted = append(weighted, lines...)
		} else {
			summary = append(summary, lines...)
		}
	}
	report.WriteString("\nSummary (shares of first places over all clients' answers; the worst resolver in brackets):\n\n")
	report.WriteString("| resolver | pool | phase | orders per resolver | addresses per answer | busiest backend | backends never first | second addresses per first |\n|---|---|---|---|---|---|---|---|\n")
	for _, l := range summary {
		report.WriteString(l + "\n")
	}
	if len(weighted) > 0 {
		fmt.Fprintf(&report, "\nWeighted pools (%s weighs %d, the others 1): where the heavy member got\n\n", heavyMember, heavyWeight)
		report.WriteString("| resolver | pool | phase | first places: dnsrr's share, clients' share | in answers: dnsrr's share, clients' share |\n|---|---|---|---|---|\n")
		for _, l := range weighted {
			report.WriteString(l + "\n")
		}
	}
	t.Log("\n" + report.String())
	if f := os.Getenv("DNSRR_SPREAD_REPORT"); f != "" {
		if err := os.WriteFile(f, []byte(report.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// spreadPool is a pool of spreadMembers, asked within one TTL as NAME
// and across TTLs as its twin NAME-2s; maxAnswers 0 is the whole pool, and
// members missing from weights weigh 1.
type spreadPool struct {
	name       string
	maxAnswers int
	weights    map[string]int
	sticky     bool // sticky = "client": each resolver keeps its members
}

func (p spreadPool) long() string  { return p.name + "." + chainOrigin }
func (p spreadPool) short() string { return p.name + "-2s." + chainOrigin }

func (p spreadPool) weight(m string) float64 {
	if w, ok := p.weights[m]; ok {
		return float64(w)
	}
	return 1
}

// firstShares is how often dnsrr puts each member first: its weight over
// the sum (order = "random").
func (p spreadPool) firstShares() map[string]float64 {
	total := 0.0
	for _, m := range spreadMembers {
		total += p.weight(m)
	}
	shares := map[string]float64{}
	for _, m := range spreadMembers {
		shares[m] = p.weight(m) / total
	}
	return shares
}

// memberShares is how often each member is in dnsrr's answer: the chance
// that a weighted draw of size() members without replacement (each draw
// picking among those left in proportion to weight) includes it, worked out
// over every sequence of draws.
func (p spreadPool) memberShares() map[string]float64 {
	shares := map[string]float64{}
	var draw func(taken uint, left float64, prob float64, depth int)
	draw = func(taken uint, left float64, prob float64, depth int) {
		if depth == p.size() {
			return
		}
		for i, m := range spreadMembers {
			if taken&(1<<i) != 0 {
				continue
			}
			pi := prob * p.weight(m) / left
			shares[m] += pi
			draw(taken|1<<i, left-p.weight(m), pi, depth+1)
		}
	}
	total := 0.0
	for _, m := range spreadMembers {
		total += p.weight(m)
	}
	draw(0, total, 1, 0)
	return shares
}

func (p spreadPool) size() int {
	if p.maxAnswers == 0 {
		return len(spreadMembers)
	}
	return p.maxAnswers
}

// acceptsPoolKeys tells whether `dnsrr check` accepts a pool with keys
// (TOML lines): max_answers, weights and sticky came after the whole pool.
func acceptsPoolKeys(t *testing.T, keys string) bool {
	t.Helper()
	zone := writeFile(t, t.TempDir(), "zone.toml", testZoneHeader(chainOrigin)+`
[pools.p]
addresses = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
`+keys+"\n")
	_, _, code := runDNSRR(t, "check", "-zone", zone)
	return code == 0
}

func spreadZone(pools []spreadPool) string {
	var b strings.Builder
	fmt.Fprintf(&b, `origin = %q
ttl = 300
ns = ["ns1"]

[soa]
serial = 1
minimum = 60

[records.ns1]
a = ["127.0.0.1"]
aaaa = ["::1"]
`, chainOrigin)
	list := `["` + strings.Join(spreadMembers, `", "`) + `"]`
	for _, p := range pools {
		for _, name := range []string{p.long(), p.short()} {
			ttl := longTTL
			if name == p.short() {
				ttl = shortTTL
			}
			fmt.Fprintf(&b, "\n[pools.%q]\naddresses = %s\nttl = %d\n", strings.TrimSuffix(name, "."+chainOrigin), list, ttl)
			if p.maxAnswers > 0 {
				fmt.Fprintf(&b, "max_answers = %d\n", p.maxAnswers)
			}
			if p.sticky {
				b.WriteString("sticky = \"client\"\n")
			}
			if len(p.weights) > 0 {
				var ws []string
				for _, m := range sortedAddrs(spreadMembers) {
					if w, ok := p.weights[m]; ok {
						ws = append(ws, fmt.Sprintf("%q = %d", m, w))
					}
				}
				fmt.Fprintf(&b, "weights = { %s }\n", strings.Join(ws, ", "))
			}
		}
	}
	return b.String()
}

// answer is the addresses of one answer, in the order received.
type answer struct {
	addrs []string
	ttl   uint32
}

// observation is what one resolver's clients got for one pool.
type observation struct {
	within  []answer // every client's answers within one TTL
	fetches []answer // across TTLs: the first answer after each new fetch
	across  []answer // across TTLs: every client's answer
}

// observe runs both phases for pool on every resolver of rs at once,
// through conns[i] (a probe, then the clients) for rs[i]. It may run on a
// goroutine of its own: it reports with t.Errorf only.
func observe(t *testing.T, rs []*resolver, conns [][]net.Conn, pool spreadPool, p spreadParams) []observation {
	obs := make([]observation, len(rs))
	errs := make([]error, len(rs))
	var wg sync.WaitGroup
	for i := range rs {
		wg.Go(func() { obs[i], errs[i] = observeResolver(conns[i][0], conns[i][1:], pool, p) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("%s: pool %s: %v", rs[i].d.name, pool.name, err)
		}
	}
	return obs
}

func observeResolver(probe net.Conn, clients []net.Conn, pool spreadPool, p spreadParams) (observation, error) {
	var o observation
	long, short := pool.long(), pool.short()
	// Within one TTL: the probe's query makes the one fetch, every later
	// answer comes from the cache.
	if _, err := askA(probe, long); err != nil {
		return o, err
	}
	for range p.queries {
		for _, c := range clients {
			a, err := askA(c, long)
			if err != nil {
				return o, err
			}
			o.within = append(o.within, a)
		}
	}
	// Across TTLs: the probe polls until the cached answer was fetched
	// anew (its TTL went up, or the addresses changed), then each client
	// asks once.
	last, err := askA(probe, short)
	if err != nil {
		return o, err
	}
	for range p.rounds {
		deadline := time.Now().Add(fetchTimeout)
		for {
			time.Sleep(100 * time.Millisecond)
			a, err := askA(probe, short)
			if err != nil {
				return o, err
			}
			fresh := a.ttl > last.ttl || !slices.Equal(sortedAddrs(a.addrs), sortedAddrs(last.addrs))
			last = a
			if fresh {
				o.fetches = append(o.fetches, a)
				break
			}
			if time.Now().After(deadline) {
				return o, fmt.Errorf("no new fetch of %s within %v (TTL %d s)", short, fetchTimeout, shortTTL)
			}
		}
		for _, c := range clients {
			a, err := askA(c, short)
			if err != nil {
				return o, err
			}
			o.across = append(o.across, a)
		}
	}
	return o, nil
}

// askA queries name's A records through a resolver, retrying a lost
// datagram twice.
func askA(conn net.Conn, name string) (answer, error) {
	var r *dns.Msg
	var err error
	for range 3 {
		if r, err = exchangeOn(conn, name, dns.TypeA, true); err == nil {
			break
		}
	}
	if err != nil {
		return answer{}, fmt.Errorf("%s: %w", name, err)
	}
	if r.Rcode != dns.RcodeSuccess {
		return answer{}, fmt.Errorf("%s: %s", name, dns.RcodeToString[r.Rcode])
	}
	var a answer
	for _, rr := range r.Answer {
		if rec, ok := rr.(*dns.A); ok {
			a.addrs = append(a.addrs, rec.A.String())
			a.ttl = rec.Hdr.Ttl
		}
	}
	if len(a.addrs) == 0 {
		return answer{}, fmt.Errorf("%s: no addresses", name)
	}
	return a, nil
}

// --- checks ----------------------------------------------------------------

// checkSpreadObservations holds each resolver to its kind's behaviour and
// the spread to what chance allows.
func checkSpreadObservations(t *testing.T, k resolverKind, pool spreadPool, obs []observation) {
	t.Helper()
	what := fmt.Sprintf("%s, pool %s", k.name, pool.name)
	var fetches, across, within []answer
	for i, o := range obs {
		who := fmt.Sprintf("%s #%d, pool %s", k.name, i+1, pool.name)
		for _, a := range slices.Concat(o.within, o.fetches, o.across) {
			if len(a.addrs) != pool.size() || !isSubset(a.addrs, spreadMembers) || hasDuplicate(a.addrs) {
				t.Fatalf("%s: answer %v: want %d distinct members of the pool", who, a.addrs, pool.size())
			}
		}
		// Within one TTL every answer comes from one fetch: one set.
		if sets := distinct(o.within, func(a answer) string { return key(sortedAddrs(a.addrs)) }); sets != 1 {
			t.Errorf("%s: %d different address sets within one TTL, want 1 (one cached answer)", who, sets)
		}
		// A sticky pool gives a resolver the same members in every TTL.
		if sets := distinct(slices.Concat(o.within, o.fetches), func(a answer) string { return key(sortedAddrs(a.addrs)) }); pool.sticky && sets != 1 {
			t.Errorf("%s: %d different address sets over %d TTLs, want 1 (sticky)", who, sets, len(o.fetches)+1)
		}
		switch k.behaviour {
		case keeps:
			if n := distinct(o.within, func(a answer) string { return key(a.addrs) }); n != 1 {
				t.Errorf("%s: %d orders within one TTL, want 1: the order fetched", who, n)
			}
		case rotates:
			if n := distinct(o.within, func(a answer) string { return rotationClass(a.addrs) }); n != 1 {
				t.Errorf("%s: within one TTL, answers are not all rotations of one order (%d classes)", who, n)
			}
		case sortRotates:
			for _, a := range slices.Concat(o.within, o.across) {
				if rotationClass(a.addrs) != rotationClass(sortedAddrs(a.addrs)) {
					t.Errorf("%s: answer %v is not a rotation of the sorted order", who, a.addrs)
					break
				}
			}
		case sorts:
			for _, a := range slices.Concat(o.within, o.across) {
				if !slices.Equal(a.addrs, sortedAddrs(a.addrs)) {
					t.Errorf("%s: answer %v is not sorted", who, a.addrs)
					break
				}
			}
		case shuffles:
			// Rotations of one order are one class; shuffles make many.
			if n := distinct(o.within, func(a answer) string { return rotationClass(a.addrs) }); pool.size() > 2 && n < 2 {
				t.Errorf("%s: within one TTL, every answer is a rotation of one order: not shuffled", who)
			}
		}
		within, fetches, across = append(within, o.within...), append(fetches, o.fetches...), append(across, o.across...)
	}

	// Spread. Each check is a binomial test with false-alarm rate
	// spreadAlpha, on counts whose draws are independent: fetches (each a
	// fresh answer from dnsrr), or answers a resolver orders afresh each time.
	if pool.sticky {
		return // fetches are not independent draws: each resolver keeps its members
	}
	if pool.maxAnswers > 0 {
		// Which members each fetch holds: dnsrr's draw, weighted or not.
		checkBinomial(t, what+", members of each fetch", presentCounts(fetches), len(fetches), pool.memberShares())
	}
	switch k.behaviour {
	case keeps:
		// Each fetch's first address is dnsrr's, weighted or not.
		checkBinomial(t, what+", first address of each fetch", firstCounts(fetches), len(fetches), pool.firstShares())
	case rotates, shuffles, sortRotates:
		if pool.maxAnswers == 0 {
			// Rotated or shuffled afresh for every answer: uniform, whatever
			// dnsrr's order and weights were.
			all := slices.Concat(within, across)
			checkBinomial(t, what+", first address of each answer", firstCounts(all), len(all), spreadPool{}.firstShares())
		}
	}
}

// checkBinomial checks that every member's count is a plausible draw of
// Binomial(n, p[member]): each bound is crossed by chance with probability
// at most spreadAlpha / (2 × members), so the whole check with at most
// spreadAlpha.
func checkBinomial(t *testing.T, what string, counts map[string]int, n int, p map[string]float64) {
	t.Helper()
	for _, m := range sortedAddrs(spreadMembers) {
		lo, hi := binomialBounds(n, p[m], spreadAlpha/float64(2*len(spreadMembers)))
		if c := counts[m]; c < lo || c > hi {
			t.Errorf("%s: %s counted %d times of %d, outside [%d, %d] (p = %.3f; chance of this with a fair draw < %g)",
				what, m, c, n, lo, hi, p[m], spreadAlpha)
		}
	}
}

// binomialBounds returns the smallest lo and largest hi with
// P(X < lo) ≤ alpha and P(X > hi) ≤ alpha for X ~ Binomial(n, p).
func binomialBounds(n int, p, alpha float64) (lo, hi int) {
	pmf := func(k int) float64 {
		lg := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
		return math.Exp(lg(n) - lg(k) - lg(n-k) + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
	}
	below := 0.0
	for lo = 0; lo < n; lo++ {
		if below+pmf(lo) > alpha {
			break
		}
		below += pmf(lo)
	}
	above := 0.0
	for hi = n; hi > 0; hi-- {
		if above+pmf(hi) > alpha {
			break
		}
		above += pmf(hi)
	}
	return lo, hi
}

// --- counting ----------------------------------------------------------------

func firstCounts(as []answer) map[string]int {
	m := map[string]int{}
	for _, a := range as {
		m[a.addrs[0]]++
	}
	return m
}

func presentCounts(as []answer) map[string]int {
	m := map[string]int{}
	for _, a := range as {
		for _, x := range a.addrs {
			m[x]++
		}
	}
	return m
}

func distinct(as []answer, keyOf func(answer) string) int {
	seen := map[string]bool{}
	for _, a := range as {
		seen[keyOf(a)] = true
	}
	return len(seen)
}

func key(addrs []string) string { return strings.Join(addrs, " ") }

// rotationClass names the rotations of an order: the rotation that starts
// at its lowest address.
func rotationClass(addrs []string) string {
	if len(addrs) == 0 {
		return ""
	}
	i := slices.Index(addrs, sortedAddrs(addrs)[0])
	return key(append(slices.Clone(addrs[i:]), addrs[:i]...))
}

// sortedAddrs sorts addresses numerically, as a resolver that sorts them
// by their wire form does.
func sortedAddrs(addrs []string) []string {
	s := slices.Clone(addrs)
	slices.SortFunc(s, func(a, b string) int {
		return netip.MustParseAddr(a).Compare(netip.MustParseAddr(b))
	})
	return s
}

func isSubset(addrs, of []string) bool {
	for _, a := range addrs {
		if !slices.Contains(of, a) {
			return false
		}
	}
	return true
}

func hasDuplicate(addrs []string) bool {
	s := sortedAddrs(addrs)
	return len(slices.Compact(s)) != len(addrs)
}

// --- report ----------------------------------------------------------------

// spreadReport prints, for one kind and pool, per resolver and in total,
// how often each address came first and how often it was in the answers,
// within one TTL and across TTLs; and the summary rows.
func spreadReport(k resolverKind, pool spreadPool, obs []observation) (string, []string) {
	var b strings.Builder
	poolDesc := "whole pool"
	if pool.maxAnswers > 0 {
		poolDesc = fmt.Sprintf("max_answers = %d", pool.maxAnswers)
	}
	if pool.weights != nil {
		poolDesc += ", weighted"
	}
	if pool.sticky {
		poolDesc += ", sticky"
	}
	fmt.Fprintf(&b, "\n== %s (%s; %s), %d resolvers; pool %s (%s)\n", k.name, k.setting, k.behaviour, len(obs), pool.name, poolDesc)
	var rows []string
	for _, phase := range []struct {
		name string
		of   func(observation) []answer
	}{
		{"within one TTL", func(o observation) []answer { return o.within }},
		{"across TTLs", func(o observation) []answer { return o.across }},
	} {
		per := make([][]answer, len(obs))
		var all []answer
		for i, o := range obs {
			per[i] = phase.of(o)
			all = append(all, per[i]...)
		}
		fmt.Fprintf(&b, "-- %s: %d answers\n", phase.name, len(all))
		b.WriteString(countTable(per, all))
		orders := make([]string, len(per))
		worst := 0.0
		for i, as := range per {
			orders[i] = strconv.Itoa(distinct(as, func(a answer) string { return key(a.addrs) }))
			worst = max(worst, busiest(as))
		}
		idle := len(spreadMembers) - len(firstCounts(all))
		fmt.Fprintf(&b, "orders seen per resolver: %s; busiest backend: %.0f%% of first places (worst resolver %.0f%%); backends never first: %d; second addresses per first: %.1f\n",
			strings.Join(orders, ", "), 100*busiest(all), 100*worst, idle, secondChoices(all))
		if pool.weights == nil {
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %d | %.0f%% (%.0f%%) | %d | %.1f |",
				k.name, poolDesc, phase.name, strings.Join(orders, ", "), pool.size(), 100*busiest(all), 100*worst, idle, secondChoices(all)))
			continue
		}
		share := func(counts map[string]int) float64 { return 100 * float64(counts[heavyMember]) / float64(len(all)) }
		fmt.Fprintf(&b, "%s (weight %d): first in %.0f%% of answers (dnsrr: %.0f%%), in %.0f%% (dnsrr: %.0f%%)\n", heavyMember, heavyWeight,
			share(firstCounts(all)), 100*pool.firstShares()[heavyMember], share(presentCounts(all)), 100*pool.memberShares()[heavyMember])
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %.0f%%, %.0f%% | %.0f%%, %.0f%% |", k.name, poolDesc, phase.name,
			100*pool.firstShares()[heavyMember], share(firstCounts(all)), 100*pool.memberShares()[heavyMember], share(presentCounts(all))))
	}
	if pool.maxAnswers > 0 {
		var fetches []answer
		for _, o := range obs {
			fetches = append(fetches, o.fetches...)
		}
		fmt.Fprintf(&b, "members of the %d fetches across TTLs:", len(fetches))
		counts := presentCounts(fetches)
		for _, m := range sortedAddrs(spreadMembers) {
			fmt.Fprintf(&b, " %s %d", m, counts[m])
		}
		b.WriteString("\n")
	}
	return b.String(), rows
}

// countTable lists, per address, the first places and presences per
// resolver and in total.
func countTable(per [][]answer, all []answer) string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("%-12s", "address"))
	for _, head := range []string{"first", "present"} {
		for i := range per {
			b.WriteString(fmt.Sprintf(" %6s", fmt.Sprintf("%s#%d", head[:1], i+1)))
		}
		b.WriteString(fmt.Sprintf(" %7s", head))
	}
	b.WriteString("\n")
	for _, m := range sortedAddrs(spreadMembers) {
		b.WriteString(fmt.Sprintf("%-12s", m))
		for _, count := range []func([]answer) map[string]int{firstCounts, presentCounts} {
			for _, as := range per {
				b.WriteString(fmt.Sprintf(" %6d", count(as)[m]))
			}
			b.WriteString(fmt.Sprintf(" %7d", count(all)[m]))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// secondChoices is how many different addresses came second after a given
// first address, on average over the first addresses: where a client whose
// first choice fails goes next. 1 means all of a backend's clients fail
// over to the same one.
func secondChoices(as []answer) float64 {
	next := map[string]map[string]bool{}
	for _, a := range as {
		if len(a.addrs) < 2 {
			continue
		}
		if next[a.addrs[0]] == nil {
			next[a.addrs[0]] = map[string]bool{}
		}
		next[a.addrs[0]][a.addrs[1]] = true
	}
	if len(next) == 0 {
		return 0
	}
	n := 0
	for _, s := range next {
		n += len(s)
	}
	return float64(n) / float64(len(next))
}

// busiest is the largest share of first places one address got.
func busiest(as []answer) float64 {
	if len(as) == 0 {
		return 0
	}
	top := 0
	for _, c := range firstCounts(as) {
		top = max(top, c)
	}
	return float64(top) / float64(len(as))
}

// TestBinomialBounds checks the bounds on sums worked out by hand:
// Binomial(10, 1/2) is 0 with probability 1/1024 and at most 1 with 11/1024.
func TestBinomialBounds(t *testing.T) {
	for _, c := range []struct {
		alpha  float64
		lo, hi int
	}{
		{0.0005, 0, 10}, // below 1/1024: no bound at all
		{0.001, 1, 9},   // 1/1024 ≤ 0.001 < 11/1024
		{0.011, 2, 8},   // 11/1024 ≤ 0.011
	} {
		if lo, hi := binomialBounds(10, 0.5, c.alpha); lo != c.lo || hi != c.hi {
			t.Errorf("binomialBounds(10, 0.5, %g) = %d, %d; want %d, %d", c.alpha, lo, hi, c.lo, c.hi)
		}
	}
}

// TestMemberShares checks the weighted draw's shares worked out by hand: a
// member of weight 5 among seven of weight 1 is drawn first with 5/12, or
// second after one of the others, 7 × 1/12 × 5/11: 15/22 in all.
func TestMemberShares(t *testing.T) {
	pool := spreadPool{maxAnswers: 2, weights: map[string]int{heavyMember: 5}}
	shares := pool.memberShares()
	if got := shares[heavyMember]; math.Abs(got-15.0/22) > 1e-12 {
		t.Errorf("share of the heavy member %v, want 15/22", got)
	}
	sum := 0.0
	for _, s := range shares {
		sum += s
	}
	if math.Abs(sum-2) > 1e-12 {
		t.Errorf("shares add up to %v, want 2 (members per answer)", sum)
	}
	if got := (spreadPool{}).memberShares()[heavyMember]; math.Abs(got-1) > 1e-9 {
		t.Errorf("whole pool: share %v, want 1", got)
	}
}
