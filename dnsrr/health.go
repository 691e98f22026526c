package dnsrr

import (
	"net/netip"

	"github.com/dnsrr/dnsrr/zones"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// Health tells the server which pool members may be answered. The server
// declares what it needs; the command adapts the health prober to it, so
// this package knows nothing of probing.
type Health interface {
	// Serving reports whether addr, a member of a pool checked by check
	// (nil for a pool without one), is up and not drained.
	Serving(check *zones.Check, addr netip.Addr) bool
	// Drained reports an operator's withdrawal of addr.
	Drained(addr netip.Addr) bool
}

// healthySet is what a pool's address set serves under health checks.
type healthySet struct {
	set      *zones.RRset // the members to serve; nil: none (NODATA)
	servfail bool
}

// healthy returns the set as health allows it, or servfail.
func (st *served) healthy(set *zones.RRset) (*zones.RRset, bool) {
	if hs, ok := st.health[set]; ok {
		return hs.set, hs.servfail
	}
	return set, false
}

// filterPools decides, for every pool member set, what to serve: the
// members that are up when there are enough of them, otherwise the pool's
// policy (by default fail open: every member that is not drained). Each address family is judged
// on its own, so IPv4-only clients are not blackholed because the IPv6
// members are fine. Sets served whole are left out of the map.
func filterPools(snap *zones.Snapshot, h Health, log zerolog.Logger) map[*zones.RRset]healthySet {
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
				var up, undrained []dns.RR
				for _, rr := range set.RRs {
					a := zones.AddrOf(rr)
					if h.Serving(p.Check, a) {
						up = append(up, rr)
					}
					if !h.Drained(a) {
						undrained = append(undrained, rr)
					}
				}
				switch {
				case len(up) == len(set.RRs):
				case len(up) >= p.Need(len(set.RRs)):
					out[set] = healthySet{set: set.WithRRs(up)}
				default:
					log.Warn().Str("pool", p.Name).Str("qtype", dns.TypeToString[typ]).Int("up", len(up)).
						Int("members", len(set.RRs)).Str("policy", p.OnAllDown.String()).Msg("too few pool members up")
					switch p.OnAllDown {
					case zones.PolicyAll:
						// Fail open, but an operator's drain still holds
						// while anything else is left to serve.
						if len(undrained) > 0 && len(undrained) < len(set.RRs) {
							out[set] = healthySet{set: set.WithRRs(undrained)}
						}
					case zones.PolicyNone:
						out[set] = healthySet{}
					case zones.PolicyServfail:
						out[set] = healthySet{servfail: true}
					}
				}
			}
		}
	}
	return out
}
