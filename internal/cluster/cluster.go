// Package cluster lets dnsrr instances agree on health. Each instance
// gossips its own probe results and the drains made on it over
// hashicorp/memberlist; a target is agreed down when a quorum of the live
// instances that probe it sees it down. An instance with no live peer
// falls back to its own view.
//
// It knows nothing of DNS or of the prober: targets are opaque keys
// (the same key on every instance for the same check of the same address),
// drains are addresses, and the caller applies what it learns.
package cluster

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"

	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/rs/zerolog"
)

// Limits of what a peer can make an instance hold; the README gives them.
const (
	// MaxKeyLen bounds a target key in a message.
	MaxKeyLen = 64
	// DefaultMaxStateBytes is the default of Config.MaxStateBytes.
	DefaultMaxStateBytes = 8 << 20
	// maxDrainRecords bounds the drain records kept, undrains included;
	// the oldest undrains go first.
	maxDrainRecords = 100000
	// tombstoneTTL is how long an undrain is remembered, so that a peer
	// that was away does not bring back the drain it still holds.
	tombstoneTTL = 24 * time.Hour
	// joinRetry is how often an instance with no live peer tries to join
	// its configured peers again.
	joinRetry = 5 * time.Second
	// goneForget is how long a peer that left or died is remembered (on
	// /status, with its views): instances replaced under new names (a
	// pod's) would otherwise each hold their views here until maxPeers.
	goneForget = time.Hour
)

// Config is the [cluster] table.
type Config struct {
	// Name identifies this instance among its peers; unique per cluster.
	Name string
	// Bind is the address gossip listens on, UDP and TCP.
	Bind netip.AddrPort
	// Advertise is the address peers reach this instance at; the zero
	// value means Bind.
	Advertise netip.AddrPort
	// Peers are host:port of other instances to join; one reachable is
	// enough.
	Peers []string
	// SecretKey encrypts and authenticates gossip (AES-GCM, 16, 24 or 32
	// bytes). Required: gossip changes what is served.
	SecretKey []byte
	// Quorum is how many instances must see a target down to withdraw it;
	// 0 means a majority of the live instances that probe it.
	Quorum int
	// GossipInterval, PushPullInterval and ProbeInterval: 0 takes
	// memberlist's LAN defaults (200ms, 30s, 1s).
	GossipInterval   time.Duration
	PushPullInterval time.Duration
	ProbeInterval    time.Duration
	// MaxStateBytes bounds a peer's full state (push-pull): its
	// observations and drains.
	MaxStateBytes int
}

// Identity is what an instance says of itself to its peers (memberlist
// node metadata, at most 512 bytes).
type Identity struct {
	Server  string `json:"s"`
	Version string `json:"v"`
	// Digest covers the zones and checks: peers with another digest probe
	// other targets, and say so.
	Digest string `json:"d"`
}

// Observation is one instance's view of one target.
type Observation struct {
	Down  bool
	Since time.Time
}

// DrainFunc applies a drain learnt from a peer (drained false: an
// undrain; a zero until: no expiry).
type DrainFunc func(addr netip.Addr, until time.Time, drained bool)

// Node is this instance's membership of the cluster.
type Node struct {
	cfg Config
	log zerolog.Logger
	ml  *memberlist.Memberlist
	// created is ml for what memberlist calls while Create runs (a peer
	// may join before it returns): nil until then.
	created atomic.Pointer[memberlist.Memberlist]
	queue   *memberlist.TransmitLimitedQueue
	apply   DrainFunc

	changes chan struct{}

	mu sync.RWMutex
	id Identity
	// epoch is when this node started: its views' versions count from
	// there, so peers tell them from those of an earlier run.
	epoch int64
	// lamport orders views and drains: one more than any version seen.
	// It starts at the clock in milliseconds, so that a restarted node's
	// drains follow those of its earlier run.
	lamport  uint64
	local    map[string]obs
	peers    map[string]*peer
	drains   map[netip.Addr]drainRecord
	pending  map[string]struct{}
	all      bool
	warnedOf map[string]string // peer name: the digest last warned of

	stop    chan struct{}
	done    chan struct{}
	sending chan struct{} // a slot per sendState under way
}

type obs struct {
	Down    bool      `json:"d,omitempty"`
	Since   time.Time `json:"s"`
	Version uint64    `json:"v"`
}

type peer struct {
	name     string
	epoch    int64 // the peer's start (see Node.epoch)
	addr     netip.AddrPort
	id       Identity
	alive    bool
	lastSeen time.Time
	obs      map[string]obs
}

type drainRecord struct {
	Drained bool      `json:"x,omitempty"`
	Until   time.Time `json:"u"`
	Version uint64    `json:"v"`
	Origin  string    `json:"o"`
	// seen is when this instance learnt it, for pruning undrains.
	seen time.Time
}

func (d drainRecord) newer(o drainRecord) bool {
	if d.Version != o.Version {
		return d.Version > o.Version
	}
	return d.Origin > o.Origin
}

// Start joins the cluster. apply is called, outside any lock, for each
// drain or undrain learnt from a peer.
func Start(cfg Config, id Identity, apply DrainFunc, logger zerolog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxStateBytes == 0 {
		cfg.MaxStateBytes = DefaultMaxStateBytes
	}
	n := &Node{
		cfg: cfg, log: logger.With().Str("component", "cluster").Logger(), apply: apply, id: id,
		changes: make(chan struct{}, 1),
		local:   map[string]obs{}, peers: map[string]*peer{}, drains: map[netip.Addr]drainRecord{},
		pending: map[string]struct{}{}, warnedOf: map[string]string{},
		stop: make(chan struct{}), done: make(chan struct{}), sending: make(chan struct{}, 4),
		epoch: time.Now().UnixNano(), lamport: uint64(time.Now().UnixMilli()),
	}
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Name
	mc.BindAddr, mc.BindPort = cfg.Bind.Addr().String(), int(cfg.Bind.Port())
	if cfg.Advertise.IsValid() {
		mc.AdvertiseAddr, mc.AdvertisePort = cfg.Advertise.Addr().String(), int(cfg.Advertise.Port())
	} else {
		mc.AdvertiseAddr, mc.AdvertisePort = mc.BindAddr, mc.BindPort
	}
	mc.SecretKey = cfg.SecretKey
	if cfg.GossipInterval > 0 {
		mc.GossipInterval = cfg.GossipInterval
	}
	if cfg.PushPullInterval > 0 {
		mc.PushPullInterval = cfg.PushPullInterval
	}
	if cfg.ProbeInterval > 0 {
		mc.ProbeInterval = cfg.ProbeInterval
		mc.ProbeTimeout = min(mc.ProbeTimeout, cfg.ProbeInterval/2)
	}
	mc.Delegate = (*delegate)(n)
	mc.Events = (*events)(n)
	mc.Logger = log.New(logWriter{n.log, &keyWarnings{}}, "", 0)
	// Gossip starts within Create, so the queue must exist before it.
	created := &n.created
	n.queue = &memberlist.TransmitLimitedQueue{RetransmitMult: mc.RetransmitMult, NumNodes: func() int {
		if ml := created.Load(); ml != nil {
			return ml.NumMembers()
		}
		return 1
	}}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	created.Store(ml)
	n.ml = ml
	go n.joinLoop()
	return n, nil
}

// Validate checks what Start needs.
func (c Config) Validate() error {
	if c.Name == "" {
		return errors.New("cluster: no node name")
	}
	if !c.Bind.IsValid() {
		return errors.New("cluster: no bind address")
	}
	switch len(c.SecretKey) {
	case 16, 24, 32:
	default:
		return fmt.Errorf("cluster: the secret key is %d bytes; give 16, 24 or 32", len(c.SecretKey))
	}
	if c.Quorum < 0 {
		return fmt.Errorf("cluster: quorum %d is negative", c.Quorum)
	}
	return nil
}

// joinLoop joins the configured peers, and again whenever this instance
// finds itself alone: a peer that was down when it started, or a
// partition that healed while both sides had forgotten each other.
func (n *Node) joinLoop() {
	defer close(n.done)
	t := time.NewTicker(joinRetry)
	defer t.Stop()
	failing := false // warned of the join failing since it last worked
	for {
		if len(n.cfg.Peers) > 0 && n.ml.NumMembers() <= 1 {
			if k, err := n.ml.Join(n.cfg.Peers); err != nil {
				// Alone, this instance serves its own view: say so once
				// (with why: a peer down, or another secret_key), not
				// every 5 s.
				ev := n.log.Debug()
				if !failing {
					ev = n.log.Warn()
				}
				failing = true
				ev.Err(err).Strs("peers", n.cfg.Peers).Msg("cannot join any peer; retrying every 5 s")
			} else {
				failing = false
				n.log.Info().Int("joined", k).Msg("joined the cluster")
			}
		}
		n.mu.Lock()
		n.forgetGoneLocked(time.Now())
		n.mu.Unlock()
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
	}
}

// forgetGoneLocked forgets the peers not alive and not heard from for
// goneForget, with their views. One that comes back is learnt afresh
// (its state is sent when it comes alive). n.mu is held.
func (n *Node) forgetGoneLocked(now time.Time) {
	for name, p := range n.peers {
		if !p.alive && now.Sub(p.lastSeen) > goneForget {
			delete(n.peers, name)
			delete(n.warnedOf, name)
		}
	}
}

// Close leaves the cluster (telling peers, for up to a second) and stops.
func (n *Node) Close() {
	close(n.stop)
	<-n.done
	if err := n.ml.Leave(time.Second); err != nil {
		n.log.Debug().Err(err).Msg("leaving the cluster")
	}
	_ = n.ml.Shutdown()
}

// Changes receives a value when the agreed view may have changed;
// TakeChanges says for which keys. Notifications coalesce.
func (n *Node) Changes() <-chan struct{} { return n.changes }

// TakeChanges returns the keys whose agreed state may have changed since
// its last call, or all when membership changed (every key may have).
func (n *Node) TakeChanges() (keys []string, all bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	keys, all = slices.Collect(maps.Keys(n.pending)), n.all
	n.pending, n.all = map[string]struct{}{}, false
	if all {
		keys = nil
	}
	return keys, all
}

// changedLocked records that key's agreed state may have changed; "" for
// every key. n.mu is held.
func (n *Node) changedLocked(key string) {
	if key == "" || len(n.pending) >= 1<<16 {
		n.all, n.pending = true, map[string]struct{}{}
	} else if !n.all {
		n.pending[key] = struct{}{}
	}
	select {
	case n.changes <- struct{}{}:
	default:
	}
}

// SetIdentity replaces what this instance says of itself (after a reload)
// and tells the peers.
func (n *Node) SetIdentity(id Identity) {
	n.mu.Lock()
	changed := n.id != id
	n.id = id
	if changed {
		// Warn afresh of the peers that differ from the new digest.
		n.warnedOf = map[string]string{}
		for _, p := range n.peers {
			n.checkDigestLocked(p)
		}
	}
	n.mu.Unlock()
	if changed {
		if err := n.ml.UpdateNode(time.Second); err != nil {
			n.log.Debug().Err(err).Msg("announcing the new identity")
		}
	}
}

// maxDeltaBurst is the most view changes of one Observe gossiped one by
// one; a larger burst (the first probe round, a reload) goes to each live
// peer as this node's full state, over TCP, rather than filling the
// gossip queue with retransmissions.
const maxDeltaBurst = 64

// Observe publishes this instance's view of the targets given; keep lists
// every key it probes now (after a reload), so that the others are
// forgotten. keep nil leaves the set as it is.
func (n *Node) Observe(seen map[string]Observation, keep func(string) bool) {
	n.mu.Lock()
	var msgs []obsMsg
	if keep != nil {
		for k := range n.local {
			if !keep(k) {
				delete(n.local, k)
				n.lamport++
				msgs = append(msgs, obsMsg{Origin: n.cfg.Name, Key: k, Gone: true, Obs: obs{Version: n.lamport}})
				n.changedLocked(k)
			}
		}
	}
	for k, o := range seen {
		cur, ok := n.local[k]
		if ok && cur.Down == o.Down && cur.Since.Equal(o.Since) {
			continue
		}
		n.lamport++
		rec := obs{Down: o.Down, Since: o.Since.Round(0).UTC(), Version: n.lamport}
		n.local[k] = rec
		msgs = append(msgs, obsMsg{Origin: n.cfg.Name, Key: k, Obs: rec})
		n.changedLocked(k)
	}
	burst := len(msgs) > maxDeltaBurst
	if !burst {
		for _, m := range msgs {
			n.queueLocked(m)
		}
	}
	n.mu.Unlock()
	if ml := n.created.Load(); burst && ml != nil {
		for _, m := range ml.Members() {
			if m.Name != n.cfg.Name {
				to := *m
				go n.sendState(&to)
			}
		}
	}
}

// Down is the agreed view of key: whether it is withdrawn. own is this
// instance's view and known whether it has one (it has probed the
// target). Alone, an instance uses its own view.
func (n *Node) Down(key string, own bool, known bool) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	down, _, _ := n.agreeLocked(key, own, known)
	return down
}

// agreeLocked counts, among the live instances, those that have a view of
// key and those of them that see it down. Instances that have not probed
// the target yet are not counted.
func (n *Node) agreeLocked(key string, own, known bool) (down bool, seeing, reporting int) {
	live := 0
	if known {
		reporting = 1
		if own {
			seeing = 1
		}
	}
	for _, p := range n.peers {
		if !p.alive {
			continue
		}
		live++
		if o, ok := p.obs[key]; ok {
			reporting++
			if o.Down {
				seeing++
			}
		}
	}
	if live == 0 {
		// Alone: this instance's own view, as without a cluster (an
		// initial_state of "down" holds until probes decide).
		return own, seeing, reporting
	}
	if reporting == 0 {
		return false, 0, 0
	}
	q := n.cfg.Quorum
	if q == 0 {
		q = reporting/2 + 1
	}
	return seeing >= min(q, reporting), seeing, reporting
}

// Drain announces a drain made on this instance (a zero until: until
// undrained).
func (n *Node) Drain(addr netip.Addr, until time.Time) { n.localDrain(addr, until, true) }

// Undrain announces an undrain made on this instance.
func (n *Node) Undrain(addr netip.Addr) { n.localDrain(addr, time.Time{}, false) }

func (n *Node) localDrain(addr netip.Addr, until time.Time, drained bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lamport++
	rec := drainRecord{Drained: drained, Until: until.Round(0).UTC(), Version: n.lamport, Origin: n.cfg.Name, seen: time.Now()}
	n.drains[addr.Unmap()] = rec
	n.queueLocked(drainMsg{Addr: addr.Unmap(), Rec: rec})
}

// KnownDrains registers the drains this instance read from its state file
// at start, at the lowest version: whatever a peer decided since wins.
func (n *Node) KnownDrains(drains map[netip.Addr]time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for a, until := range drains {
		if _, ok := n.drains[a]; !ok {
			n.drains[a] = drainRecord{Drained: true, Until: until.UTC(), Origin: n.cfg.Name, seen: time.Now()}
		}
	}
}

// PeerStatus is one peer as /status shows it.
type PeerStatus struct {
	Name        string    `json:"name"`
	Address     string    `json:"address"`
	State       string    `json:"state"` // alive, or gone (dead or left)
	Server      string    `json:"server"`
	Version     string    `json:"version"`
	LastSeen    time.Time `json:"last_seen"`
	DigestMatch bool      `json:"same_zones_and_checks"`
	Targets     int       `json:"targets"`
}

// Status is the cluster as /status shows it.
type Status struct {
	Name   string       `json:"name"`
	Bind   string       `json:"bind"`
	Quorum string       `json:"quorum"`
	Alone  bool         `json:"alone"` // no live peer: this instance's own view is served
	Digest string       `json:"digest"`
	Peers  []PeerStatus `json:"peers"`
}

// Status reports the peers, in name order.
func (n *Node) Status() Status {
	n.mu.RLock()
	defer n.mu.RUnlock()
	s := Status{Name: n.cfg.Name, Bind: n.cfg.Bind.String(), Quorum: "majority", Alone: true, Digest: n.id.Digest, Peers: []PeerStatus{}}
	if n.cfg.Quorum > 0 {
		s.Quorum = strconv.Itoa(n.cfg.Quorum)
	}
	for _, p := range n.peers {
		st := "gone"
		if p.alive {
			st, s.Alone = "alive", false
		}
		s.Peers = append(s.Peers, PeerStatus{Name: p.name, Address: p.addr.String(), State: st, Server: p.id.Server,
			Version: p.id.Version, LastSeen: p.lastSeen, DigestMatch: p.id.Digest == n.id.Digest, Targets: len(p.obs)})
	}
	slices.SortFunc(s.Peers, func(a, b PeerStatus) int { return cmp.Compare(a.Name, b.Name) })
	return s
}

// Views is one target as each instance sees it ("up", "down"; instances
// that have not probed it are left out) and as they agree.
type Views struct {
	Agreed string            `json:"agreed"`
	Seeing int               `json:"down_count"`
	Quorum int               `json:"of"`
	Peers  map[string]string `json:"views"`
}

// Views returns key's views, own being this instance's (known: it has one).
func (n *Node) Views(key string, own, known bool) Views {
	n.mu.RLock()
	defer n.mu.RUnlock()
	down, seeing, reporting := n.agreeLocked(key, own, known)
	v := Views{Agreed: "up", Seeing: seeing, Quorum: reporting, Peers: map[string]string{}}
	if down {
		v.Agreed = "down"
	}
	if known {
		v.Peers[n.cfg.Name] = upDown(own)
	}
	for _, p := range n.peers {
		if o, ok := p.obs[key]; ok && p.alive {
			v.Peers[p.name] = upDown(o.Down)
		}
	}
	return v
}

func upDown(down bool) string {
	if down {
		return "down"
	}
	return "up"
}

// logWriter passes memberlist's log lines on at debug level: its
// warnings (a peer's probe failed) are routine in a cluster. Gossip that
// does not decrypt is not: it is a peer with another secret_key, which
// would otherwise stay alone without a word; it is warned of once an
// hour per address (keyWarnings).
type logWriter struct {
	log  zerolog.Logger
	keys *keyWarnings
}

func (w logWriter) Write(b []byte) (int, error) {
	line := string(trimNewline(b))
	// (This instance's own failed joins say "failed to join" without a
	// from=: joinLoop warns of those.)
	if w.keys != nil && strings.Contains(line, "decrypt") && strings.Contains(line, "from=") {
		if from, ok := w.keys.first(line, time.Now()); ok {
			w.log.Warn().Str("from", from).Str("error", line).
				Msg("gossip that does not decrypt: a peer with another [cluster] secret_key (warned of once an hour per address)")
			return len(b), nil
		}
	}
	w.log.Debug().Msg(line)
	return len(b), nil
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

var _ io.Writer = logWriter{}

// addrOf is a member's gossip address.
func addrOf(m *memberlist.Node) netip.AddrPort {
	a, _ := netip.AddrFromSlice(m.Addr)
	return netip.AddrPortFrom(a.Unmap(), m.Port)
}

// parseIdentity reads a peer's metadata; a peer whose metadata does not
// parse is shown with none.
func parseIdentity(meta []byte) Identity {
	var id Identity
	_ = json.Unmarshal(meta, &id)
	return id
}

// checkDigestLocked warns, once per peer and digest, of a peer that loaded
// other zones or checks. n.mu is held.
func (n *Node) checkDigestLocked(p *peer) {
	if !p.alive || p.id.Digest == n.id.Digest || n.warnedOf[p.name] == p.id.Digest {
		return
	}
	n.warnedOf[p.name] = p.id.Digest
	n.log.Warn().Str("peer", p.name).Str("peer_server", p.id.Server).Str("peer_digest", p.id.Digest).
		Str("digest", n.id.Digest).Msg("peer has other zones or checks: it probes other targets, and agreement covers only those both probe")
}
