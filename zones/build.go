package zones

import (
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/dnsrr/dnsrr/zones/tomlfile"
	"github.com/miekg/dns"
)

// maxTTL is the largest TTL a record may carry (RFC 2181 §8).
const maxTTL = 1<<31 - 1

// headerAndQuestion is room for a header and the longest question.
const headerAndQuestion = 12 + 255 + 4

// entry is one record on its way into a zone, with where it came from:
// element idx (or, when -1, the whole value) of key in table at. Lines are
// looked up only when an error needs one: locating every key of a large
// zone would cost more than decoding it.
type entry struct {
	rr    dns.RR
	at    *tomlfile.Table // nil for master files
	key   string
	idx   int
	order Order
	// masterLine is where a master file's record starts (0: unknown).
	masterLine int
}

func (e *entry) line() int {
	switch {
	case e.at == nil:
		return e.masterLine
	case e.idx < 0:
		return e.at.Line(e.key)
	}
	return e.at.ElemLine(e.key, e.idx)
}

// source is what a loader hands to build: one file's records.
type source struct {
	file    string
	origin  string     // lower-case, fully qualified
	line    func() int // line of the origin, for zone-wide errors
	entries []entry
	// foldDuplicates folds identical records silently, as BIND and NSD do
	// for master files; TOML zones are written by hand for dnsrr, where a
	// repeated pool address is a mistake worth reporting.
	foldDuplicates bool
	// apexReported: the loader already said the SOA or NS is missing.
	apexReported bool
	pools        []*Pool
	limits       Limits // zero fields: defaults
}

func (src *source) originLine() int {
	if src.line == nil {
		return 0
	}
	return src.line()
}

// build validates a file's records and assembles the zone. Every problem is
// added to errs; the zone is nil if there were any.
func build(src *source, errs *tomlfile.List, p pace) *Zone {
	before := errs.Len()
	errorf := func(e *entry, format string, args ...any) {
		key := e.rr.Header().Name + " " + dns.TypeToString[e.rr.Header().Rrtype]
		if e.at != nil {
			key = e.at.KeyPath(e.key)
		}
		errs.Add(src.file, e.line(), key, format, args...)
	}
	origin := src.origin
	lim := src.limits.WithDefaults()
	if len(src.entries) > lim.MaxRecords {
		errs.Append(tooManyRecords(src.file, lim))
		return nil
	}

	// Group into RRsets by owner and type, in file order. Records of one
	// set usually follow each other, so the previous group is tried before
	// the map.
	type setKey struct {
		name string
		typ  uint16
	}
	type group struct {
		key     setKey
		entries []*entry
		full    bool // above MaxRRsetRecords: reported once
	}
	index := map[setKey]int{}
	dups := dupIndex{}
	var groups []group
	last := -1
	packBuf := make([]byte, dns.MaxMsgSize)
	for i := range src.entries {
		if !p.yield(i) {
			break
		}
		e := &src.entries[i]
		h := e.rr.Header()
		h.Name = strings.ToLower(dns.Fqdn(h.Name))
		if h.Class != dns.ClassINET {
			errorf(e, "class %s is not served; only IN", dns.ClassToString[h.Class])
			continue
		}
		if !inZone(origin, h.Name) {
			errorf(e, "%s is outside the zone %s", h.Name, origin)
			continue
		}
		if h.Ttl > maxTTL {
			errorf(e, "TTL %d is above the maximum %d (RFC 2181 §8)", h.Ttl, maxTTL)
			continue
		}
		if i := strings.LastIndex(h.Name, "*"); i > 0 || (i == 0 && h.Name[1] != '.') {
			errorf(e, "a wildcard must be the whole leftmost label")
			continue
		}
		if err := checkRdata(e.rr, packBuf); err != nil {
			errorf(e, "%v", err)
			continue
		}
		k := setKey{h.Name, h.Rrtype}
		g, found := last, last >= 0 && groups[last].key == k
		if !found {
			g, found = index[k]
		}
		if !found {
			g = len(groups)
			groups = append(groups, group{key: k})
			index[k] = g
		} else if dup := dups.find(g, groups[g].entries, e.rr); dup != nil {
			if !src.foldDuplicates {
				errorf(e, "duplicate record %q (first at line %d)", rdata(e.rr), dup.line())
			}
			continue
		}
		if len(groups[g].entries) == lim.MaxRRsetRecords {
			if !groups[g].full {
				groups[g].full = true
				errs.Append(rrsetTooLarge(src.file, e.line(), k.name, k.typ, lim))
			}
			continue
		}
		groups[g].entries = append(groups[g].entries, e)
		dups.add(g, e)
		last = g
	}

	z := &Zone{Origin: origin, File: src.file, nodes: make(map[string]*Node, len(groups))}
	node := func(name string) *Node {
		n := z.nodes[name]
		if n == nil {
			n = &Node{Name: name}
			z.nodes[name] = n
		}
		return n
	}
	var prev *Node
	for i, g := range groups {
		if !p.yield(i) {
			break
		}
		es := g.entries
		set := &RRset{Type: g.key.typ, TTL: es[0].rr.Header().Ttl, Order: es[0].order, rotation: new(atomic.Uint32)}
		set.RRs = make([]dns.RR, 0, len(es))
		for _, e := range es {
			if e.rr.Header().Ttl != set.TTL {
				errorf(e, "TTL %d differs from TTL %d of the same RRset (RFC 2181 §5.2)", e.rr.Header().Ttl, set.TTL)
			}
			set.RRs = append(set.RRs, e.rr)
		}
		n := prev
		if n == nil || n.Name != g.key.name {
			n = node(g.key.name)
		}
		n.Sets = append(n.Sets, set)
		z.Records += len(set.RRs)
		prev = n
	}
	sets := func(name string, typ uint16) []*entry {
		if g, ok := index[setKey{name, typ}]; ok {
			return groups[g].entries
		}
		return nil
	}
	firstEntry := func(name string, typ uint16) *entry { return sets(name, typ)[0] }

	// An RRset must fit in one message (RFC 2181 §9 forbids sending part of
	// one): over TCP nothing else can be done about it.
	for _, g := range groups {
		size := headerAndQuestion
		for _, e := range g.entries {
			size += dns.Len(e.rr)
		}
		if size > dns.MaxMsgSize {
			// Uncompressed it does not fit; measure it as it would be sent.
			m := &dns.Msg{Compress: true}
			for _, e := range g.entries {
				m.Answer = append(m.Answer, e.rr)
			}
			size = headerAndQuestion + m.Len() - 12
		}
		if size > dns.MaxMsgSize {
			errorf(g.entries[0], "the %s set of %s is %d bytes: too big for one DNS message (64 KiB)",
				dns.TypeToString[g.key.typ], g.key.name, size)
		}
	}

	// Apex: exactly one SOA, at least one NS.
	apex := node(origin)
	z.Apex = apex
	if s := apex.Get(dns.TypeSOA); s == nil {
		if !src.apexReported {
			errs.Add(src.file, src.originLine(), "", "zone %s has no SOA record", origin)
		}
	} else if len(s.RRs) > 1 {
		errorf(sets(origin, dns.TypeSOA)[1], "zone %s has more than one SOA record", origin)
	} else {
		z.SOA = s
		soa := s.RRs[0].(*dns.SOA)
		z.Serial = soa.Serial
		neg := dns.Copy(soa)
		neg.Header().Ttl = min(soa.Hdr.Ttl, soa.Minttl)
		z.Negative = []dns.RR{neg}
	}
	if apex.Get(dns.TypeNS) == nil && !src.apexReported {
		errs.Add(src.file, src.originLine(), "", "zone %s has no NS records at the apex", origin)
	}

	// Checks per node; mark delegation points.
	for name, n := range z.nodes {
		for _, s := range n.Sets {
			if s.Type == dns.TypeSOA && name != origin {
				errorf(firstEntry(name, s.Type), "SOA record is only allowed at the apex %s", origin)
			}
		}
		if n.Get(dns.TypeCNAME) != nil {
			e := firstEntry(name, dns.TypeCNAME)
			switch {
			case name == origin:
				errorf(e, "CNAME is not allowed at the zone apex (RFC 1912 §2.4)")
			case len(n.Get(dns.TypeCNAME).RRs) > 1:
				errorf(e, "a name can have only one CNAME")
			case len(n.Sets) > 1:
				errorf(e, "CNAME cannot coexist with other data at %s (RFC 1034 §3.6.2)", name)
			}
		}
		if d := n.Get(dns.TypeDNAME); d != nil && len(d.RRs) > 1 {
			errorf(sets(name, dns.TypeDNAME)[1], "a name can have only one DNAME (RFC 6672 §2.4)")
		}
		if name != origin && n.Get(dns.TypeNS) != nil {
			n.Cut = true
			if strings.HasPrefix(name, "*.") {
				errorf(firstEntry(name, dns.TypeNS), "a wildcard cannot be delegated (RFC 4592 §4.2)")
			}
		}
		if name == origin && n.Get(dns.TypeDS) != nil {
			errorf(firstEntry(name, dns.TypeDS), "DS records belong in the parent zone, not at the apex")
		} else if n.Get(dns.TypeDS) != nil && n.Get(dns.TypeNS) == nil {
			errorf(firstEntry(name, dns.TypeDS), "a DS record belongs at a delegation: %s has no NS records", name)
		}
	}

	dnames := dnameOwners(z)
	occludedByDNAME(z, dnames, src, errorf, firstEntry)

	// Names referenced by NS records, which may need glue.
	nsTargets := map[string]bool{}
	for _, n := range z.nodes {
		if s := n.Get(dns.TypeNS); s != nil {
			for _, rr := range s.RRs {
				nsTargets[strings.ToLower(rr.(*dns.NS).Ns)] = true
			}
		}
	}

	// Data at or below a cut belongs to the child: only DS at the cut, and
	// address records named by an NS record (glue) below it, are allowed.
	for name, n := range z.nodes {
		cut := z.cutAbove(name)
		if cut == "" {
			continue
		}
		for _, s := range n.Sets {
			e := firstEntry(name, s.Type)
			switch {
			case name == cut && (s.Type == dns.TypeNS || s.Type == dns.TypeDS):
			case name == cut && (s.Type == dns.TypeA || s.Type == dns.TypeAAAA) && nsTargets[name]:
				// Glue for a name server named like the child zone itself.
			case name == cut:
				errorf(e, "%s is a delegation point: only NS and DS records may sit there, not %s",
					cut, dns.TypeToString[s.Type])
			case s.Type == dns.TypeA || s.Type == dns.TypeAAAA:
				if !nsTargets[name] {
					errorf(e, "glue %s below the delegation %s is not named by any NS record", name, cut)
				}
			default:
				errorf(e, "%s record below the delegation %s would never be served", dns.TypeToString[s.Type], cut)
			}
		}
	}

	// NS targets inside the zone need addresses (glue when below a cut);
	// NS, MX and SRV targets must not be aliases (RFC 2181 §10.3).
	for name, n := range z.nodes {
		for _, s := range n.Sets {
			for _, rr := range s.RRs {
				target := targetOf(rr)
				if target == "" || !dns.IsSubDomain(origin, target) {
					continue
				}
				t := z.nodes[target]
				e := firstEntry(name, s.Type)
				if t != nil && t.Get(dns.TypeCNAME) != nil {
					errorf(e, "%s target %s is a CNAME, which RFC 2181 §10.3 forbids", dns.TypeToString[s.Type], target)
				}
				if owner := dnameAbove(z, dnames, target); owner != "" {
					errorf(e, "%s target %s is below the DNAME at %s: an alias, which RFC 2181 §10.3 forbids", dns.TypeToString[s.Type], target, owner)
					continue
				}
				if s.Type == dns.TypeNS && (t == nil || (t.Get(dns.TypeA) == nil && t.Get(dns.TypeAAAA) == nil)) {
					if cut := z.cutAbove(target); cut != "" || name == origin {
						errorf(e, "name server %s is inside the zone but has no A or AAAA record", target)
					}
				}
			}
		}
	}

	if errs.Len() > before {
		return nil
	}

	// Pools: their address sets point back at them, for health checks.
	for _, p := range src.pools {
		n := z.nodes[p.Name]
		if n == nil {
			continue
		}
		if cut := z.cutAbove(p.Name); cut != "" {
			// Glue is the child's data, handed out in referrals: it is not
			// ours to check or drain.
			errorf(firstEntry(p.Name, n.Sets[0].Type), "a pool cannot be at or below the delegation %s", cut)
			continue
		}
		for _, typ := range []uint16{dns.TypeA, dns.TypeAAAA} {
			if s := n.Get(typ); s != nil {
				s.Pool = p
			}
		}
		z.PoolDefs = append(z.PoolDefs, p)
	}
	// Every other name with several addresses (master files, [records]) is
	// a pool too, without a check: it can still be drained.
	for name, n := range z.nodes {
		a, aaaa := n.Get(dns.TypeA), n.Get(dns.TypeAAAA)
		if (a != nil && a.Pool != nil) || (aaaa != nil && aaaa.Pool != nil) || z.cutAbove(name) != "" {
			continue
		}
		if (a == nil || len(a.RRs) < 2) && (aaaa == nil || len(aaaa.RRs) < 2) {
			continue // one address per family: nothing to share
		}
		p := &Pool{Name: name}
		for _, s := range []*RRset{a, aaaa} {
			if s != nil {
				for _, rr := range s.RRs {
					p.Members = append(p.Members, AddrOf(rr))
				}
				s.Pool = p
			}
		}
		z.PoolDefs = append(z.PoolDefs, p)
	}
	// Sorting a large zone's pools takes a while; the rest goes on meanwhile.
	sortPools := func() {
		slices.SortFunc(z.PoolDefs, func(a, b *Pool) int { return strings.Compare(a.Name, b.Name) })
		for i, p := range z.PoolDefs {
			p.ID = i
		}
	}
	if len(z.PoolDefs) < 1<<14 {
		sortPools() // not worth a goroutine (in the background, a thread)
	} else {
		sorted := make(chan struct{})
		p.spawn(func() {
			defer close(sorted)
			sortPools()
		})
		defer func() { <-sorted }()
	}

	// Additional data, empty non-terminals, sorting and counts.
	for _, n := range z.nodes {
		for _, s := range n.Sets {
			s.Additional = z.additionalFor(s)
		}
		sort.Slice(n.Sets, func(i, j int) bool { return n.Sets[i].Type < n.Sets[j].Type })
		if len(n.Sets) > 0 {
			z.Names++
		}
		if s := n.Get(dns.TypeA); s != nil && len(s.RRs) > 1 {
			z.Pools++
		} else if s := n.Get(dns.TypeAAAA); s != nil && len(s.RRs) > 1 {
			z.Pools++
		}
	}
	for name := range z.nodes {
		for off, end := dns.NextLabel(name, 0); !end && inZone(origin, name[off:]); off, end = dns.NextLabel(name, off) {
			node(name[off:])
		}
		if len(z.nodes) > lim.MaxNames {
			errs.Append(tooManyNames(src.file, lim))
			return nil
		}
	}
	id := 0
	for name, n := range z.nodes {
		if strings.HasPrefix(name, "*.") {
			parent := name[2:]
			if parent == "" {
				parent = "." // "*." in the root zone
			}
			// Every ancestor inside the zone was made a node just above.
			if p := z.nodes[parent]; p != nil {
				p.Wildcard = n
			}
		}
		n.ID = id
		id++
	}
	return z
}

// occludedByDNAME reports data below a DNAME: a DNAME redirects every name
// below its owner, so records there would never be served (RFC 6672 §2.3).
// Only zones with a DNAME pay for the walk.
func occludedByDNAME(z *Zone, owners map[string]bool, src *source, errorf func(*entry, string, ...any), firstEntry func(string, uint16) *entry) {
	if len(owners) == 0 {
		return
	}
	pools := map[string]bool{}
	for _, p := range src.pools {
		pools[p.Name] = true
	}
	for name, n := range z.nodes {
		if owner := dnameAbove(z, owners, name); owner != "" {
			poolReported := false
			for _, s := range n.Sets {
				e := firstEntry(name, s.Type)
				switch {
				case pools[name] && (s.Type == dns.TypeA || s.Type == dns.TypeAAAA):
					if !poolReported {
						errorf(e, "pool %s is below the DNAME at %s: its addresses would never be served (RFC 6672 §2.3)", name, owner)
					}
					poolReported = true
				default:
					errorf(e, "%s record below the DNAME at %s would never be served (RFC 6672 §2.3)", dns.TypeToString[s.Type], owner)
				}
			}
		}
	}
}

// dnameOwners lists the zone's names that hold a DNAME.
func dnameOwners(z *Zone) map[string]bool {
	owners := map[string]bool{}
	for name, n := range z.nodes {
		if n.Get(dns.TypeDNAME) != nil {
			owners[name] = true
		}
	}
	return owners
}

// dnameAbove returns the owner of a DNAME strictly above the lower-case
// name inside the zone, or "".
func dnameAbove(z *Zone, owners map[string]bool, name string) string {
	if len(owners) == 0 || name == z.Origin {
		return ""
	}
	for off, end := dns.NextLabel(name, 0); !end && inZone(z.Origin, name[off:]); off, end = dns.NextLabel(name, off) {
		if off > 0 && owners[name[off:]] {
			return name[off:]
		}
	}
	return ""
}

// Delegation returns the delegation point at or above the lower-case name,
// or nil when the zone itself is authoritative for it. Load rejects cuts
// below cuts, but the highest one is the one that counts anyway.
func (z *Zone) Delegation(name string) *Node {
	var cut *Node
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		anc := name[off:]
		if len(anc) <= len(z.Origin) {
			break
		}
		if n := z.nodes[anc]; n != nil && n.Cut {
			cut = n
		}
	}
	return cut
}

// cutAbove returns the delegation point at or above name inside the zone, or "".
func (z *Zone) cutAbove(name string) string {
	if n := z.Delegation(name); n != nil {
		return n.Name
	}
	return ""
}

// additionalFor collects the addresses of the in-zone names an NS, MX or SRV
// set points at.
func (z *Zone) additionalFor(s *RRset) []dns.RR {
	var out []dns.RR
	seen := map[string]bool{}
	for _, rr := range s.RRs {
		target := targetOf(rr)
		if target == "" || seen[target] {
			continue
		}
		seen[target] = true
		// Addresses occluded by a cut are glue: only referrals carry them.
		if s.Type != dns.TypeNS && z.cutAbove(target) != "" {
			continue
		}
		if t := z.nodes[target]; t != nil {
			for _, typ := range []uint16{dns.TypeA, dns.TypeAAAA} {
				if as := t.Get(typ); as != nil {
					out = append(out, as.RRs...)
				}
			}
		}
	}
	return out
}

// targetOf is the lower-case name an NS, MX or SRV record points at.
func targetOf(rr dns.RR) string {
	switch rr := rr.(type) {
	case *dns.NS:
		return strings.ToLower(rr.Ns)
	case *dns.MX:
		return strings.ToLower(rr.Mx)
	case *dns.SRV:
		return strings.ToLower(rr.Target)
	}
	return ""
}

func findDuplicate(es []*entry, rr dns.RR) *entry {
	addr := AddrOf(rr) // valid for A and AAAA only: compared directly, faster
	for _, e := range es {
		if addr.IsValid() && AddrOf(e.rr) == addr || !addr.IsValid() && dns.IsDuplicate(e.rr, rr) {
			return e
		}
	}
	return nil
}

// inZone reports whether name is origin or below it (both lower-case and
// fully qualified). A plain suffix test does it unless the name holds
// escapes (an escaped dot is not a label boundary).
func inZone(origin, name string) bool {
	if origin == "." || name == origin {
		return true
	}
	if strings.IndexByte(name, '\\') < 0 {
		return len(name) > len(origin) && strings.HasSuffix(name, origin) && name[len(name)-len(origin)-1] == '.'
	}
	return dns.IsSubDomain(origin, name)
}

// rdata is the presentation form of a record's data, for messages.
func rdata(rr dns.RR) string {
	s := rr.String()
	h := rr.Header().String()
	return strings.TrimPrefix(s, h)
}
