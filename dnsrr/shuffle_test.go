package dnsrr_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/zones"
	"github.com/miekg/dns"
)

// Shuffling (issue 3): every response to a random pool is a fresh,
// uniformly random permutation; cyclic pools rotate one step per response;
// fixed pools keep file order; and serving never reorders the zone's own
// records.

// The uniformity test is Pearson's chi-square goodness-of-fit test.
//
// A 4-address pool has 4! = 24 orders. Under the null hypothesis (the
// shuffle is uniform) each of N responses falls in each order with
// probability 1/24, so each cell expects E = N/24 responses and
//
//	X² = Σ (observed − E)² / E
//
// over the 24 cells follows a chi-square distribution with 24 − 1 = 23
// degrees of freedom (the counts sum to N, which removes one). We reject
// uniformity when X² exceeds the 1 − 10⁻⁶ quantile of that distribution,
// 70.550: a correct shuffle fails this test one run in a million (the
// false-alarm rate p = 10⁻⁶), whatever N. Every statistical test of the
// package rejects at that rate, so that the few dozen of them, each run
// twice by CI (plain and under the race detector), fail a correct server
// about once in ten thousand runs of the suite rather than once in a few
// dozen (at p = 0.001 a run of CI did fail on a correct shuffle).
//
// N sets the power. The approximation wants E ≥ 5; we take E = 250 (≥ 200
// asked for), N = 6000, so that realistic bugs fail by a wide margin: a
// frozen or cached order puts all N in one cell (X² = 23·N = 138000); the
// classic naive shuffle (swap each position with any position: n^n paths
// over n! orders) gives X² ≈ 200 on average (TestChiSquareDetectsNaiveShuffle
// checks it is caught, on a seeded generator); an order that never moves
// the first record gives X² = 3·N = 18000.
const (
	chiCells    = 24
	chiExpected = 250
	chiSamples  = chiCells * chiExpected
	// chiCritical is the 1 − 10⁻⁶ quantile of chi-square with 23 df.
	chiCritical = 70.550
)

// chiSquare is Pearson's statistic for counts against a uniform
// expectation.
func chiSquare(counts []int) float64 {
	n := 0
	for _, c := range counts {
		n += c
	}
	e := float64(n) / float64(len(counts))
	x := 0.0
	for _, c := range counts {
		d := float64(c) - e
		x += d * d / e
	}
	return x
}

// permIndex maps each order of 0..3 to a cell 0..23.
var permIndex = func() map[[4]int]int {
	m := map[[4]int]int{}
	var gen func(p []int, k int)
	gen = func(p []int, k int) {
		if k == len(p) {
			m[[4]int(p)] = len(m)
			return
		}
		for i := k; i < len(p); i++ {
			p[k], p[i] = p[i], p[k]
			gen(p, k+1)
			p[k], p[i] = p[i], p[k]
		}
	}
	gen([]int{0, 1, 2, 3}, 0)
	return m
}()

// wwwOrder is the file order of the www pool.
var wwwOrder = []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"}

// addressOrder returns the addresses of the A records in the answer owned
// by owner, in answer order.
func addressOrder(r *dns.Msg, owner string) []string {
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok && dns.CanonicalName(a.Hdr.Name) == owner {
			out = append(out, a.A.String())
		}
	}
	return out
}

// cellOf returns the permutation cell of an order of the file order, or
// fails when the answer is not a permutation of it.
func cellOf(tb testing.TB, got, file []string) int {
	tb.Helper()
	if len(got) != len(file) {
		tb.Fatalf("answer holds %v, want a permutation of %v", got, file)
	}
	var p [4]int
	for i, a := range got {
		p[i] = slices.Index(file, a)
		if p[i] < 0 {
			tb.Fatalf("answer holds %v, want a permutation of %v", got, file)
		}
	}
	c, ok := permIndex[p]
	if !ok {
		tb.Fatalf("answer holds %v, want a permutation of %v", got, file)
	}
	return c
}

func TestShuffleUniform(t *testing.T) {
	s := newServer(t, dnsrr.Chaos{})
	for _, tc := range []struct {
		name  string
		qname string
		tr    transport
	}{
		// UDP answers come from the fast path: udpFast fails if it declines.
		{"direct/udp", name("www"), udpFast},
		{"direct/tcp", name("www"), tcpHandler},
		{"after CNAME/udp", name("alias"), udpFast},
		{"after CNAME/tcp", name("alias"), tcpHandler},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counts := make([]int, chiCells)
			q := newQuery(tc.qname, dns.TypeA)
			for range chiSamples {
				r, _ := exchange(t, s, q, tc.tr)
				counts[cellOf(t, addressOrder(r, name("www")), wwwOrder)]++
			}
			if x := chiSquare(counts); x > chiCritical {
				t.Errorf("chi-square %.1f > %.3f (23 df, p = 10⁻⁶) over %d responses: the order is not uniform; counts per permutation %v",
					x, chiCritical, chiSamples, counts)
			} else {
				t.Logf("chi-square %.1f (critical %.3f)", x, chiCritical)
			}
		})
	}
}

// TestChiSquareDetectsNaiveShuffle checks the test's power on a known bias:
// swapping each position with a uniformly chosen one of all n positions
// makes 4^4 = 256 equally likely paths onto 24 orders, which cannot all be
// equally likely. The generator is seeded, so the test is deterministic.
func TestChiSquareDetectsNaiveShuffle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	counts := make([]int, chiCells)
	for range chiSamples {
		p := []int{0, 1, 2, 3}
		for i := range p {
			j := rng.IntN(len(p))
			p[i], p[j] = p[j], p[i]
		}
		counts[permIndex[[4]int(p)]]++
	}
	if x := chiSquare(counts); x <= chiCritical {
		t.Errorf("chi-square %.1f does not reject the naive shuffle: the sample is too small", x)
	}
}

// TestShuffleAddsNoBias runs the shuffle itself, without the server, on a
// large sample for a tighter check of the Fisher–Yates implementation.
func TestShuffleAddsNoBias(t *testing.T) {
	rrs := make([]dns.RR, 4)
	for i := range rrs {
		rrs[i] = &dns.A{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeA, Class: dns.ClassINET}, A: []byte{192, 0, 2, byte(i)}}
	}
	counts := make([]int, chiCells)
	for range 4 * chiSamples {
		work := slices.Clone(rrs)
		dnsrr.Shuffle(work)
		var p [4]int
		for i, rr := range work {
			p[i] = int(rr.(*dns.A).A[3])
		}
		counts[permIndex[p]]++
	}
	if x := chiSquare(counts); x > chiCritical {
		t.Errorf("chi-square %.1f > %.3f: shuffle is not uniform; counts %v", x, chiCritical, counts)
	}
}

// rotation returns k such that got is file rotated left by k, or -1.
func rotation(got, file []string) int {
	for k := range file {
		if slices.Equal(got, append(slices.Clone(file[k:]), file[:k]...)) {
			return k
		}
	}
	return -1
}

// TestCyclicRotates: each response to a cyclic pool is the previous one
// rotated by one step, whichever transport carries it (the counter belongs
// to the pool, not to a path or connection).
func TestCyclicRotates(t *testing.T) {
	s := newServer(t, dnsrr.Chaos{})
	file := []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"}
	q := newQuery(name("cyc"), dns.TypeA)
	first := -1
	for i := range 3 * len(file) * len(allTransports) {
		tr := allTransports[i%len(allTransports)]
		r, _ := exchange(t, s, q, tr)
		got := addressOrder(r, name("cyc"))
		k := rotation(got, file)
		if k < 0 {
			t.Fatalf("response %d over %v: %v is not a rotation of %v", i, tr, got, file)
		}
		if first < 0 {
			first = k
		}
		if want := (first + i) % len(file); k != want {
			t.Errorf("response %d over %v: rotation %d (%v), want %d", i, tr, k, got, want)
		}
	}
}

// TestFixedKeepsFileOrder: a fixed pool is always served in file order.
func TestFixedKeepsFileOrder(t *testing.T) {
	s := newServer(t, dnsrr.Chaos{})
	file := []string{"198.51.100.11", "198.51.100.12", "198.51.100.13", "198.51.100.14"}
	q := newQuery(name("fix"), dns.TypeA)
	for i := range 30 {
		for _, tr := range allTransports {
			r, _ := exchange(t, s, q, tr)
			if got := addressOrder(r, name("fix")); !slices.Equal(got, file) {
				t.Fatalf("response %d over %v: %v, want file order %v", i, tr, got, file)
			}
		}
	}
}

// fingerprint records every record a snapshot holds, by identity and by
// content, so that any change made while serving shows.
func fingerprint(snap *zones.Snapshot) []string {
	var out []string
	add := func(where string, rrs []dns.RR) {
		for i, rr := range rrs {
			out = append(out, fmt.Sprintf("%s[%d] %p %s", where, i, rr, rr.String()))
		}
	}
	for _, z := range snap.Zones() {
		add(z.Origin+" negative", z.Negative)
		for _, n := range z.Nodes() {
			for _, set := range n.Sets {
				where := n.Name + " " + dns.TypeToString[set.Type]
				add(where, set.Records())
				add(where+" additional", set.Additional)
			}
		}
	}
	return out
}

// TestServingNeverMutatesZone: answers reorder copies, never the zone's
// RRset slices, which every query shares (zones.RRset's contract).
func TestServingNeverMutatesZone(t *testing.T) {
	s := newServer(t, dnsrr.Chaos{})
	before := fingerprint(s.Snapshot())
	queries := []*dns.Msg{
		newQuery(name("www"), dns.TypeA), newQuery(name("alias2"), dns.TypeA), newQuery(name("cyc"), dns.TypeA),
		newQuery(name("fix"), dns.TypeA), newQuery(name("dual"), dns.TypeAAAA), newQuery(name("x.wild"), dns.TypeA),
		newQuery(name("foo.cw"), dns.TypeA), newQuery(name("sub"), dns.TypeA), newQuery(name(""), dns.TypeNS),
		newQuery(name("heavy"), dns.TypeMX), newQuery(name("big"), dns.TypeA), newQuery(name("huge"), dns.TypeA),
		newQuery(name("www"), dns.TypeANY), newQuery("WWW.RR.TEST.", dns.TypeA), newQuery(name("nope"), dns.TypeA),
	}
	edns := newQuery(name("www"), dns.TypeA)
	withEDNS(edns, 1232).SetDo()
	queries = append(queries, edns)
	for range 100 {
		for _, q := range queries {
			for _, tr := range allTransports {
				exchange(t, s, q, tr)
			}
		}
	}
	after := fingerprint(s.Snapshot())
	if !slices.Equal(before, after) {
		for i := range min(len(before), len(after)) {
			if before[i] != after[i] {
				t.Errorf("zone data changed by serving:\n before %s\n after  %s", before[i], after[i])
				break
			}
		}
		t.Errorf("zone data changed by serving (%d records before, %d after)", len(before), len(after))
	}
}

// TestConcurrentQueries serves one pool from many goroutines at once: every
// reply must still be a whole permutation (no torn shared buffers), and the
// race detector (go test -race) sees any unsynchronised sharing.
func TestConcurrentQueries(t *testing.T) {
	s := newServer(t, dnsrr.Chaos{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				qname := name("www")
				if i%2 == 1 {
					qname = name("alias")
				}
				tr := allTransports[(g+i)%len(allTransports)]
				r, _, err := tryExchange(s, newQuery(qname, dns.TypeA), tr)
				if err != nil {
					t.Error(err)
					return
				}
				got := addressOrder(r, name("www"))
				if sorted := slices.Sorted(slices.Values(got)); !slices.Equal(sorted, wwwOrder) {
					t.Errorf("%s over %v: %v is not a permutation of %v", qname, tr, got, wwwOrder)
					return
				}
			}
		})
	}
	wg.Wait()
}
