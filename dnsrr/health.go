package dnsrr

import (
	"iter"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/dnsrr/dnsrr/zones"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// Health tells the server which pool members may be answered. The server
// declares what it needs; the command adapts the health prober to it, so
// this package knows nothing of probing.
type Health interface {
	// Up reports whether addr, a member of a pool checked by check, passes
	// it (or is not decided yet). Members of pools without a check are up.
	Up(check *zones.Check, addr netip.Addr) bool
	// Drained reports an operator's withdrawal of addr.
	Drained(addr netip.Addr) bool
	// Draining reports whether any address is drained: if none is, pools
	// without a check are served whole without looking at their members.
	Draining() bool
	// UpSince is when addr last came up under check (zero: unknown, or
	// up from the start), for slow start.
	UpSince(check *zones.Check, addr netip.Addr) time.Time
	// Weight is the share of its configured weight, in percent (0-100),
	// that addr's backend reported under check (weight_header); 100 when
	// it reported none. Asked only of checks that read one.
	Weight(check *zones.Check, addr netip.Addr) int
}

// healthySet is what a pool's address set serves under health checks.
type healthySet struct {
	set      *zones.RRset // the members to serve; nil: none (NODATA)
	servfail bool
	policy   bool // too few members up: on_all_down decided
	// rampUntil is when the last of its members in slow start reaches its
	// full slow-start share (zero: none is ramping).
	rampUntil time.Time
}

// zoneHealth is what a zone's pool address sets serve in one served state,
// by setSlot; a nil slot serves its set whole. A health change stores new
// values into the slots of the current state, each atomically, so a query
// sees every set either before or after the change, never half of it.
type zoneHealth struct {
	sets []atomic.Pointer[healthySet]
}

// setSlot is the index of a pool's address set of type typ in zoneHealth.
func setSlot(p *zones.Pool, typ uint16) int {
	if typ == dns.TypeAAAA {
		return 2*p.ID + 1
	}
	return 2 * p.ID
}

// poolKey names a pool's address set across reloads, for logging changes
// of its state only once.
type poolKey struct {
	zone, pool string
	qtype      uint16
}

// healthy returns the set of zone z as health allows it, or servfail.
func (st *served) healthy(z *zones.Zone, set *zones.RRset) (*zones.RRset, bool) {
	if st.health == nil || set.Pool == nil {
		return set, false
	}
	zh := st.health[z]
	if zh == nil {
		return set, false
	}
	return serving(zh.sets[setSlot(set.Pool, set.Type)].Load(), set)
}

// filterPools decides what every pool's address sets serve. In order:
//
//   - the members up and not drained, if there are at least min_healthy;
//   - else the members up, drained or not, if there are enough: an
//     operator's drain must not leave only dead servers in the answer;
//   - else the pool's on_all_down: "all" serves every member that is not
//     drained and every member that is up (so every member if all are
//     drained), "none" no address (NODATA), "servfail" SERVFAIL.
//
// Each address family is judged on its own, so IPv4-only clients are not
// left without an answer because the IPv6 members are fine. Sets served
// whole keep a nil slot. prev lists the sets whose policy decided in the
// previous state, so that only changes are logged.
func filterPools(snap *zones.Snapshot, h Health, prev map[poolKey]bool, log zerolog.Logger) map[*zones.Zone]*zoneHealth {
	out := make(map[*zones.Zone]*zoneHealth, len(snap.Zones()))
	draining := h.Draining()
	for _, z := range snap.Zones() {
		zh := &zoneHealth{sets: make([]atomic.Pointer[healthySet], 2*len(z.PoolDefs))}
		out[z] = zh
		// Without a drain, nothing can withdraw a member of an unchecked pool.
		withdrawable := func(p *zones.Pool) bool { return p.Check != nil || draining }
		for p, set := range poolSets(z, withdrawable) {
			hs := decide(p, set, h)
			zh.sets[setSlot(p, set.Type)].Store(hs)
			if policy := hs != nil && hs.policy; policy != prev[poolKey{z.Origin, p.Name, set.Type}] {
				logPolicy(log, p, set, policy)
			}
		}
	}
	return out
}

// poolSets iterates over the address sets of z's pools that keep selects.
func poolSets(z *zones.Zone, keep func(*zones.Pool) bool) iter.Seq2[*zones.Pool, *zones.RRset] {
	return func(yield func(*zones.Pool, *zones.RRset) bool) {
		for _, p := range z.PoolDefs {
			if !keep(p) {
				continue
			}
			n := z.Node(p.Name)
			if n == nil {
				continue
			}
			for _, typ := range []uint16{dns.TypeA, dns.TypeAAAA} {
				if set := n.Get(typ); set != nil && !yield(p, set) {
					return
				}
			}
		}
	}
}

// policies lists the sets of st whose on_all_down decided.
func (st *served) policies() map[poolKey]bool {
	out := map[poolKey]bool{}
	for z, zh := range st.health {
		for p, set := range poolSets(z, allPools) {
			if hs := zh.sets[setSlot(p, set.Type)].Load(); hs != nil && hs.policy {
				out[poolKey{z.Origin, p.Name, set.Type}] = true
			}
		}
	}
	return out
}

func allPools(*zones.Pool) bool { return true }

// logPolicy logs a set's transition into (policy) or out of its pool's
// on_all_down.
func logPolicy(log zerolog.Logger, p *zones.Pool, set *zones.RRset, policy bool) {
	ev, msg := log.Info(), "pool has enough members up again"
	if policy {
		ev, msg = log.Warn(), "too few pool members up"
	}
	ev.Str("pool", p.Name).Str("qtype", dns.TypeToString[set.Type]).Int("members", set.Len()).
		Int("need", p.Need(set.Len())).Str("policy", p.OnAllDown.String()).Msg(msg)
}

// decide is filterPools for one set: nil when it is served whole and no
// policy decided, which is most sets. A pool with ttl_degraded serves
// what it serves with that TTL while any member is down (or drained, if
// ttl_degraded_drains), so caches come back for the recovery sooner.
func decide(p *zones.Pool, set *zones.RRset, h Health) *healthySet {
	hs := degrade(p, set, decideMembers(p, set, h), h)
	if p.SlowStart > 0 || p.Check.ReportsWeight() {
		hs = scaleWeights(p, set, hs, h, time.Now())
	}
	return hs
}

// shunned reports whether addr's backend asked for no new clients (a
// reported weight of 0): it is served as if drained, but it is up.
func shunned(p *zones.Pool, h Health, addr netip.Addr) bool {
	return p.Check.ReportsWeight() && h.Weight(p.Check, addr) <= 0
}

// degrade applies the pool's ttl_degraded to hs, what set serves.
func degrade(p *zones.Pool, set *zones.RRset, hs *healthySet, h Health) *healthySet {
	if p.TTLDegraded == 0 || hs != nil && hs.set == nil {
		return hs // nothing served, nothing to degrade
	}
	degraded := false
	for i := range set.Len() {
		a := set.Addr(i)
		if !h.Up(p.Check, a) || p.TTLDegradedDrains && (h.Drained(a) || shunned(p, h, a)) {
			degraded = true
			break
		}
	}
	if !degraded {
		return hs
	}
	served, policy := set, false
	if hs != nil {
		served, policy = hs.set, hs.policy
	}
	return &healthySet{set: served.WithTTL(p.TTLDegraded), policy: policy}
}

// slowStartFloor is the share of its weight a member gets the moment it
// comes up: small, not zero, so that it is seen to work.
const slowStartFloor = 0.05

// weightScale makes room for fractions of a weight in integer weights.
const weightScale = 100

// scaleWeights scales the configured weights of the members served by hs
// by what lowers them now: the share its backend reported (weight_header,
// in percent), and slow start: a member that came up less than the pool's
// slow_start ago gets a share in proportion to the time since (from
// slowStartFloor to 1), so a recovered server is not hit by every client
// at once. Weights act on random and sticky pools.
func scaleWeights(p *zones.Pool, set *zones.RRset, hs *healthySet, h Health, now time.Time) *healthySet {
	served, _ := serving(hs, set)
	if served == nil || served.Len() < 2 {
		return hs
	}
	var until time.Time
	scaled := false
	weights := make([]uint32, served.Len())
	for i := range weights {
		w := uint32(1)
		if served.Weights != nil {
			w = served.Weights[i]
		}
		f := 1.0
		if p.SlowStart > 0 {
			if since := h.UpSince(p.Check, served.Addr(i)); !since.IsZero() && now.Sub(since) < p.SlowStart {
				f = max(slowStartFloor, float64(now.Sub(since))/float64(p.SlowStart))
				if end := since.Add(p.SlowStart); end.After(until) {
					until = end
				}
			}
		}
		if p.Check.ReportsWeight() {
			// A member served at 0% is served only because too few others
			// are (see decideMembers): it gets the least weight.
			if pct := h.Weight(p.Check, served.Addr(i)); pct < 100 {
				f *= float64(max(pct, 0)) / 100
				scaled = true
			}
		}
		weights[i] = max(1, uint32(float64(w*weightScale)*f))
	}
	if until.IsZero() && !scaled {
		return hs
	}
	out := &healthySet{set: served.WithWeights(weights), rampUntil: until}
	if hs != nil {
		out.policy = hs.policy
	}
	return out
}

// decideMembers chooses the members a set serves (see filterPools).
func decideMembers(p *zones.Pool, set *zones.RRset, h Health) *healthySet {
	n := set.Len()
	var upBuf, drainedBuf [16]bool // no allocation for common pool sizes
	up, drained := upBuf[:0], drainedBuf[:0]
	if n > len(upBuf) {
		up, drained = make([]bool, 0, n), make([]bool, 0, n)
	}
	up, drained = up[:n], drained[:n]
	nUp, nServing := 0, 0
	for i := range n {
		a := set.Addr(i)
		up[i], drained[i] = h.Up(p.Check, a), h.Drained(a) || shunned(p, h, a)
		if up[i] {
			nUp++
			if !drained[i] {
				nServing++
			}
		}
	}
	need := p.Need(n)
	// subset serves the members keep selects; all of them or none (all
	// drained and down: fail open to every member) is the whole set.
	subset := func(keep func(i int) bool, policy bool) *healthySet {
		kept := 0
		for i := range n {
			if keep(i) {
				kept++
			}
		}
		switch {
		case kept > 0 && kept < n:
			return &healthySet{set: set.WithRRs(keep), policy: policy}
		case policy:
			return &healthySet{set: set, policy: true}
		}
		return nil
	}
	switch {
	case nServing == n:
		return nil
	case nServing >= need:
		return subset(func(i int) bool { return up[i] && !drained[i] }, false)
	case nUp >= need:
		return subset(func(i int) bool { return up[i] }, false)
	}
	switch p.OnAllDown {
	case zones.PolicyNone:
		return &healthySet{policy: true}
	case zones.PolicyServfail:
		return &healthySet{servfail: true, policy: true}
	}
	return subset(func(i int) bool { return up[i] || !drained[i] }, true)
}

// Answers reports whether DNS answers addr for the pool named pool now:
// the effective state, after checks, drains and policies, for /status.
func (s *Server) Answers(pool string, addr netip.Addr) bool {
	st := s.state.Load()
	z := st.snap.Find(pool)
	if z == nil {
		return false
	}
	n := z.Node(pool)
	if n == nil {
		return false
	}
	for _, typ := range []uint16{dns.TypeA, dns.TypeAAAA} {
		set := n.Get(typ)
		if set == nil || !set.HasAddr(addr) {
			continue
		}
		served, servfail := st.healthy(z, set)
		return !servfail && served != nil && served.HasAddr(addr)
	}
	return false
}
