package cluster

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metrics "github.com/hashicorp/go-metrics"
	"github.com/rs/zerolog"
)

// sentSink counts the bytes memberlist sends (memberlist.udp.sent and
// memberlist.tcp.sent: encrypted payloads, without IP and UDP/TCP headers).
type sentSink struct{ udp, tcp atomic.Int64 }

func (s *sentSink) count(key []string, v float32) {
	k := strings.Join(key, ".")
	switch {
	case strings.HasSuffix(k, "memberlist.udp.sent"):
		s.udp.Add(int64(v))
	case strings.HasSuffix(k, "memberlist.tcp.sent"):
		s.tcp.Add(int64(v))
	}
}
func (s *sentSink) SetGauge([]string, float32)                                     {}
func (s *sentSink) SetGaugeWithLabels([]string, float32, []metrics.Label)          {}
func (s *sentSink) SetPrecisionGauge([]string, float64)                            {}
func (s *sentSink) SetPrecisionGaugeWithLabels([]string, float64, []metrics.Label) {}
func (s *sentSink) EmitKey([]string, float32)                                      {}
func (s *sentSink) IncrCounter(k []string, v float32)                              { s.count(k, v) }
func (s *sentSink) IncrCounterWithLabels(k []string, v float32, _ []metrics.Label) {
	s.count(k, v)
}
func (s *sentSink) AddSample([]string, float32)                            {}
func (s *sentSink) AddSampleWithLabels([]string, float32, []metrics.Label) {}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// TestGossipFigures measures the gossip each instance sends: N instances
// (DNSRR_CLUSTER_NODES, default 100) in this process on 127.0.0.1, each
// with T targets (DNSRR_CLUSTER_TARGETS, default 100) it has a view of,
// memberlist's LAN timing (gossip 200 ms, probe 1 s, push-pull 30 s);
// first quiet for S seconds (DNSRR_CLUSTER_SECONDS, default 60: two
// push-pull rounds), then with C view changes a second across the cluster
// (DNSRR_CLUSTER_CHANGES, default 10). A figure, not a check: it runs only
// with DNSRR_CLUSTER_FIGURES=1 (integration/perf/cluster.sh).
func TestGossipFigures(t *testing.T) {
	if os.Getenv("DNSRR_CLUSTER_FIGURES") == "" {
		t.Skip("a measurement: set DNSRR_CLUSTER_FIGURES=1 (integration/perf/cluster.sh)")
	}
	nodes, targets := envInt("DNSRR_CLUSTER_NODES", 100), envInt("DNSRR_CLUSTER_TARGETS", 100)
	seconds, changes := envInt("DNSRR_CLUSTER_SECONDS", 60), envInt("DNSRR_CLUSTER_CHANGES", 10)
	sink := &sentSink{}
	mc := metrics.DefaultConfig("")
	mc.EnableHostname, mc.EnableRuntimeMetrics, mc.EnableHostnameLabel = false, false, false
	if _, err := metrics.NewGlobal(mc, sink); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, targets)
	for i := range keys {
		keys[i] = fmt.Sprintf("%016x", rand.Uint64()) // as internal/app names targets
	}
	var all []*Node
	var first string
	for i := range nodes {
		port := freePort(t)
		bind := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
		cfg := Config{Name: fmt.Sprintf("n%03d", i), Bind: bind, SecretKey: testKey}
		if first != "" {
			cfg.Peers = []string{first}
		} else {
			first = bind.String()
		}
		n, err := Start(cfg, Identity{Server: cfg.Name, Version: "figures", Digest: "0123456789abcdef"}, nil, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		seen := map[string]Observation{}
		for _, k := range keys {
			seen[k] = Observation{Since: time.Now()}
		}
		n.Observe(seen, nil)
		all = append(all, n)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for _, n := range all {
		for len(n.Status().Peers) < nodes-1 || n.ml.NumMembers() < nodes {
			if time.Now().After(deadline) {
				t.Fatalf("%s sees %d members of %d after 2 min", n.cfg.Name, n.ml.NumMembers(), nodes)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Let the join's push-pulls and queued views drain first.
	time.Sleep(5 * time.Second)

	measure := func(what string, d time.Duration, during func(stop <-chan struct{})) {
		u0, t0 := sink.udp.Load(), sink.tcp.Load()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		if during != nil {
			wg.Go(func() { during(stop) })
		}
		time.Sleep(d)
		close(stop)
		wg.Wait()
		u, tc := sink.udp.Load()-u0, sink.tcp.Load()-t0
		per := func(b int64) float64 { return float64(b) / d.Seconds() / float64(nodes) }
		t.Logf("%s: %d instances, %d targets each, %v: per instance %.0f B/s sent (UDP %.0f, TCP push-pull %.0f)",
			what, nodes, targets, d, per(u+tc), per(u), per(tc))
	}
	measure("quiet", time.Duration(seconds)*time.Second, nil)
	measure(fmt.Sprintf("%d view changes/s", changes), time.Duration(seconds)*time.Second, func(stop <-chan struct{}) {
		tick := time.NewTicker(time.Second / time.Duration(changes))
		defer tick.Stop()
		down := map[string]bool{}
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			n, k := all[rand.N(len(all))], keys[rand.N(len(keys))]
			id := n.cfg.Name + k
			down[id] = !down[id]
			n.Observe(map[string]Observation{k: {Down: down[id], Since: time.Now()}}, nil)
		}
	})
	// Agreement holds at the end: every node has every other's views.
	for _, n := range all[:3] {
		n.mu.RLock()
		for _, p := range n.peers {
			if len(p.obs) != targets {
				t.Errorf("%s holds %d views of %s, want %d", n.cfg.Name, len(p.obs), p.name, targets)
			}
		}
		n.mu.RUnlock()
	}
}
