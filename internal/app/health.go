package app

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/healthprobe"
	"github.com/dnsrr/dnsrr/internal/cluster"
	"github.com/dnsrr/dnsrr/internal/safefile"
	"github.com/dnsrr/dnsrr/zones"
)

// health adapts the prober to what the DNS server asks (dnsrr.Health) and
// to what the admin API lists, for the zones currently loaded.
type health struct {
	prober *healthprobe.Prober

	mu   sync.RWMutex
	plan *probePlan
	// prev is the plan before the last reload: between setPlan and the
	// server's swap, the server still asks about the old snapshot's checks.
	prev *probePlan
	// replaced is the prober's View before the last setTargets: the last
	// state of the targets it removed (a changed check), which the old
	// snapshot serves until the swap rather than failing open.
	replaced *healthprobe.View

	// node is this instance's membership of a cluster; nil when alone by
	// configuration. With it, Up is the agreed view.
	node *cluster.Node
	// server and version identify this instance (/status, gossip).
	server, version string
	syncMu          sync.Mutex // serialises publishAll

	// barrier takes requests to apply the prober's changes now, from the
	// admin API (drains), to the loop that applies them: each request's
	// channel closes once DNS follows what the prober had when it was
	// sent. looping says the loop runs (DNS serves); before, and after
	// shutdown, there is nothing to wait for.
	barrier chan chan struct{}
	looping atomic.Bool
}

// waitApplied returns once DNS answers follow the prober's view as it is
// now (a drain just made), or when ctx ends.
func (h *health) waitApplied(ctx context.Context) {
	if !h.looping.Load() {
		return
	}
	done := make(chan struct{})
	select {
	case h.barrier <- done:
	case <-ctx.Done():
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// probePlan is what one snapshot asks the prober to do.
type probePlan struct {
	snap    *zones.Snapshot
	targets []healthprobe.Target
	checks  map[*zones.Check]*healthprobe.Check
	// keys are the targets' keys, computed once: a health change asks for
	// every member of every pool.
	keys map[member]string
	// shared are the targets' cluster keys by prober key, and addrs the
	// members' addresses by cluster key (see clusterKey).
	shared map[string]string
	addrs  map[string]netip.Addr
}

type member struct {
	check *zones.Check
	addr  netip.Addr
}

func (h *health) setPlan(p *probePlan) {
	h.mu.Lock()
	h.prev, h.plan = h.plan, p
	h.mu.Unlock()
}

// swapped drops what only the old snapshot needed, once the server no
// longer serves it.
func (h *health) swapped() {
	h.mu.Lock()
	h.prev, h.replaced = nil, nil
	h.mu.Unlock()
}

// setTargets gives the prober a new snapshot's targets, keeping the state
// of those it drops for the old snapshot.
func (h *health) setTargets(ts []healthprobe.Target) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.replaced = h.prober.View()
	return h.prober.SetTargets(ts)
}

// Up implements dnsrr.Health: up or not decided yet (fail open). In a
// cluster, it is the agreed view.
func (h *health) Up(c *zones.Check, addr netip.Addr) bool {
	st, ok := h.status(c, addr)
	if h.node != nil && c != nil {
		if key, found := h.clusterKey(c, addr); found {
			return !h.node.Down(key, ok && st.State == healthprobe.Down, ok && probed(st))
		}
	}
	return !ok || st.State != healthprobe.Down
}

// UpSince implements dnsrr.Health: when the member came up (zero while it
// is not up here, or not probed: a member the cluster keeps up that this
// instance sees down is served at full weight).
func (h *health) UpSince(c *zones.Check, addr netip.Addr) time.Time {
	if st, ok := h.status(c, addr); ok && st.State == healthprobe.Up {
		return st.Since
	}
	return time.Time{}
}

// Weight implements dnsrr.Health: the share of its weight the member's
// backend reported to this instance's probes (each instance reads its own:
// they ask the same backend), 100 until it reports one.
func (h *health) Weight(c *zones.Check, addr netip.Addr) int {
	if st, ok := h.status(c, addr); ok {
		return st.WeightPercent()
	}
	return healthprobe.MaxWeightPercent
}

// clusterKey is the cluster key of a checked member of the plan (or of
// the plan being replaced).
func (h *health) clusterKey(c *zones.Check, addr netip.Addr) (string, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, p := range []*probePlan{h.plan, h.prev} {
		if p == nil {
			continue
		}
		if k, ok := p.keys[member{c, addr}]; ok {
			ck, ok := p.shared[k]
			return ck, ok
		}
	}
	return "", false
}

// status is the prober's view of a checked member; false for members of
// pools without a check, and of snapshots being replaced (fail open).
func (h *health) status(c *zones.Check, addr netip.Addr) (healthprobe.Status, bool) {
	if c == nil {
		return healthprobe.Status{}, false
	}
	h.mu.RLock()
	key, ok := h.plan.keys[member{c, addr}]
	if !ok && h.prev != nil {
		key, ok = h.prev.keys[member{c, addr}]
	}
	replaced := h.replaced
	h.mu.RUnlock()
	if !ok {
		return healthprobe.Status{}, false
	}
	st, ok := h.prober.View().Status(key)
	if !ok && replaced != nil {
		st, ok = replaced.Status(key)
	}
	return st, ok
}

// Drained implements dnsrr.Health.
func (h *health) Drained(addr netip.Addr) bool {
	_, drained := h.prober.View().Drained(addr)
	return drained
}

// Draining implements dnsrr.Health.
func (h *health) Draining() bool {
	for range h.prober.View().Drains() {
		return true
	}
	return false
}

// apply tells srv what changed since the last call: the pools holding the
// addresses whose state or drain changed are recomputed, or every pool
// when the prober could not list its changes.
func (h *health) apply(srv *dnsrr.Server) {
	c := h.prober.TakeChanges()
	if h.node != nil {
		h.publish(c)
		keys, all := h.node.TakeChanges()
		if all {
			c.All = true
		}
		h.mu.RLock()
		for _, k := range keys {
			if a, ok := h.plan.addrs[k]; ok {
				c.Addrs = append(c.Addrs, a)
			} else if h.prev != nil {
				if a, ok := h.prev.addrs[k]; ok {
					c.Addrs = append(c.Addrs, a)
				}
			}
		}
		h.mu.RUnlock()
	}
	if c.All {
		srv.HealthChanged()
		return
	}
	addrs := c.Addrs
	for _, t := range c.Targets {
		addrs = append(addrs, t.Addr)
	}
	if len(addrs) > 0 {
		srv.HealthChangedAt(addrs)
	}
}

// planProbes derives probe targets from the snapshot's pools. Check
// problems come back as zone errors at the check's file:line.
func planProbes(snap *zones.Snapshot, lim zones.Limits, source netip.Addr) (*probePlan, error) {
	p := &probePlan{snap: snap, checks: map[*zones.Check]*healthprobe.Check{}, keys: map[member]string{},
		shared: map[string]string{}, addrs: map[string]netip.Addr{}}
	var errs []error
	for _, z := range snap.Zones() {
		for _, pool := range z.PoolDefs {
			if pool.Check == nil {
				continue
			}
			hc, ok := p.checks[pool.Check]
			if !ok {
				var err error
				if hc, err = probeCheck(pool.Check, lim.WithDefaults().MaxCAFileSize, source); err != nil {
					errs = append(errs, err)
				}
				p.checks[pool.Check] = hc
			}
			if hc == nil {
				continue
			}
			for _, a := range pool.Members() {
				t := healthprobe.Target{Addr: a, Check: hc}
				p.targets = append(p.targets, t)
				k := t.Key()
				p.keys[member{pool.Check, a}] = k
				if _, done := p.shared[k]; !done {
					ck := clusterKey(t)
					p.shared[k], p.addrs[ck] = ck, a
				}
			}
		}
	}
	return p, errors.Join(errs...)
}

// probeCheck is the probe of a check as the prober runs it now: a copy
// (the check belongs to the snapshot, shared by reloads) with the
// configuration's probe source if it names none, its ca_file read, and
// defaults applied and validated.
func probeCheck(c *zones.Check, maxCAFile int64, source netip.Addr) (*healthprobe.Check, error) {
	hc := c.Probe
	if !hc.Source.IsValid() {
		hc.Source = source
	}
	fail := func(err error) (*healthprobe.Check, error) {
		return nil, &zones.Error{File: c.File, Line: c.Line, Key: "checks." + c.Name, Msg: err.Error()}
	}
	if hc.CAFile != "" {
		// A regular file of bounded size: "/dev/zero" ran the process out
		// of memory, a FIFO would block the reload.
		pem, _, err := safefile.ReadStable(hc.CAFile, maxCAFile)
		if errors.As(err, new(*safefile.TooLargeError)) {
			err = fmt.Errorf("ca_file %w ([limits] max_ca_file_size)", err)
		}
		if err != nil {
			return fail(err)
		}
		hc.RootCAs = x509.NewCertPool()
		if !hc.RootCAs.AppendCertsFromPEM(pem) {
			return fail(fmt.Errorf("ca_file %s holds no PEM certificate", hc.CAFile))
		}
		// Identifies the roots in target keys, so a reload that reads the
		// same file keeps the targets' state.
		sum := sha256.Sum256(pem)
		hc.RootCAsID = hc.CAFile + "@" + hex.EncodeToString(sum[:8])
	}
	hc.ApplyDefaults()
	if err := hc.Validate(); err != nil {
		return fail(err)
	}
	return &hc, nil
}
