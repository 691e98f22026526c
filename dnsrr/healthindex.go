package dnsrr

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	"github.com/dnsrr/dnsrr/zones"
	"github.com/miekg/dns"
)

// A health change (one target up or down, one address drained) touches a
// few pools of a zone that may hold a million. poolIndex finds them, and the
// nodes whose fast-path templates include them, so that a change recomputes
// those sets alone, in place, and drops only those templates
// (HealthChangedAt). It is built once per snapshot.
type poolIndex struct {
	snap *zones.Snapshot
	// members lists every pool member by address, sorted.
	members []memberRef
	// cnamesTo lists, per zone and CNAME target name, the nodes holding a
	// CNAME to it: their templates include the target's answer.
	cnamesTo map[*zones.Zone]map[string][]*zones.Node
}

// memberRef is one address of one pool set: the address as 16 bytes
// (IPv4 mapped, as a drain covers both forms), the zone's position in the
// snapshot and the set's slot.
type memberRef struct {
	hi, lo uint64
	zone   int32
	slot   int32
}

func addrWords(a netip.Addr) (hi, lo uint64) {
	b := a.Unmap().As16()
	return be64(b[:8]), be64(b[8:])
}

func be64(b []byte) uint64 { return uint64(be.Uint32(b))<<32 | uint64(be.Uint32(b[4:])) }

func compareMember(a, b memberRef) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

func newPoolIndex(snap *zones.Snapshot) *poolIndex {
	ix := &poolIndex{snap: snap, cnamesTo: map[*zones.Zone]map[string][]*zones.Node{}}
	n := 0
	for _, z := range snap.Zones() {
		for _, p := range z.PoolDefs {
			n += p.MemberCount()
		}
	}
	ix.members = make([]memberRef, 0, n)
	var members []netip.Addr
	for zi, z := range snap.Zones() {
		for _, p := range z.PoolDefs {
			members = p.AppendMembers(members[:0])
			for _, a := range members {
				typ := dns.TypeA
				if !a.Is4() {
					typ = dns.TypeAAAA
				}
				hi, lo := addrWords(a)
				ix.members = append(ix.members, memberRef{hi: hi, lo: lo, zone: int32(zi), slot: int32(setSlot(p, typ))})
			}
		}
		if len(z.PoolDefs) == 0 {
			continue
		}
		to := map[string][]*zones.Node{}
		for n := range z.AllNodes() {
			if c := n.Get(dns.TypeCNAME); c != nil {
				target := strings.ToLower(c.Records()[0].(*dns.CNAME).Target)
				to[target] = append(to[target], n)
			}
		}
		ix.cnamesTo[z] = to
	}
	slices.SortFunc(ix.members, compareMember)
	return ix
}

// setsAt appends to refs the pool sets with a member at addr.
func (ix *poolIndex) setsAt(addr netip.Addr, refs []memberRef) []memberRef {
	hi, lo := addrWords(addr)
	key := memberRef{hi: hi, lo: lo}
	i, _ := slices.BinarySearchFunc(ix.members, key, compareMember)
	for ; i < len(ix.members) && compareMember(ix.members[i], key) == 0; i++ {
		refs = append(refs, ix.members[i])
	}
	return refs
}

// HealthChangedAt recomputes what the pool sets with a member at one of
// addrs serve, after the health view changed for those addresses only (a
// target's state, a drain). Each set changes atomically; the fast path
// drops the templates of the nodes whose answers changed. Without health
// checks, or before a snapshot has its index, it does what HealthChanged
// does.
func (s *Server) HealthChangedAt(addrs []netip.Addr) {
	s.rebuild.Lock()
	defer s.rebuild.Unlock()
	st := s.state.Load()
	if s.health == nil || st.index == nil {
		s.publish(st.snap, nil)
		return
	}
	var refs []memberRef
	for _, a := range addrs {
		refs = st.index.setsAt(a, refs)
	}
	// An address may be in a set twice (IPv4 and its mapped form): decide
	// each set once.
	slices.SortFunc(refs, func(a, b memberRef) int {
		return cmp.Or(cmp.Compare(a.zone, b.zone), cmp.Compare(a.slot, b.slot))
	})
	refs = slices.CompactFunc(refs, func(a, b memberRef) bool { return a.zone == b.zone && a.slot == b.slot })

	// First every set, then the templates: a template built meanwhile from
	// an old set is dropped by the generation check (fastZone.node).
	changed := map[*zones.Zone][]*zones.Node{}
	zs := st.snap.Zones()
	for _, r := range refs {
		z := zs[r.zone]
		p := z.PoolDefs[r.slot/2]
		typ := dns.TypeA
		if r.slot%2 == 1 {
			typ = dns.TypeAAAA
		}
		n := z.Node(p.Name)
		set := n.Get(typ)
		if set == nil {
			continue // the pool has no members of this family
		}
		slot := &st.health[z].sets[r.slot]
		old, hs := slot.Load(), decide(p, set, s.health)
		if samePolicy(old, hs) && sameServing(old, hs, set) {
			continue
		}
		slot.Store(hs)
		if policy := hs != nil && hs.policy; policy != (old != nil && old.policy) {
			logPolicy(s.log, p, set, policy)
		}
		if !sameServing(old, hs, set) {
			changed[z] = append(changed[z], n)
		}
	}
	for z, nodes := range changed {
		fz := st.fast.zones[z]
		if fz == nil {
			continue // no templates in this zone
		}
		fz.gen.Add(1)
		seen := map[*zones.Node]bool{}
		for _, n := range nodes {
			st.index.forget(z, fz, n, seen, 0)
		}
	}
}

// forget drops n's templates and those of the nodes whose CNAME chains
// lead to it (as far as the full path follows them).
func (ix *poolIndex) forget(z *zones.Zone, fz *fastZone, n *zones.Node, seen map[*zones.Node]bool, depth int) {
	if seen[n] {
		return
	}
	seen[n] = true
	fz.forget(n)
	if depth >= maxChase {
		return
	}
	for _, from := range ix.cnamesTo[z][n.Name] {
		ix.forget(z, fz, from, seen, depth+1)
	}
}

func samePolicy(a, b *healthySet) bool {
	return (a != nil && a.policy) == (b != nil && b.policy)
}

// sameServing reports whether two decisions for set serve the same.
func sameServing(a, b *healthySet, set *zones.RRset) bool {
	sa, fa := serving(a, set)
	sb, fb := serving(b, set)
	switch {
	case fa || fb:
		return fa == fb
	case sa == nil || sb == nil:
		return sa == sb
	}
	// ttl_degraded serves copies of the records: equal copies are the same;
	// slow start changes weights.
	return sa == sb || slices.Equal(sa.Weights, sb.Weights) && sa.TTL == sb.TTL && sa.SameRecords(sb)
}

// Ramping lists the members of the pools that have members in slow start
// now: the app recomputes them (HealthChangedAt) every second until their
// weights are whole again.
func (s *Server) Ramping() []netip.Addr {
	var out []netip.Addr
	for _, zh := range s.state.Load().health {
		for i := range zh.sets {
			// A set stays listed until a recompute finds its ramp over.
			if hs := zh.sets[i].Load(); hs != nil && !hs.rampUntil.IsZero() {
				for j := range hs.set.Len() {
					out = append(out, hs.set.Addr(j))
				}
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// serving is what a decision for set serves: its records (nil: none), or
// SERVFAIL.
func serving(hs *healthySet, set *zones.RRset) (*zones.RRset, bool) {
	if hs == nil {
		return set, false
	}
	return hs.set, hs.servfail
}
