package dnsrr

import (
	"net/netip"
	"slices"

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
}

// healthySet is what a pool's address set serves under health checks.
type healthySet struct {
	set      *zones.RRset // the members to serve; nil: none (NODATA)
	servfail bool
}

// poolKey names a pool's address set across reloads, for logging changes
// of its state only once.
type poolKey struct {
	zone, pool string
	qtype      uint16
}

// healthy returns the set as health allows it, or servfail.
func (st *served) healthy(set *zones.RRset) (*zones.RRset, bool) {
	if hs, ok := st.health[set]; ok {
		return hs.set, hs.servfail
	}
	return set, false
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
// whole are left out of the map. short lists the sets whose policy
// decided, so that only changes are logged: prev is the previous list.
func filterPools(snap *zones.Snapshot, h Health, prev map[poolKey]bool, log zerolog.Logger) (out map[*zones.RRset]healthySet, short map[poolKey]bool) {
	out, short = map[*zones.RRset]healthySet{}, map[poolKey]bool{}
	draining := h.Draining()
	for _, z := range snap.Zones() {
		for _, p := range z.PoolDefs {
			if p.Check == nil && !draining {
				continue // nothing can withdraw a member
			}
			n := z.Node(p.Name)
			if n == nil {
				continue
			}
			for _, typ := range []uint16{dns.TypeA, dns.TypeAAAA} {
				set := n.Get(typ)
				if set == nil {
					continue
				}
				hs, whole, policy := decide(p, set, h)
				if !whole {
					out[set] = hs
				}
				k := poolKey{z.Origin, p.Name, typ}
				if policy {
					short[k] = true
				}
				if policy != prev[k] {
					ev, msg := log.Info(), "pool has enough members up again"
					if policy {
						ev, msg = log.Warn(), "too few pool members up"
					}
					ev.Str("pool", p.Name).Str("qtype", dns.TypeToString[typ]).Int("members", len(set.RRs)).
						Int("need", p.Need(len(set.RRs))).Str("policy", p.OnAllDown.String()).Msg(msg)
				}
			}
		}
	}
	return out, short
}

// decide is filterPools for one set. whole: served as is; policy: too few
// members, on_all_down decided.
func decide(p *zones.Pool, set *zones.RRset, h Health) (hs healthySet, whole, policy bool) {
	// Count first: most sets are served whole and need no new slice.
	n := len(set.RRs)
	var upBuf, drainedBuf [16]bool // no allocation for common pool sizes
	up, drained := upBuf[:0], drainedBuf[:0]
	if n > len(upBuf) {
		up, drained = make([]bool, 0, n), make([]bool, 0, n)
	}
	up, drained = up[:n], drained[:n]
	nUp, nServing := 0, 0
	for i, rr := range set.RRs {
		a := zones.AddrOf(rr)
		up[i], drained[i] = h.Up(p.Check, a), h.Drained(a)
		if up[i] {
			nUp++
			if !drained[i] {
				nServing++
			}
		}
	}
	need := p.Need(n)
	subset := func(keep func(i int) bool) (healthySet, bool) {
		var rrs []dns.RR
		for i, rr := range set.RRs {
			if keep(i) {
				rrs = append(rrs, rr)
			}
		}
		if len(rrs) == n {
			return healthySet{}, true
		}
		if len(rrs) == 0 { // all drained and down: fail open to every member
			return healthySet{}, true
		}
		return healthySet{set: set.WithRRs(rrs)}, false
	}
	switch {
	case nServing == n:
		return healthySet{}, true, false
	case nServing >= need:
		hs, whole = subset(func(i int) bool { return up[i] && !drained[i] })
		return hs, whole, false
	case nUp >= need:
		hs, whole = subset(func(i int) bool { return up[i] })
		return hs, whole, false
	}
	switch p.OnAllDown {
	case zones.PolicyNone:
		return healthySet{}, false, true
	case zones.PolicyServfail:
		return healthySet{servfail: true}, false, true
	}
	hs, whole = subset(func(i int) bool { return up[i] || !drained[i] })
	return hs, whole, true
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
		if set == nil || !slices.ContainsFunc(set.RRs, func(rr dns.RR) bool { return zones.AddrOf(rr) == addr }) {
			continue
		}
		served, servfail := st.healthy(set)
		return !servfail && served != nil &&
			slices.ContainsFunc(served.RRs, func(rr dns.RR) bool { return zones.AddrOf(rr) == addr })
	}
	return false
}
