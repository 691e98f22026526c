package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// Shuffle statistics.
//
// Hypothesis H0: each response carries the 4 addresses of a `random` pool
// in one of the 4! = 24 orders, each with probability 1/24, independently
// of earlier responses (issue 3: Fisher–Yates, no `% n` bias, no cached
// packed answer).
//
// We draw N responses and count each order: O_1..O_24, expected E = N/24
// each. Pearson's statistic X² = Σ (O_i − E)² / E follows, under H0, a
// chi-square distribution with 24 − 1 = 23 degrees of freedom; the
// approximation is good once every E ≥ 5, and we take E = 200.
//
// We reject H0 when X² > 70.550, the 1 − 10⁻⁶ quantile of χ²(23): a
// correct server fails this test with probability p = 10⁻⁶ per run (a
// fixed false-alarm rate, not a tuned threshold, as small as this so that
// the suite's many statistical tests, run twice by CI, seldom fail a
// correct server). The power is high for the
// defects that matter: a frozen or cached order gives X² = 23·N = 110 400;
// a rotation-only "shuffle" (4 of 24 orders) 5·N = 24 000; the classic
// naive shuffle (swap a[i] with a[rand % n] for every i, 256 equally likely
// paths onto 24 orders) an expected X² ≈ 166. The test reports X² and the
// counts so a failure can be judged by eye.
const (
	permCount        = 24     // 4!
	expectedPerCell  = 200    // E
	chiSquareCrit23  = 70.550 // χ²(23) 1 − 10⁻⁶ quantile, p = 10⁻⁶
	shuffleQueryPlan = permCount * expectedPerCell
)

// permutations returns every order of items.
func permutations(items []string) [][]string {
	if len(items) <= 1 {
		return [][]string{slices.Clone(items)}
	}
	var out [][]string
	for i := range items {
		rest := slices.Concat(items[:i:i], items[i+1:])
		for _, p := range permutations(rest) {
			out = append(out, append([]string{items[i]}, p...))
		}
	}
	return out
}

// orderCounter tallies the address order of each response.
type orderCounter struct {
	addrs  []string // the pool, sorted
	counts map[string]int
	n      int
}

func newOrderCounter(addrs []string) *orderCounter {
	s := slices.Clone(addrs)
	slices.Sort(s)
	return &orderCounter{addrs: s, counts: map[string]int{}}
}

// add records one response's order, failing on a wrong address set: a
// shuffle that loses or repeats an address is not a permutation.
func (c *orderCounter) add(t *testing.T, got []string) {
	t.Helper()
	sorted := slices.Clone(got)
	slices.Sort(sorted)
	if !slices.Equal(sorted, c.addrs) {
		t.Fatalf("response %d holds %v, want a permutation of %v", c.n, got, c.addrs)
	}
	c.counts[strings.Join(got, " ")]++
	c.n++
}

// chiSquare computes Pearson's X² over every permutation, unseen ones
// counting as 0.
func (c *orderCounter) chiSquare() float64 {
	perms := permutations(c.addrs)
	e := float64(c.n) / float64(len(perms))
	x2 := 0.0
	for _, p := range perms {
		d := float64(c.counts[strings.Join(p, " ")]) - e
		x2 += d * d / e
	}
	return x2
}

func (c *orderCounter) checkUniform(t *testing.T) {
	t.Helper()
	x2 := c.chiSquare()
	t.Logf("%d responses, %d distinct orders, X² = %.2f (reject above %.3f)", c.n, len(c.counts), x2, chiSquareCrit23)
	if x2 > chiSquareCrit23 {
		var lines []string
		for _, p := range permutations(c.addrs) {
			k := strings.Join(p, " ")
			lines = append(lines, fmt.Sprintf("  %-60s %d", k, c.counts[k]))
		}
		t.Errorf("order is not uniformly random: X² = %.2f > %.3f (p < 10⁻⁶)\n%s", x2, chiSquareCrit23, strings.Join(lines, "\n"))
	}
}

// poolAnswer extracts the addresses of qtype at owner from r, after any
// CNAME, in the order they were sent.
func poolAnswer(t *testing.T, r *dns.Msg, owner string) []string {
	t.Helper()
	var final []dns.RR
	for _, rr := range r.Answer {
		if strings.EqualFold(rr.Header().Name, owner) {
			final = append(final, rr)
		}
	}
	return addrsOf(final)
}

// shuffleZone has a 4-address pool behind a CNAME, so the chased answer
// can be tested like a direct one.
const shuffleOrigin = "shuffle.test."

var shufflePool = []string{"192.0.2.101", "192.0.2.102", "192.0.2.103", "192.0.2.104"}

func TestShuffleUniform(t *testing.T) {
	t.Parallel()
	s := startExample(t)

	dir := t.TempDir()
	zf := writeFile(t, dir, "shuffle.test.toml", testZoneHeader(shuffleOrigin)+`
[pools.pool]
addresses = ["192.0.2.101", "192.0.2.102", "192.0.2.103", "192.0.2.104"]
ttl = 30

[records.alias]
cname = "pool"
`)
	sc := startServer(t, "-zone", zf)
	apiAddrs := []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"}

	t.Run("api over UDP", func(t *testing.T) {
		t.Parallel()
		c := newOrderCounter(apiAddrs)
		addr := s.addr("4")
		for range shuffleQueryPlan {
			r := exchange(t, "udp", addr, newQuery(name("api"), dns.TypeA))
			c.add(t, poolAnswer(t, r, name("api")))
		}
		c.checkUniform(t)
	})

	t.Run("api over one TCP connection", func(t *testing.T) {
		t.Parallel()
		c := newOrderCounter(apiAddrs)
		co := dialTCP(t, s.addr("4"))
		for range shuffleQueryPlan {
			r := exchangeConn(t, co, newQuery(name("api"), dns.TypeA))
			c.add(t, poolAnswer(t, r, name("api")))
		}
		c.checkUniform(t)
	})

	t.Run("pool after a CNAME over UDP", func(t *testing.T) {
		t.Parallel()
		c := newOrderCounter(shufflePool)
		addr := sc.addr("4")
		target := "pool." + shuffleOrigin
		for range shuffleQueryPlan {
			r := exchange(t, "udp", addr, newQuery("alias."+shuffleOrigin, dns.TypeA))
			if len(r.Answer) == 0 || r.Answer[0].Header().Rrtype != dns.TypeCNAME {
				t.Fatalf("no CNAME first in %v", r)
			}
			c.add(t, poolAnswer(t, r, target))
		}
		c.checkUniform(t)
	})
}

// rotationOf returns k such that got is base rotated left by k, or -1.
func rotationOf(base, got []string) int {
	n := len(base)
	if len(got) != n {
		return -1
	}
	for k := range n {
		if slices.Equal(got, slices.Concat(base[k:], base[:k])) {
			return k
		}
	}
	return -1
}

// TestShuffleCyclic: a `cyclic` pool rotates one step per response, so
// consecutive responses are successive rotations of the file order and
// every rotation comes in turn. The server gets no other cdn traffic.
func TestShuffleCyclic(t *testing.T) {
	t.Parallel()
	s := startExample(t)
	base := []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"}
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			// Not parallel: both transports share the server's counter.
			var co *dns.Conn
			if network == "tcp" {
				co = dialTCP(t, s.addr("4"))
			}
			const rounds = 4
			var ks []int
			for range rounds * len(base) {
				m := newQuery(name("cdn"), dns.TypeA)
				var r *dns.Msg
				if co != nil {
					r = exchangeConn(t, co, m)
				} else {
					r = exchange(t, network, s.addr("4"), m)
				}
				got := poolAnswer(t, r, name("cdn"))
				k := rotationOf(base, got)
				if k < 0 {
					t.Fatalf("response %d: %v is not a rotation of %v", len(ks), got, base)
				}
				ks = append(ks, k)
			}
			// One step per response, in a constant direction.
			n := len(base)
			step := (ks[1] - ks[0] + n) % n
			if step != 1 && step != n-1 {
				t.Fatalf("rotations %v: step %d between the first two responses, want ±1", ks, step)
			}
			for i := 1; i < len(ks); i++ {
				if (ks[i]-ks[i-1]+n)%n != step {
					t.Fatalf("rotations %v: response %d does not advance by %d", ks, i, step)
				}
			}
		})
	}
}

// TestShuffleFixed: a `fixed` pool always keeps file order.
func TestShuffleFixed(t *testing.T) {
	t.Parallel()
	s := startExample(t)
	want := []string{"203.0.113.10", "203.0.113.11", "203.0.113.12"}
	for _, ep := range s.endpoints() {
		t.Run(ep.String(), func(t *testing.T) {
			t.Parallel()
			for i := range 50 {
				r := exchange(t, ep.net, ep.addr, newQuery(name("static"), dns.TypeA))
				if got := poolAnswer(t, r, name("static")); !slices.Equal(got, want) {
					t.Fatalf("response %d: %v, want file order %v", i, got, want)
				}
			}
		})
	}
}
