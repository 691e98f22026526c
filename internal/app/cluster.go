package app

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/healthprobe"
	"github.com/dnsrr/dnsrr/internal/cluster"
	"github.com/dnsrr/dnsrr/internal/config"
	"github.com/dnsrr/dnsrr/internal/metrics"
	"github.com/rs/zerolog"
)

// clusterKey names a target to the cluster: a hash of its key without
// the probe source, so instances probing from different addresses name
// the same target alike, in a few bytes of gossip.
func clusterKey(t healthprobe.Target) string {
	sum := sha256.Sum256([]byte(t.SharedKey()))
	return hex.EncodeToString(sum[:8])
}

// planDigest identifies what a plan asks the cluster to agree on: the
// zones' names and every checked member with its check. Peers with
// another digest are reported (log, /status).
func planDigest(p *probePlan) string {
	h := sha256.New()
	for _, o := range origins(p.snap) {
		h.Write([]byte(o + "\n"))
	}
	for _, k := range slices.Sorted(maps.Keys(p.addrs)) {
		h.Write([]byte(k + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// startCluster joins the cluster of cfg, if any, and has h serve the
// agreed view. Drains learnt from peers are applied to the prober (and so
// persisted in its state file).
func startCluster(cfg *config.Config, h *health, version string, log zerolog.Logger) (stop func(), err error) {
	if cfg.Cluster == nil {
		return func() {}, nil
	}
	cc := *cfg.Cluster
	if cc.Name == "" {
		cc.Name = cfg.ServerName
	}
	p := h.prober
	apply := func(addr netip.Addr, until time.Time, drained bool) {
		var err error
		switch {
		case !drained:
			err = p.Undrain(addr)
			if errors.Is(err, healthprobe.ErrNotDrained) {
				err = nil
			}
		case !until.IsZero() && !until.After(time.Now()):
			// Expired already: nothing to do.
		default:
			err = p.Drain(addr, until)
		}
		if err != nil {
			log.Error().Err(err).Stringer("target", addr).Msg("cannot apply a drain from a peer")
		}
	}
	id := cluster.Identity{Server: cfg.ServerName, Version: version, Digest: planDigest(h.plan)}
	n, err := cluster.Start(cc, id, apply, log)
	if err != nil {
		return nil, err
	}
	n.KnownDrains(maps.Collect(p.View().Drains()))
	h.mu.Lock()
	h.node = n
	h.mu.Unlock()
	h.syncCluster()
	log.Info().Str("node", cc.Name).Stringer("bind", cc.Bind).Strs("peers", cc.Peers).Str("digest", id.Digest).Msg("cluster started")
	return n.Close, nil
}

// syncCluster publishes this instance's whole view and identity, and
// forgets the targets it no longer probes: after start and after each
// reload.
func (h *health) syncCluster() {
	if h.node == nil {
		return
	}
	plan := h.publishAll()
	h.node.SetIdentity(cluster.Identity{Server: h.server, Version: h.version, Digest: planDigest(plan)})
}

// publishAll publishes this instance's view of every target it probes
// (the cluster sends only what changed) and forgets the others. Besides
// syncCluster, the health loop calls it every clusterSyncInterval: a
// target first probed after an incomplete first round, whose probe
// confirmed its initial_state, changed no state, so no change reported it.
func (h *health) publishAll() *probePlan {
	// One at a time: the plan read and the views published must not
	// interleave with those of a reload's sync.
	h.syncMu.Lock()
	defer h.syncMu.Unlock()
	h.mu.RLock()
	plan := h.plan
	h.mu.RUnlock()
	seen := map[string]cluster.Observation{}
	for k, st := range h.prober.View().All() {
		if ck, ok := plan.shared[k]; ok && probed(st) {
			seen[ck] = cluster.Observation{Down: st.State == healthprobe.Down, Since: st.Since}
		}
	}
	h.node.Observe(seen, func(ck string) bool { _, ok := plan.addrs[ck]; return ok })
	return plan
}

// clusterSyncInterval is how often the health loop publishes the whole
// view (see publishAll): a pass over the targets, sending nothing when
// nothing changed.
const clusterSyncInterval = 5 * time.Second

// publish tells the cluster this instance's new views of the targets
// that changed.
func (h *health) publish(c healthprobe.Changed) {
	if c.All {
		h.syncCluster()
		return
	}
	if len(c.Targets) == 0 {
		return
	}
	v := h.prober.View()
	seen := map[string]cluster.Observation{}
	h.mu.RLock()
	for _, t := range c.Targets {
		k := t.Key()
		ck, ok := h.plan.shared[k]
		if !ok && h.prev != nil {
			ck, ok = h.prev.shared[k]
		}
		st, found := v.Status(k)
		if ok && found && probed(st) {
			seen[ck] = cluster.Observation{Down: st.State == healthprobe.Down, Since: st.Since}
		}
	}
	h.mu.RUnlock()
	h.node.Observe(seen, nil)
}

// memberViews is a checked member's views for /status: each instance's
// and the agreed one. nil outside a cluster.
func (h *health) memberViews(m healthprobe.Member) any {
	if h.node == nil || m.Check == nil {
		return nil
	}
	t := healthprobe.Target{Addr: m.Addr, Check: m.Check}
	st, ok := h.prober.View().Status(t.Key())
	v := h.node.Views(clusterKey(t), ok && st.State == healthprobe.Down, ok && probed(st))
	return v
}

// clusterStatus is the cluster object of /status; nil outside a cluster.
func (h *health) clusterStatus() any {
	if h.node == nil {
		return nil
	}
	return h.node.Status()
}

// announceDrain tells the peers of a drain or undrain made here.
func (h *health) announceDrain(addr netip.Addr, until time.Time, drained bool) {
	if h.node == nil {
		return
	}
	if drained {
		h.node.Drain(addr, until)
	} else {
		h.node.Undrain(addr)
	}
}

// clusterAdmin shows the cluster on /status and announces the drains
// made through the API.
func clusterAdmin(o *healthprobe.AdminOptions, h *health) {
	if h.node == nil {
		return
	}
	o.Extra, o.MemberViews, o.Drained = h.clusterStatus, h.memberViews, h.announceDrain
}

// identify fills in who this instance is: server_name defaults to the
// NSID, else the host name; in a cluster, the NSID defaults to the server
// name, so that a dig +nsid says which instance answered.
func identify(cfg *config.Config) {
	if cfg.ServerName == "" {
		cfg.ServerName = cfg.NSID
	}
	if cfg.ServerName == "" {
		cfg.ServerName, _ = os.Hostname()
	}
	if cfg.Cluster != nil && cfg.NSID == "" {
		cfg.NSID = cfg.ServerName[:min(len(cfg.ServerName), dnsrr.MaxNSID)]
	}
}

// warnClusterChanged says that a reload does not apply [cluster] or
// server_name: membership is joined once.
func warnClusterChanged(was, now *config.Config, log zerolog.Logger) {
	if was.ServerName != now.ServerName || !reflect.DeepEqual(was.Cluster, now.Cluster) {
		log.Warn().Msg("[cluster] or server_name changed: restart to apply")
	}
}

// clusterMetrics is the source of the cluster's metrics; nil outside a
// cluster.
func (h *health) clusterMetrics() func() metrics.Cluster {
	if h.node == nil {
		return nil
	}
	return func() metrics.Cluster {
		s := h.node.Status()
		out := metrics.Cluster{Alone: s.Alone}
		for _, p := range s.Peers {
			out.Peers = append(out.Peers, metrics.ClusterPeer{Name: p.Name, Alive: p.State == "alive", SameDigest: p.DigestMatch})
		}
		return out
	}
}

// probed reports whether a status is this instance's view of its target:
// decided by a probe, not the initial_state of a target never probed,
// which would count as a vote (initial_state = "down" would withdraw
// every member of a cluster restarting together).
func probed(st healthprobe.Status) bool {
	return st.State != healthprobe.Unknown && !st.LastCheck.IsZero()
}
