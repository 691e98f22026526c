package cluster

import (
	"encoding/json"
	"net/netip"
	"time"

	"github.com/hashicorp/memberlist"
)

// Message kinds: the first byte of a user message.
const (
	kindObs   byte = 'o'
	kindDrain byte = 'd'
	// kindState is a fullState sent straight to a peer that came alive.
	kindState byte = 's'
)

// obsMsg is one instance's new view of one target (Gone: it stopped
// probing it). Each is its own broadcast, superseding the one queued
// before for the same key; memberlist packs several into a UDP packet.
type obsMsg struct {
	Origin string `json:"n"`
	Epoch  int64  `json:"e"`
	Key    string `json:"k"`
	Gone   bool   `json:"g,omitempty"`
	Obs    obs    `json:"o"`
}

type drainMsg struct {
	Addr netip.Addr  `json:"a"`
	Rec  drainRecord `json:"r"`
}

// fullState is what push-pull exchanges: the sender's own views and every
// drain record it holds.
type fullState struct {
	Origin string                     `json:"n"`
	Epoch  int64                      `json:"e"`
	Obs    map[string]obs             `json:"o"`
	Drains map[netip.Addr]drainRecord `json:"d"`
}

// broadcast is one queued message; name makes a newer message for the
// same key replace an older one still in the queue.
type broadcast struct {
	name string
	msg  []byte
}

func (b *broadcast) Invalidates(o memberlist.Broadcast) bool {
	nb, ok := o.(memberlist.NamedBroadcast)
	return ok && nb.Name() == b.name
}
func (b *broadcast) Name() string    { return b.name }
func (b *broadcast) Message() []byte { return b.msg }
func (b *broadcast) Finished()       {}

// queueLocked queues m for gossip. n.mu is held.
func (n *Node) queueLocked(m any) {
	var kind byte
	var name string
	var b []byte
	switch m := m.(type) {
	case obsMsg:
		m.Epoch = n.epoch
		kind, name = kindObs, "o"+m.Key
		b, _ = json.Marshal(m) // plain fields: cannot fail
	case drainMsg:
		kind, name = kindDrain, "d"+m.Addr.String()
		b, _ = json.Marshal(m)
	}
	n.queue.QueueBroadcast(&broadcast{name: name, msg: append([]byte{kind}, b...)})
}

// delegate is Node as memberlist's Delegate.
type delegate Node

func (d *delegate) NodeMeta(limit int) []byte {
	n := (*Node)(d)
	n.mu.RLock()
	id := n.id
	n.mu.RUnlock()
	b, _ := json.Marshal(id)
	if len(b) > limit {
		// A long server name: the digest and version matter more.
		id.Server = id.Server[:max(0, len(id.Server)-(len(b)-limit))]
		b, _ = json.Marshal(id)
	}
	return b
}

func (d *delegate) NotifyMsg(b []byte) {
	n := (*Node)(d)
	if len(b) < 2 {
		return
	}
	switch b[0] {
	case kindObs:
		var m obsMsg
		if json.Unmarshal(b[1:], &m) != nil || len(m.Key) > MaxKeyLen {
			return
		}
		n.mu.Lock()
		n.mergeObsLocked(m)
		n.mu.Unlock()
	case kindDrain:
		var m drainMsg
		if json.Unmarshal(b[1:], &m) != nil || !m.Addr.IsValid() {
			return
		}
		n.mergeDrains(map[netip.Addr]drainRecord{m.Addr: m.Rec})
	case kindState:
		d.MergeRemoteState(b[1:], false)
	}
}

// mergeObsLocked applies a peer's view of one target if it is newer than
// what is held. n.mu is held.
func (n *Node) mergeObsLocked(m obsMsg) {
	n.lamport = max(n.lamport, m.Obs.Version)
	p := n.peerLocked(m.Origin)
	if p == nil {
		return
	}
	if !n.epochLocked(p, m.Epoch, false) {
		return
	}
	p.lastSeen = time.Now()
	cur, ok := p.obs[m.Key]
	if ok && cur.Version >= m.Obs.Version {
		return
	}
	if m.Gone {
		if !ok {
			return
		}
		delete(p.obs, m.Key)
	} else {
		if !ok && n.peerFullLocked(p) {
			return
		}
		p.obs[m.Key] = m.Obs
	}
	if !ok || cur.Down != m.Obs.Down || m.Gone {
		n.changedLocked(m.Key)
	}
}

// epochLocked reports whether a message of the given epoch from p is
// current: a newer epoch (p restarted, its versions start again) drops
// what p said before; an older one is a message from before the restart,
// relayed late by gossip. A full state (full) comes straight from the run
// that sends it, so its epoch is p's current one even when older: p
// restarted with its clock set back (NTP stepping it after a reboot), and
// would otherwise be ignored until this instance restarts. n.mu is held.
func (n *Node) epochLocked(p *peer, epoch int64, full bool) bool {
	switch {
	case epoch < p.epoch && !full:
		return false
	case epoch != p.epoch:
		for k := range p.obs {
			n.changedLocked(k)
		}
		p.obs, p.epoch = map[string]obs{}, epoch
	}
	return true
}

// peerFullLocked reports whether p holds as many views as a full state of
// MaxStateBytes could carry: a peer cannot grow this one's memory past it.
func (n *Node) peerFullLocked(p *peer) bool {
	const minEntry = 40 // a short key, its state, time and version in JSON
	return len(p.obs) >= n.cfg.MaxStateBytes/minEntry
}

// mergeDrains applies the drain records newer than those held, and then,
// outside the lock, each drain or undrain they make.
func (n *Node) mergeDrains(recs map[netip.Addr]drainRecord) {
	type change struct {
		addr netip.Addr
		rec  drainRecord
	}
	var apply []change
	n.mu.Lock()
	for a, r := range recs {
		if !a.IsValid() {
			continue
		}
		a = a.Unmap()
		n.lamport = max(n.lamport, r.Version)
		cur, ok := n.drains[a]
		if ok && !r.newer(cur) {
			continue
		}
		if !ok && len(n.drains) >= maxDrainRecords {
			n.pruneDrainsLocked()
			if len(n.drains) >= maxDrainRecords {
				continue
			}
		}
		r.seen = time.Now()
		n.drains[a] = r
		if !ok || cur.Drained != r.Drained || !cur.Until.Equal(r.Until) {
			apply = append(apply, change{a, r})
		}
	}
	n.mu.Unlock()
	for _, c := range apply {
		n.log.Info().Stringer("target", c.addr).Bool("drained", c.rec.Drained).Str("by", c.rec.Origin).Msg("drain from a peer")
		if n.apply != nil {
			n.apply(c.addr, c.rec.Until, c.rec.Drained)
		}
	}
}

// pruneDrainsLocked forgets undrains older than tombstoneTTL and drains
// that expired. n.mu is held.
func (n *Node) pruneDrainsLocked() {
	now := time.Now()
	for a, r := range n.drains {
		if (!r.Drained && now.Sub(r.seen) > tombstoneTTL) || (r.Drained && !r.Until.IsZero() && now.After(r.Until.Add(tombstoneTTL))) {
			delete(n.drains, a)
		}
	}
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.queue.GetBroadcasts(overhead, limit)
}

func (d *delegate) LocalState(join bool) []byte { return (*Node)(d).localState() }

func (n *Node) localState() []byte {
	n.mu.Lock()
	n.pruneDrainsLocked()
	b, _ := json.Marshal(fullState{Origin: n.cfg.Name, Epoch: n.epoch, Obs: n.local, Drains: n.drains})
	n.mu.Unlock()
	if len(b) > n.cfg.MaxStateBytes {
		n.log.Warn().Int("bytes", len(b)).Int("max_state_bytes", n.cfg.MaxStateBytes).
			Msg("this instance's state is over [cluster] max_state_bytes: peers will refuse it")
	}
	return b
}

func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	n := (*Node)(d)
	if len(buf) > n.cfg.MaxStateBytes {
		n.log.Warn().Int("bytes", len(buf)).Int("max_state_bytes", n.cfg.MaxStateBytes).Msg("peer state over [cluster] max_state_bytes: ignored")
		return
	}
	var s fullState
	if err := json.Unmarshal(buf, &s); err != nil {
		n.log.Warn().Err(err).Msg("peer state does not parse: ignored")
		return
	}
	n.mu.Lock()
	if p := n.peerLocked(s.Origin); p != nil && n.epochLocked(p, s.Epoch, true) {
		// The full state replaces what was learnt piecemeal: messages
		// lost in between are made good here.
		next := make(map[string]obs, len(s.Obs))
		for k, o := range s.Obs {
			if len(k) > MaxKeyLen {
				continue
			}
			n.lamport = max(n.lamport, o.Version)
			if cur, ok := p.obs[k]; ok && cur.Version > o.Version {
				o = cur
			}
			next[k] = o
		}
		for k, o := range next {
			if cur, ok := p.obs[k]; !ok || cur.Down != o.Down {
				n.changedLocked(k)
			}
		}
		for k := range p.obs {
			if _, ok := next[k]; !ok {
				n.changedLocked(k)
			}
		}
		p.obs = next
		p.lastSeen = time.Now()
	}
	n.mu.Unlock()
	n.mergeDrains(s.Drains)
}

// events is Node as memberlist's EventDelegate: membership changes the
// live set, so every agreed view may change.
type events Node

func (e *events) NotifyJoin(m *memberlist.Node) { (*Node)(e).memberChanged(m, true) }
func (e *events) NotifyLeave(m *memberlist.Node) {
	(*Node)(e).memberChanged(m, false)
}
func (e *events) NotifyUpdate(m *memberlist.Node) { (*Node)(e).memberChanged(m, true) }

func (n *Node) memberChanged(m *memberlist.Node, alive bool) {
	if m.Name == n.cfg.Name {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.peerLocked(m.Name)
	if p == nil {
		return
	}
	was := p.alive
	p.addr, p.id, p.alive, p.lastSeen = addrOf(m), parseIdentity(m.Meta), alive, time.Now()
	if was != alive {
		ev := n.log.Info()
		if !alive {
			ev = n.log.Warn()
		}
		ev.Str("peer", m.Name).Stringer("addr", p.addr).Str("peer_server", p.id.Server).Bool("alive", alive).Msg("cluster membership changed")
		n.changedLocked("")
		if alive {
			// Gossip reached the nodes alive when a view changed, and
			// push-pull pairs only two nodes at a time: a peer that
			// (re)joins gets this node's views straight away.
			to := *m
			go n.sendState(&to)
		}
	}
	n.checkDigestLocked(p)
}

// maxPeers bounds the peers remembered, alive or gone: gone peers are
// forgotten, oldest first, to make room.
const maxPeers = 1024

// peerLocked returns the peer named name, remembered from now on if it
// was not (its views may come before memberlist reports it alive); nil
// for this node itself, or when maxPeers alive peers are remembered
// already. n.mu is held.
func (n *Node) peerLocked(name string) *peer {
	if name == n.cfg.Name || name == "" {
		return nil
	}
	if p := n.peers[name]; p != nil {
		return p
	}
	if len(n.peers) >= maxPeers {
		var oldest *peer
		for _, p := range n.peers {
			if !p.alive && (oldest == nil || p.lastSeen.Before(oldest.lastSeen)) {
				oldest = p
			}
		}
		if oldest == nil {
			return nil
		}
		delete(n.peers, oldest.name)
	}
	p := &peer{name: name, obs: map[string]obs{}, lastSeen: time.Now()}
	n.peers[name] = p
	return p
}

// sendState sends this node's views and drains to one peer over TCP, a
// few peers at a time.
func (n *Node) sendState(to *memberlist.Node) {
	select {
	case n.sending <- struct{}{}:
	case <-n.stop:
		return
	}
	defer func() { <-n.sending }()
	// A peer may join while memberlist.Create still runs.
	ml := n.created.Load()
	for i := 0; ml == nil && i < 100; i++ {
		time.Sleep(50 * time.Millisecond)
		ml = n.created.Load()
	}
	if ml == nil {
		return // push-pull will bring it
	}
	msg := append([]byte{kindState}, n.localState()...)
	if err := ml.SendReliable(to, msg); err != nil {
		n.log.Debug().Err(err).Str("peer", to.Name).Msg("cannot send this node's views")
	}
}
