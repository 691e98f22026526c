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
}

// healthySet is what a pool's address set serves under health checks.
type healthySet struct {
	set      *zones.RRset // the members to serve; nil: none (NODATA)
	servfail bool
	policy   bool // too few members: the pool's on_all_down decided
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
//   - else the pool's on_all_down: "all" serves every member not drained
//     (every member if all are drained), "none" no address (NODATA),
//     "servfail" SERVFAIL.
//
// Each address family is judged on its own, so IPv4-only clients are not
// left without an answer because the IPv6 members are fine. Sets served
// whole are left out of the map. prev is the previous result, so that
// only changes of a pool's policy state are logged.
func filterPools(snap *zones.Snapshot, h Health, prev map[*zones.RRset]healthySet, log zerolog.Logger) map[*zones.RRset]healthySet {
	out := map[*zones.RRset]healthySet{}
	for _, z := range snap.Zones() {
		for _, p := range z.PoolDefs {
			n := z.Node(p.Name)
			if n == nil {
				continue
			}
			for _, typ := range []uint16{dns.TypeA, dns.TypeAAAA} {
				set := n.Get(typ)
				if set == nil {
					continue
				}
				hs, whole := decide(p, set, h)
				if !whole {
					out[set] = hs
				}
				if was := prev[set].policy; hs.policy != was {
					ev := log.Info()
					msg := "pool has enough members up again"
					if hs.policy {
						ev, msg = log.Warn(), "too few pool members up"
					}
					ev.Str("pool", p.Name).Str("qtype", dns.TypeToString[typ]).Int("members", len(set.RRs)).
						Int("need", p.Need(len(set.RRs))).Str("policy", p.OnAllDown.String()).Msg(msg)
				}
			}
		}
	}
	return out
}

// decide is filterPools for one set; whole reports that it is served as is.
func decide(p *zones.Pool, set *zones.RRset, h Health) (hs healthySet, whole bool) {
	var serving, up, undrained []dns.RR
	for _, rr := range set.RRs {
		a := zones.AddrOf(rr)
		isUp, drained := h.Up(p.Check, a), h.Drained(a)
		if isUp {
			up = append(up, rr)
		}
		if !drained {
			undrained = append(undrained, rr)
		}
		if isUp && !drained {
			serving = append(serving, rr)
		}
	}
	need := p.Need(len(set.RRs))
	pick := func(rrs []dns.RR) (healthySet, bool) {
		if len(rrs) == len(set.RRs) {
			return healthySet{}, true
		}
		return healthySet{set: set.WithRRs(rrs)}, false
	}
	switch {
	case len(serving) >= need:
		return pick(serving)
	case len(up) >= need:
		return pick(up)
	}
	switch p.OnAllDown {
	case zones.PolicyNone:
		return healthySet{policy: true}, false
	case zones.PolicyServfail:
		return healthySet{servfail: true, policy: true}, false
	}
	if len(undrained) == 0 {
		undrained = set.RRs
	}
	hs, whole = pick(undrained)
	hs.policy = true
	if whole {
		hs.set = set // still record that the policy decided
		return hs, false
	}
	return hs, false
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
