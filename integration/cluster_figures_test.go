package integration

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
)

// TestClusterFigures measures, with the three instances of the cluster
// tests (check every 500 ms, fall 2), local health against the cluster:
//
//   - partition: dns1 is cut off from member …21 for 10 s: the seconds
//     during which the three instances answered differently;
//   - outage: …21 refuses everyone: the time until all three withdraw it,
//     and the seconds during which they disagreed on the way.
//
// Answers are sampled every 50 ms. A figure, not a check: it runs only
// with DNSRR_CLUSTER_FIGURES=1 (integration/perf/cluster.sh), R rounds
// each (DNSRR_CLUSTER_ROUNDS, default 3), and prints medians.
func TestClusterFigures(t *testing.T) {
	if os.Getenv("DNSRR_CLUSTER_FIGURES") == "" {
		t.Skip("a measurement: set DNSRR_CLUSTER_FIGURES=1 (integration/perf/cluster.sh)")
	}
	rounds := 3
	if n, err := fmt.Sscan(os.Getenv("DNSRR_CLUSTER_ROUNDS"), &rounds); n != 1 || err != nil {
		rounds = 3
	}
	for _, gossip := range []bool{false, true} {
		mode := "local health"
		if gossip {
			mode = "cluster"
		}
		var partition, outage, outageSpread []float64
		for range rounds {
			c := newClusterLab(t)
			for i := 1; i <= 3; i++ {
				c.start(i, gossip)
			}
			if gossip {
				c.waitPeers(1, "dns2", "dns3")
				c.waitPeers(2, "dns1", "dns3")
				c.waitPeers(3, "dns1", "dns2")
			}
			all := c.members()
			c.waitServed([]int{1, 2, 3}, all...)

			c.backends[21].set(c.lab.ip(11))
			differ, _ := c.sample(10*time.Second, nil)
			partition = append(partition, differ.Seconds())
			c.backends[21].set()
			c.waitServed([]int{1, 2, 3}, all...)

			start := time.Now()
			c.backends[21].set(c.lab.ip(11), c.lab.ip(12), c.lab.ip(13))
			without := served(c.lab.ips(22, 23)...)
			differ, done := c.sample(clusterWait, func(r map[int]reply) bool {
				return r[1].equal(without) && r[2].equal(without) && r[3].equal(without)
			})
			outage = append(outage, done.Sub(start).Seconds())
			outageSpread = append(outageSpread, differ.Seconds())
			for i := 1; i <= 3; i++ {
				c.servers[i].stop()
			}
		}
		t.Logf("FIGURE %s: partition of one instance from one member for 10 s: instances disagreed %.2f s (median of %d)",
			mode, median(partition), rounds)
		t.Logf("FIGURE %s: member down for all: withdrawn everywhere after %.2f s, instances disagreed %.2f s on the way (medians of %d)",
			mode, median(outage), median(outageSpread), rounds)
	}
}

// sample asks the three instances every 50 ms for d, or until stop holds,
// and returns how long their answers differed and when it ended.
func (c *clusterLab) sample(d time.Duration, stop func(map[int]reply) bool) (differ time.Duration, end time.Time) {
	const every = 50 * time.Millisecond
	deadline := time.Now().Add(d)
	last := time.Now()
	for time.Now().Before(deadline) {
		r := map[int]reply{1: c.answers(1), 2: c.answers(2), 3: c.answers(3)}
		now := time.Now()
		if !r[1].equal(r[2]) || !r[1].equal(r[3]) {
			differ += now.Sub(last)
		}
		last = now
		if stop != nil && stop(r) {
			return differ, now
		}
		time.Sleep(every)
	}
	if stop != nil {
		c.t.Fatalf("not reached within %v", d)
	}
	return differ, time.Now()
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
