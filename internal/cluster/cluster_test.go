package cluster

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/rs/zerolog"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// bare is a Node with peers but no memberlist: for the agreement rule
// and the merges, which need no network.
func bare(quorum int, peers map[string]bool) *Node {
	n := &Node{
		cfg: Config{Name: "self", Quorum: quorum, MaxStateBytes: DefaultMaxStateBytes}, log: zerolog.Nop(),
		changes: make(chan struct{}, 1), local: map[string]obs{}, peers: map[string]*peer{},
		drains: map[netip.Addr]drainRecord{}, pending: map[string]struct{}{}, warnedOf: map[string]string{},
		queue: &memberlist.TransmitLimitedQueue{NumNodes: func() int { return 1 }, RetransmitMult: 1},
	}
	for name, alive := range peers {
		n.peers[name] = &peer{name: name, alive: alive, obs: map[string]obs{}}
	}
	return n
}

func (n *Node) see(peer, key string, down bool) {
	n.peers[peer].obs[key] = obs{Down: down, Version: 1}
}

func TestAgreement(t *testing.T) {
	for _, tc := range []struct {
		name       string
		quorum     int
		peers      map[string]bool
		views      map[string]bool // peer: sees down
		own, known bool
		want       bool
	}{
		{"one of three down", 0, map[string]bool{"a": true, "b": true}, map[string]bool{"a": false, "b": false}, true, true, false},
		{"two of three down", 0, map[string]bool{"a": true, "b": true}, map[string]bool{"a": true, "b": false}, true, true, true},
		{"peers down, self up", 0, map[string]bool{"a": true, "b": true}, map[string]bool{"a": true, "b": true}, false, true, true},
		{"one of two down: no majority", 0, map[string]bool{"a": true}, map[string]bool{"a": false}, true, true, false},
		{"two of two down", 0, map[string]bool{"a": true}, map[string]bool{"a": true}, true, true, true},
		{"a dead peer is not counted", 0, map[string]bool{"a": true, "b": false}, map[string]bool{"a": false, "b": true}, true, true, false},
		{"alone: own view down", 0, map[string]bool{"a": false}, map[string]bool{"a": false}, true, true, true},
		{"alone: own view up", 0, map[string]bool{"a": false}, map[string]bool{"a": true}, false, true, false},
		{"no peers at all: own view", 0, nil, nil, true, true, true},
		{"peer without a view is not counted", 0, map[string]bool{"a": true, "b": true}, map[string]bool{"a": true}, false, true, false},
		{"self unprobed, peers decide", 0, map[string]bool{"a": true, "b": true}, map[string]bool{"a": true, "b": true}, false, false, true},
		{"nobody probed: served", 0, map[string]bool{"a": true}, nil, false, false, false},
		{"quorum 1: any instance", 1, map[string]bool{"a": true, "b": true}, map[string]bool{"a": true, "b": false}, false, true, true},
		{"quorum 3 of 3 reporting", 3, map[string]bool{"a": true, "b": true}, map[string]bool{"a": true, "b": true}, false, true, false},
		{"quorum above the reporters: all of them", 3, map[string]bool{"a": true}, map[string]bool{"a": true}, true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := bare(tc.quorum, tc.peers)
			for p, down := range tc.views {
				n.see(p, "k", down)
			}
			if got := n.Down("k", tc.own, tc.known); got != tc.want {
				t.Errorf("Down = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMergeObservations(t *testing.T) {
	n := bare(0, map[string]bool{"a": true})
	msg := func(key string, down bool, v uint64) []byte {
		b, _ := json.Marshal(obsMsg{Origin: "a", Key: key, Obs: obs{Down: down, Version: v}})
		return append([]byte{kindObs}, b...)
	}
	d := (*delegate)(n)
	d.NotifyMsg(msg("k", true, 5))
	if o := n.peers["a"].obs["k"]; !o.Down || o.Version != 5 {
		t.Fatalf("after a delta: %+v", o)
	}
	if keys, _ := n.TakeChanges(); len(keys) != 1 || keys[0] != "k" {
		t.Errorf("changes %v, want [k]", keys)
	}
	d.NotifyMsg(msg("k", false, 4)) // older: ignored
	if o := n.peers["a"].obs["k"]; !o.Down {
		t.Errorf("an older delta replaced a newer one: %+v", o)
	}
	d.NotifyMsg(msg(strings.Repeat("x", MaxKeyLen+1), true, 9))
	d.NotifyMsg([]byte{kindObs, '{'})
	d.NotifyMsg(msg("k2", true, 6)) // from a peer: applied
	if len(n.peers["a"].obs) != 2 {
		t.Errorf("peer holds %d views, want 2 (a long key and a broken message ignored)", len(n.peers["a"].obs))
	}
	b, _ := json.Marshal(obsMsg{Origin: "stranger", Key: "k", Obs: obs{Down: true, Version: 7}})
	d.NotifyMsg(append([]byte{kindObs}, b...))
	// Views may come before memberlist reports their sender alive: kept,
	// but not counted until it is.
	if p, ok := n.peers["stranger"]; !ok || p.alive || len(p.obs) != 1 {
		t.Errorf("a delta from a peer not yet alive: %+v", p)
	}
	// Full state replaces the piecemeal one: k2 is gone, k is up.
	st, _ := json.Marshal(fullState{Origin: "a", Obs: map[string]obs{"k": {Down: false, Version: 8}}})
	d.MergeRemoteState(st, false)
	if o, ok := n.peers["a"].obs["k2"]; ok || n.peers["a"].obs["k"].Down {
		t.Errorf("after push-pull: k2 %+v (%v), k %+v", o, ok, n.peers["a"].obs["k"])
	}
	// A state over the limit is refused whole.
	n.cfg.MaxStateBytes = 10
	d.MergeRemoteState(st, false)
}

// TestPeerRestart: a peer's new run (a later epoch) replaces what it said
// in its earlier one, though its versions start again from low numbers;
// a late message of the earlier run is ignored.
func TestPeerRestart(t *testing.T) {
	n := bare(0, map[string]bool{"a": true})
	d := (*delegate)(n)
	send := func(epoch int64, key string, down bool, v uint64) {
		b, _ := json.Marshal(obsMsg{Origin: "a", Epoch: epoch, Key: key, Obs: obs{Down: down, Version: v}})
		d.NotifyMsg(append([]byte{kindObs}, b...))
	}
	send(100, "k", true, 1000)
	send(100, "old", true, 1001)
	send(200, "k", false, 5)
	if o, ok := n.peers["a"].obs["k"]; !ok || o.Down {
		t.Errorf("after the restart k is %+v, want up", o)
	}
	if _, ok := n.peers["a"].obs["old"]; ok {
		t.Error("a view of the earlier run survived the restart")
	}
	send(100, "k", true, 2000)
	if n.peers["a"].obs["k"].Down {
		t.Error("a message of the earlier run replaced the new one")
	}

	// a restarts with its clock set back: its epoch is older than the
	// one held. Its gossip is taken for late messages of an earlier run
	// until its full state (sent straight from it when it comes alive,
	// and at each push-pull) says which run is current.
	send(50, "k", true, 1)
	if n.peers["a"].obs["k"].Down {
		t.Error("a delta of an older epoch replaced the current run's view")
	}
	state, _ := json.Marshal(fullState{Origin: "a", Epoch: 50, Obs: map[string]obs{"k": {Down: true, Version: 1}}})
	d.MergeRemoteState(state, false)
	if !n.peers["a"].obs["k"].Down {
		t.Error("the full state of a run whose clock went back was ignored")
	}
	send(50, "k", false, 2)
	if n.peers["a"].obs["k"].Down {
		t.Error("after its full state, the run's deltas are still ignored")
	}
}

func TestPeerStateBounded(t *testing.T) {
	n := bare(0, map[string]bool{"a": true})
	n.cfg.MaxStateBytes = 400 // 10 views of the smallest size
	d := (*delegate)(n)
	for i := range 50 {
		b, _ := json.Marshal(obsMsg{Origin: "a", Key: fmt.Sprint(i), Obs: obs{Version: uint64(i + 1)}})
		d.NotifyMsg(append([]byte{kindObs}, b...))
	}
	if got := len(n.peers["a"].obs); got != 10 {
		t.Errorf("peer holds %d views, want the bound, 10", got)
	}
}

func TestDrainsLastWriterWins(t *testing.T) {
	var mu sync.Mutex
	var applied []string
	n := bare(0, nil)
	n.apply = func(a netip.Addr, until time.Time, drained bool) {
		mu.Lock()
		defer mu.Unlock()
		applied = append(applied, fmt.Sprintf("%s %v", a, drained))
	}
	a := netip.MustParseAddr("192.0.2.1")
	n.KnownDrains(map[netip.Addr]time.Time{a: {}}) // from the state file: version 0
	n.mergeDrains(map[netip.Addr]drainRecord{a: {Drained: false, Version: 3, Origin: "b"}})
	n.mergeDrains(map[netip.Addr]drainRecord{a: {Drained: true, Version: 2, Origin: "c"}}) // older
	n.mergeDrains(map[netip.Addr]drainRecord{a: {Drained: true, Version: 3, Origin: "a"}}) // same version, lower origin
	if want := []string{"192.0.2.1 false"}; fmt.Sprint(applied) != fmt.Sprint(want) {
		t.Errorf("applied %v, want %v", applied, want)
	}
	n.Drain(a, time.Time{})
	if r := n.drains[a]; !r.Drained || r.Version <= 3 || r.Origin != "self" {
		t.Errorf("a local drain after seeing version 3: %+v, want a later version", r)
	}
}

// freePort is a port free for TCP and UDP on 127.0.0.1.
func freePort(t *testing.T) uint16 {
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err == nil {
			pc.Close()
			return uint16(port)
		}
	}
	t.Fatal("no free port")
	return 0
}

// TestGossip runs two nodes over loopback: views, drains and the digest
// mismatch reach the other.
func TestGossip(t *testing.T) {
	p1, p2 := freePort(t), freePort(t)
	drained := make(chan netip.Addr, 1)
	start := func(name string, port, peer uint16, digest string, apply DrainFunc) *Node {
		n, err := Start(Config{
			Name: name, Bind: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port),
			Peers: []string{fmt.Sprintf("127.0.0.1:%d", peer)}, SecretKey: testKey,
			GossipInterval: 50 * time.Millisecond, ProbeInterval: 200 * time.Millisecond, PushPullInterval: time.Second,
		}, Identity{Server: name, Version: "test", Digest: digest}, apply, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.Close)
		return n
	}
	a := start("a", p1, p2, "d1", nil)
	b := start("b", p2, p1, "d2", func(addr netip.Addr, _ time.Time, on bool) {
		if on {
			drained <- addr
		}
	})
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 30s", what)
			}
		}
	}
	wait("a sees b alive", func() bool { s := a.Status(); return len(s.Peers) == 1 && s.Peers[0].State == "alive" })
	if s := a.Status(); s.Peers[0].DigestMatch || s.Alone {
		t.Errorf("a's status: %+v, want b alive with another digest", s)
	}
	a.Observe(map[string]Observation{"k": {Down: true, Since: time.Now()}}, nil)
	wait("b learns a's view", func() bool { return b.Views("k", false, true).Peers["a"] == "down" })
	if b.Down("k", false, true) {
		t.Error("b withdraws k on one view of two")
	}
	addr := netip.MustParseAddr("192.0.2.7")
	a.Drain(addr, time.Time{})
	select {
	case got := <-drained:
		if got != addr {
			t.Errorf("b applied a drain of %s, want %s", got, addr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("b never applied a's drain")
	}
	a.Observe(nil, func(string) bool { return false })
	wait("b forgets k", func() bool { _, ok := b.Views("k", false, true).Peers["a"]; return !ok })

	// A burst (a first probe round, a reload) goes as a full state.
	burst := map[string]Observation{}
	for i := range 3 * maxDeltaBurst {
		burst[fmt.Sprintf("t%d", i)] = Observation{Down: i%2 == 0, Since: time.Now()}
	}
	a.Observe(burst, nil)
	if got := a.queue.NumQueued(); got > maxDeltaBurst {
		t.Errorf("%d broadcasts queued for a burst of %d", got, len(burst))
	}
	wait("b learns a's burst", func() bool {
		b.mu.RLock()
		defer b.mu.RUnlock()
		return len(b.peers["a"].obs) == len(burst)
	})
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Name: "n", Bind: netip.MustParseAddrPort("127.0.0.1:7946"), SecretKey: testKey}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Name = "" }, "node name"},
		{func(c *Config) { c.Bind = netip.AddrPort{} }, "bind"},
		{func(c *Config) { c.SecretKey = testKey[:10] }, "10 bytes"},
		{func(c *Config) { c.Quorum = -1 }, "quorum"},
	} {
		cfg := ok
		c.mod(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one about %q", err, c.want)
		}
	}
}

// TestGonePeersForgotten: a peer gone for goneForget is forgotten with its
// views (instances replaced under new names would each leave theirs);
// a live one, or one gone a short while, is kept.
func TestGonePeersForgotten(t *testing.T) {
	n := bare(0, map[string]bool{"live": true, "gone-long": false, "gone-lately": false})
	now := time.Now()
	for name, p := range n.peers {
		p.lastSeen = now.Add(-2 * goneForget)
		n.see(name, "k", true)
	}
	n.peers["gone-lately"].lastSeen = now.Add(-goneForget / 2)
	n.forgetGoneLocked(now)
	if _, ok := n.peers["gone-long"]; ok {
		t.Error("a peer gone for two hours is still held")
	}
	if n.peers["live"] == nil || n.peers["gone-lately"] == nil {
		t.Errorf("forgot a live peer or one gone lately: %v", slices.Collect(maps.Keys(n.peers)))
	}
}
