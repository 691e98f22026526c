package dnsrr_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/zones"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// Subsets and weights (max_answers, weights): the same chi-square test as
// the shuffle's, on ordered choices. With max_answers = 2 of 5 members a
// response is one of 5·4 = 20 ordered pairs; uniform subsets make each
// equally likely, and weights make pair (i, j) come with probability
// w_i/W · w_j/(W − w_i) (successive sampling without replacement, which
// is what Efraimidis–Spirakis keys give). Those are the exact expected
// shares: not proportional to the weights once a weight exceeds 1/N of
// the total. Each test rejects at p = 10⁻⁶ (19 degrees of freedom), as the
// shuffle's test does (shuffle_test.go says why).

const (
	pairCells = 20
	// pairCritical is the 1 − 10⁻⁶ quantile of chi-square with 19 df.
	pairCritical = 63.677
	pairSamples  = 6000
)

var subsetMembers = []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"}

const subsetZone = `origin = "sub.test."
ns = ["ns1.sub.test."]

[soa]
serial = 1
minimum = 60

[records.ns1]
a = ["192.0.2.53"]

[records.alias]
cname = "uniform"

[pools.uniform]
addresses = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"]
max_answers = 2

[pools.weighted]
addresses = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"]
max_answers = 2
weights = { "192.0.2.1" = 8, "192.0.2.2" = 4, "192.0.2.3" = 2 }

[pools.first]
addresses = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"]
weights = { "192.0.2.1" = 8, "192.0.2.2" = 4, "192.0.2.3" = 2 }

[pools.fixed]
addresses = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"]
order = "fixed"
max_answers = 3
`

func subsetServer(t *testing.T) *dnsrr.Server {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub.test.toml")
	if err := os.WriteFile(path, []byte(subsetZone), 0o644); err != nil {
		t.Fatal(err)
	}
	snap, err := zones.Load([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	return dnsrr.New(nil, dnsrr.Chaos{}, snap, zerolog.Nop())
}

// pairCell is the cell of an ordered pair of distinct members.
func pairCell(tb testing.TB, got []string) (cell, first, second int) {
	tb.Helper()
	if len(got) != 2 {
		tb.Fatalf("answer holds %v, want 2 of %v", got, subsetMembers)
	}
	i, j := slices.Index(subsetMembers, got[0]), slices.Index(subsetMembers, got[1])
	if i < 0 || j < 0 || i == j {
		tb.Fatalf("answer holds %v, want 2 distinct of %v", got, subsetMembers)
	}
	c := i*4 + j
	if j > i {
		c--
	}
	return c, i, j
}

// pearson is the chi-square statistic of counts against expected shares.
func pearson(counts []int, shares []float64) float64 {
	n := 0
	for _, c := range counts {
		n += c
	}
	x := 0.0
	for i, c := range counts {
		e := shares[i] * float64(n)
		x += (float64(c) - e) * (float64(c) - e) / e
	}
	return x
}

func TestMaxAnswersSubsets(t *testing.T) {
	s := subsetServer(t)
	weights := []float64{8, 4, 2, 1, 1}
	total := 16.0
	uniform := make([]float64, pairCells)
	weighted := make([]float64, pairCells)
	for i := range 5 {
		for j := range 5 {
			if i == j {
				continue
			}
			c := i*4 + j
			if j > i {
				c--
			}
			uniform[c] = 1.0 / pairCells
			weighted[c] = weights[i] / total * weights[j] / (total - weights[i])
		}
	}
	for _, tc := range []struct {
		name, qname, owner string
		tr                 transport
		shares             []float64
	}{
		{"uniform/udp", "uniform.sub.test.", "uniform.sub.test.", udpFast, uniform},
		{"uniform/tcp", "uniform.sub.test.", "uniform.sub.test.", tcpHandler, uniform},
		{"after CNAME/udp", "alias.sub.test.", "uniform.sub.test.", udpFast, uniform},
		{"weighted/udp", "weighted.sub.test.", "weighted.sub.test.", udpFast, weighted},
		{"weighted/tcp", "weighted.sub.test.", "weighted.sub.test.", tcpHandler, weighted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counts := make([]int, pairCells)
			q := newQuery(tc.qname, dns.TypeA)
			for range pairSamples {
				r, _ := exchange(t, s, q, tc.tr)
				c, _, _ := pairCell(t, addressOrder(r, tc.owner))
				counts[c]++
			}
			if x := pearson(counts, tc.shares); x > pairCritical {
				t.Errorf("chi-square %.1f > %.3f (19 df, p = 10⁻⁶) over %d responses: counts per ordered pair %v",
					x, pairCritical, pairSamples, counts)
			} else {
				t.Logf("chi-square %.1f (critical %.3f)", x, pairCritical)
			}
		})
	}
}

// Weights without max_answers: the first address comes in proportion to
// its weight (4 df: the 1 − 10⁻⁶ quantile is 33.377), and every member is present.
func TestWeightsFirstPosition(t *testing.T) {
	s := subsetServer(t)
	shares := []float64{8.0 / 16, 4.0 / 16, 2.0 / 16, 1.0 / 16, 1.0 / 16}
	for _, tr := range []transport{udpFast, tcpHandler} {
		counts := make([]int, 5)
		q := newQuery("first.sub.test.", dns.TypeA)
		for range 4000 {
			r, _ := exchange(t, s, q, tr)
			got := addressOrder(r, "first.sub.test.")
			if len(got) != 5 {
				t.Fatalf("%v: answer holds %v, want all 5 members", tr, got)
			}
			counts[slices.Index(subsetMembers, got[0])]++
		}
		if x := pearson(counts, shares); x > 33.377 {
			t.Errorf("%v: chi-square %.1f > 33.377 (4 df, p = 10⁻⁶): first positions %v, want shares %v", tr, x, counts, shares)
		}
	}
}

// A fixed pool with max_answers serves its first members in file order.
func TestMaxAnswersFixed(t *testing.T) {
	s := subsetServer(t)
	for _, tr := range []transport{udpFast, tcpHandler} {
		r, _ := exchange(t, s, newQuery("fixed.sub.test.", dns.TypeA), tr)
		if got := addressOrder(r, "fixed.sub.test."); !slices.Equal(got, subsetMembers[:3]) {
			t.Errorf("%v: %v, want %v", tr, got, subsetMembers[:3])
		}
	}
}

// The cost of each pool policy per query on the UDP path (no allocation).
func BenchmarkPoolPolicies(b *testing.B) {
	path := filepath.Join(b.TempDir(), "sub.test.toml")
	if err := os.WriteFile(path, []byte(subsetZone), 0o644); err != nil {
		b.Fatal(err)
	}
	snap, err := zones.Load([]string{path})
	if err != nil {
		b.Fatal(err)
	}
	s := dnsrr.New(nil, dnsrr.Chaos{}, snap, zerolog.Nop())
	for _, pool := range []string{"uniform", "weighted", "first", "fixed"} {
		b.Run(pool, func(b *testing.B) {
			wire, err := newQuery(pool+".sub.test.", dns.TypeA).Pack()
			if err != nil {
				b.Fatal(err)
			}
			a := s.NewUDPAnswerer()
			b.ReportAllocs()
			for b.Loop() {
				if a.Answer(wire) == nil {
					b.Fatal("no answer")
				}
			}
		})
	}
}
