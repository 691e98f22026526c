package zones

import (
	"net"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/dnsrr/dnsrr/zones/tomlfile"
	"github.com/miekg/dns"
)

// maxTTL is the largest TTL a record may carry (RFC 2181 §8).
const maxTTL = 1<<31 - 1

// headerAndQuestion is room for a header and the longest question.
const headerAndQuestion = 12 + 255 + 4

// entry is one record on its way into a zone, with where it came from.
// Lines are looked up only when an error needs one: locating every key of
// a large zone would cost more than decoding it. It is kept small: a
// large master file has millions.
type entry struct {
	rr    dns.RR
	toml  *tomlPlace // nil for master files
	order Order
	// skip: build set the record aside (an error, or a duplicate folded).
	skip bool
	// masterLine is where a master file's record starts (0: unknown).
	masterLine int
}

// tomlPlace is where a TOML zone's record came from: element idx (or, when
// -1, the whole value) of key in table at.
type tomlPlace struct {
	at  *tomlfile.Table
	key string
	idx int
}

func (e *entry) line() int {
	switch {
	case e.toml == nil:
		return e.masterLine
	case e.toml.idx < 0:
		return e.toml.at.Line(e.toml.key)
	}
	return e.toml.at.ElemLine(e.toml.key, e.toml.idx)
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

// nodeSlab hands out Nodes and RRsets from chunks: a large zone has
// millions, and one allocation per chunk is cheaper for the allocator and
// the garbage collector than one each.
type nodeSlab struct {
	nodes []Node
	sets  []RRset
	ptrs  []*RRset // Node.Sets of one set
	rrs   []dns.RR // RRset.RRs
	ipv4  []byte
}

const slabChunk = 1024

func (s *nodeSlab) node() *Node {
	if len(s.nodes) == 0 {
		s.nodes = make([]Node, slabChunk)
	}
	n := &s.nodes[0]
	s.nodes = s.nodes[1:]
	return n
}

func (s *nodeSlab) set() *RRset {
	if len(s.sets) == 0 {
		s.sets = make([]RRset, slabChunk)
	}
	set := &s.sets[0]
	s.sets = s.sets[1:]
	return set
}

// firstSet makes s the only set of a node.
func (s *nodeSlab) firstSet(set *RRset) []*RRset {
	if len(s.ptrs) == 0 {
		s.ptrs = make([]*RRset, slabChunk)
	}
	out := s.ptrs[:1:1]
	out[0] = set
	s.ptrs = s.ptrs[1:]
	return out
}

// records is room for n records of a set; appending more moves them out.
func (s *nodeSlab) records(n int) []dns.RR {
	if n > slabChunk/4 {
		return make([]dns.RR, 0, n)
	}
	if len(s.rrs) < n {
		s.rrs = make([]dns.RR, 4*slabChunk)
	}
	out := s.rrs[:0:n]
	s.rrs = s.rrs[n:]
	return out
}

// compactA stores an A record's address in 4 bytes of a shared chunk: the
// parser makes each one a 16-byte slice of its own.
func (s *nodeSlab) compactA(rr dns.RR) {
	a, ok := rr.(*dns.A)
	if !ok || len(a.A) != 16 {
		return
	}
	ip4 := a.A.To4()
	if ip4 == nil {
		return
	}
	if len(s.ipv4) < 4 {
		s.ipv4 = make([]byte, 4*slabChunk)
	}
	a.A = net.IP(s.ipv4[:4:4])
	copy(a.A, ip4)
	s.ipv4 = s.ipv4[4:]
}

// build validates a file's records and assembles the zone. Every problem is
// added to errs; the zone is nil if there were any.
func build(src *source, errs *tomlfile.List, p pace) *Zone {
	before := errs.Len()
	errorf := func(e *entry, format string, args ...any) {
		key := e.rr.Header().Name + " " + dns.TypeToString[e.rr.Header().Rrtype]
		if e.toml != nil {
			key = e.toml.at.KeyPath(e.toml.key)
		}
		errs.Add(src.file, e.line(), key, format, args...)
	}
	origin := src.origin
	lim := src.limits.WithDefaults()
	if len(src.entries) > lim.MaxRecords {
		errs.Append(tooManyRecords(src.file, lim))
		return nil
	}

	// Nodes are kept in a slice in the order they are made, which is their
	// ID: the passes below walk it rather than the map, in file order.
	var slab nodeSlab
	var list []*Node
	z := &Zone{Origin: origin, File: src.file, nodes: make(map[string]*Node, ownerRuns(src.entries))}
	node := func(name string) *Node {
		n := z.nodes[name]
		if n == nil {
			n = slab.node()
			n.Name, n.ID = name, len(list)
			z.nodes[name] = n
			list = append(list, n)
		}
		return n
	}
	// The entries of a set are found again only for errors: from its first
	// one on, those with its owner and type that were not set aside.
	setEntry := func(n *Node, s *RRset, k int) *entry {
		for i := int(s.first); i < len(src.entries); i++ {
			e := &src.entries[i]
			if h := e.rr.Header(); !e.skip && h.Rrtype == s.Type && h.Name == n.Name {
				if k == 0 {
					return e
				}
				k--
			}
		}
		return &src.entries[s.first]
	}

	// full marks the sets cut at max_rrset_records (reported once); dups
	// indexes the records of large sets, to find duplicates.
	var full map[*RRset]bool
	dups := dupIndex{}

	// Group into nodes and RRsets, in file order. Records of one set
	// usually follow each other, so the previous set is tried first.
	packBuf := make([]byte, dns.MaxMsgSize)
	var prevNode *Node
	var prevSet *RRset
	for i := range src.entries {
		if !p.yield(i) {
			break
		}
		e := &src.entries[i]
		h := e.rr.Header()
		raw := h.Name
		if badEscape(h.Name) {
			errorf(e, "a \\DDD escape in a name stands for one byte, \\000 to \\255")
			continue
		}
		h.Name = canonicalName(dns.Fqdn(h.Name))
		e.skip = true
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
		if msg := metaType(h.Rrtype); msg != "" {
			errorf(e, "%s", msg)
			continue
		}
		if err := checkRdata(e.rr, packBuf); err != nil {
			errorf(e, "%v", err)
			continue
		}
		unescapeTarget(e.rr)
		n := prevNode
		if n == nil || n.Name != h.Name {
			n = node(h.Name)
		}
		h.Name = n.Name // one string per owner, not one per record
		s := prevSet
		if s == nil || prevNode != n || s.Type != h.Rrtype {
			s = n.Get(h.Rrtype)
		}
		if s == nil {
			s = slab.set()
			s.Type, s.TTL, s.Order, s.first = h.Rrtype, h.Ttl, e.order, int32(i)
			if s.Order == OrderCyclic {
				s.rotation = new(atomic.Uint32)
			}
			s.RRs = slab.records(setRun(src.entries[i:], raw, h.Rrtype))
			if n.Sets == nil {
				n.Sets = slab.firstSet(s)
			} else {
				n.Sets = append(n.Sets, s)
			}
		} else if j := dups.find(s, e.rr); j >= 0 {
			if !src.foldDuplicates {
				errorf(e, "duplicate record %q (first at line %d)", rdata(e.rr), setEntry(n, s, j).line())
			}
			continue
		}
		if len(s.RRs) == lim.MaxRRsetRecords {
			if !full[s] {
				if full == nil {
					full = map[*RRset]bool{}
				}
				full[s] = true
				errs.Append(rrsetTooLarge(src.file, e.line(), n.Name, s.Type, lim))
			}
			continue
		}
		e.skip = false
		slab.compactA(e.rr)
		dups.add(s, len(s.RRs), e.rr)
		s.RRs = append(s.RRs, e.rr)
		z.Records++
		prevNode, prevSet = n, s
	}

	// Apex: exactly one SOA, at least one NS.
	apex := node(origin)
	z.Apex = apex
	if s := apex.Get(dns.TypeSOA); s == nil {
		if !src.apexReported {
			errs.Add(src.file, src.originLine(), "", "zone %s has no SOA record", origin)
		}
	} else if len(s.RRs) > 1 {
		errorf(setEntry(apex, s, 1), "zone %s has more than one SOA record", origin)
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

	// Checks per set and per node; mark delegation points, and note DNAME
	// owners and the names NS records point at (which may need glue).
	dnames := map[string]bool{}
	nsTargets := map[string]bool{}
	hasCuts := false
	for i, n := range list {
		if !p.yield(i) {
			break
		}
		name := n.Name
		for _, s := range n.Sets {
			checkSet(n, s, setEntry, errorf)
			switch {
			case s.Type == dns.TypeSOA && name != origin:
				errorf(src.firstEntry(s), "SOA record is only allowed at the apex %s", origin)
			case s.Type == dns.TypeNS:
				for _, rr := range s.RRs {
					nsTargets[strings.ToLower(rr.(*dns.NS).Ns)] = true
				}
			}
		}
		if len(n.Sets) == 1 && !nodeRule(n.Sets[0].Type) {
			continue // the common case: nothing below applies
		}
		if c := n.Get(dns.TypeCNAME); c != nil {
			e := src.firstEntry(c)
			switch {
			case name == origin:
				errorf(e, "CNAME is not allowed at the zone apex (RFC 1912 §2.4)")
			case len(c.RRs) > 1:
				errorf(e, "a name can have only one CNAME")
			case len(n.Sets) > 1:
				errorf(e, "CNAME cannot coexist with other data at %s (RFC 1034 §3.6.2)", name)
			}
		}
		if d := n.Get(dns.TypeDNAME); d != nil {
			dnames[name] = true
			if len(d.RRs) > 1 {
				errorf(setEntry(n, d, 1), "a name can have only one DNAME (RFC 6672 §2.4)")
			}
		}
		ns := n.Get(dns.TypeNS)
		if name != origin && ns != nil {
			n.Cut, hasCuts = true, true
			if strings.HasPrefix(name, "*.") {
				errorf(src.firstEntry(ns), "a wildcard cannot be delegated (RFC 4592 §4.2)")
			}
		}
		if ds := n.Get(dns.TypeDS); ds == nil {
		} else if name == origin {
			errorf(src.firstEntry(ds), "DS records belong in the parent zone, not at the apex")
		} else if ns == nil {
			errorf(src.firstEntry(ds), "a DS record belongs at a delegation: %s has no NS records", name)
		}
	}
	// cutAbove is the highest delegation at or above a name inside the
	// zone, or "" (Zone.cutAbove, with a map of the cuts alone: smaller
	// than the map of every node, so cheaper to look up).
	cuts := map[string]bool{}
	if hasCuts {
		for _, n := range list {
			if n.Cut {
				cuts[n.Name] = true
			}
		}
	}
	cutAbove := func(name string) string {
		if len(cuts) == 0 {
			return ""
		}
		cut := ""
		for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
			anc := name[off:]
			if len(anc) <= len(origin) {
				break
			}
			if cuts[anc] {
				cut = anc
			}
		}
		return cut
	}

	occludedByDNAME(z, list, dnames, src, errorf)

	for i, n := range list {
		if !p.yield(i) {
			break
		}
		name := n.Name
		// Data at or below a cut belongs to the child: only DS at the cut,
		// and address records named by an NS record (glue) below it, are
		// allowed.
		if cut := cutAbove(name); cut != "" {
			for _, s := range n.Sets {
				e := src.firstEntry(s)
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
		// NS targets inside the zone need addresses (glue when below a
		// cut); NS, MX and SRV targets must not be aliases (RFC 2181 §10.3).
		for _, s := range n.Sets {
			if !hasTargets(s.Type) {
				continue
			}
			for _, rr := range s.RRs {
				target := targetOf(rr)
				if target == "" || !dns.IsSubDomain(origin, target) {
					continue
				}
				t := z.nodes[target]
				e := src.firstEntry(s)
				if t != nil && t.Get(dns.TypeCNAME) != nil {
					errorf(e, "%s target %s is a CNAME, which RFC 2181 §10.3 forbids", dns.TypeToString[s.Type], target)
				}
				if owner := dnameAbove(z, dnames, target); owner != "" {
					errorf(e, "%s target %s is below the DNAME at %s: an alias, which RFC 2181 §10.3 forbids", dns.TypeToString[s.Type], target, owner)
					continue
				}
				if s.Type == dns.TypeNS && (t == nil || (t.Get(dns.TypeA) == nil && t.Get(dns.TypeAAAA) == nil)) {
					if cut := cutAbove(target); cut != "" || name == origin {
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
		if cut := cutAbove(p.Name); cut != "" {
			// Glue is the child's data, handed out in referrals: it is not
			// ours to check or drain.
			errorf(src.firstEntry(n.Sets[0]), "a pool cannot be at or below the delegation %s", cut)
			continue
		}
		p.setAddresses(n.Get(dns.TypeA), n.Get(dns.TypeAAAA))
		z.PoolDefs = append(z.PoolDefs, p)
	}
	// No error is found past this point: the records' places can go
	// before the rest of the zone is made.
	src.entries = nil

	// Every other name with several addresses (master files, [records]) is
	// a pool too, without a check: it can still be drained. Then additional
	// data, sorting, counts and empty non-terminals, in one pass.
	var poolSlab []Pool
	var wildcards []*Node
	withData := len(list)
	madeAbove := "" // the last ancestor whose own ancestors are made
	for i, n := range list[:withData] {
		name := n.Name
		a, aaaa := n.Get(dns.TypeA), n.Get(dns.TypeAAAA)
		if (a != nil && len(a.RRs) > 1) || (aaaa != nil && len(aaaa.RRs) > 1) {
			z.Pools++
			if (a == nil || a.Pool == nil) && (aaaa == nil || aaaa.Pool == nil) && cutAbove(name) == "" {
				if len(poolSlab) == 0 {
					poolSlab = make([]Pool, slabChunk)
				}
				p := &poolSlab[0]
				poolSlab = poolSlab[1:]
				p.Name = name
				p.setAddresses(a, aaaa)
				z.PoolDefs = append(z.PoolDefs, p)
			}
		}
		for _, s := range n.Sets {
			if hasTargets(s.Type) {
				s.Additional = z.additionalFor(s, cutAbove)
			}
		}
		if len(n.Sets) > 1 {
			slices.SortFunc(n.Sets, func(a, b *RRset) int { return int(a.Type) - int(b.Type) })
		}
		if len(n.Sets) > 0 {
			z.Names++
		}
		if strings.HasPrefix(name, "*.") {
			wildcards = append(wildcards, n)
		}
		// Make the ancestors inside the zone nodes, up to one whose own
		// ancestors are known to be made: one walked already (made before
		// this one, or an empty non-terminal made here).
		for off, end := dns.NextLabel(name, 0); !end && inZone(origin, name[off:]); off, end = dns.NextLabel(name, off) {
			if off == 0 {
				continue
			}
			if name[off:] == madeAbove {
				break
			}
			anc := z.nodes[name[off:]]
			if anc != nil && (anc.ID < i || anc.ID >= withData) {
				madeAbove = anc.Name
				break
			}
			if anc == nil {
				anc = node(name[off:])
			}
			madeAbove = anc.Name
		}
		if len(list) > lim.MaxNames { // empty non-terminals count too
			errs.Append(tooManyNames(src.file, lim))
			return nil
		}
	}
	for _, w := range wildcards {
		parent := w.Name[2:]
		if parent == "" {
			parent = "." // "*." in the root zone
		}
		// Every ancestor inside the zone was made a node just above.
		if p := z.nodes[parent]; p != nil {
			p.Wildcard = w
		}
	}
	// Pools in name order, numbered (Pool.ID).
	slices.SortFunc(z.PoolDefs, func(a, b *Pool) int { return strings.Compare(a.Name, b.Name) })
	for i, p := range z.PoolDefs {
		p.ID = i
	}
	return z
}

// checkSet reports a set whose records disagree on the TTL (RFC 2181 §5.2)
// or that does not fit in one message (RFC 2181 §9 forbids sending part of
// one: over TCP nothing else can be done about it).
func checkSet(n *Node, s *RRset, setEntry func(*Node, *RRset, int) *entry, errorf func(*entry, string, ...any)) {
	size := headerAndQuestion
	for j, rr := range s.RRs {
		if rr.Header().Ttl != s.TTL {
			errorf(setEntry(n, s, j), "TTL %d differs from TTL %d of the same RRset (RFC 2181 §5.2)", rr.Header().Ttl, s.TTL)
		}
		size += dns.Len(rr)
	}
	if size > dns.MaxMsgSize {
		// Uncompressed it does not fit; measure it as it would be sent.
		m := &dns.Msg{Compress: true, Answer: s.RRs}
		size = headerAndQuestion + m.Len() - 12
	}
	if size > dns.MaxMsgSize {
		errorf(setEntry(n, s, 0), "the %s set of %s is %d bytes: too big for one DNS message (64 KiB)",
			dns.TypeToString[s.Type], n.Name, size)
	}
}

// ownerRuns counts the runs of records with the same owner as written: as
// many nodes as a file that keeps each owner's records together has.
func ownerRuns(es []entry) int {
	runs, prev := 0, ""
	for i := range es {
		if name := es[i].rr.Header().Name; i == 0 || name != prev {
			runs, prev = runs+1, name
		}
	}
	return runs
}

// setRun counts the records at the start of es with this owner (as
// written) and type: the room a new set needs, usually.
func setRun(es []entry, owner string, typ uint16) int {
	k := 1
	for k < len(es) {
		if h := es[k].rr.Header(); h.Rrtype != typ || h.Name != owner {
			break
		}
		k++
	}
	return k
}

// nodeRule reports whether build checks sets of the type against the rest
// of their node.
func nodeRule(t uint16) bool {
	return t == dns.TypeCNAME || t == dns.TypeNS || t == dns.TypeDNAME || t == dns.TypeDS
}

// hasTargets reports whether records of the type name other names whose
// addresses go in the additional section.
func hasTargets(t uint16) bool {
	return t == dns.TypeNS || t == dns.TypeMX || t == dns.TypeSRV
}

// firstEntry is the entry of the first record of s, for errors about the
// set as a whole.
func (src *source) firstEntry(s *RRset) *entry { return &src.entries[s.first] }

// occludedByDNAME reports data below a DNAME: a DNAME redirects every name
// below its owner, so records there would never be served (RFC 6672 §2.3).
// Only zones with a DNAME pay for the walk.
func occludedByDNAME(z *Zone, list []*Node, owners map[string]bool, src *source, errorf func(*entry, string, ...any)) {
	if len(owners) == 0 {
		return
	}
	pools := map[string]bool{}
	for _, p := range src.pools {
		pools[p.Name] = true
	}
	for _, n := range list {
		name := n.Name
		if owner := dnameAbove(z, owners, name); owner != "" {
			poolReported := false
			for _, s := range n.Sets {
				e := src.firstEntry(s)
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

// additionalFor collects the addresses of the in-zone names an NS, MX or SRV
// set points at.
func (z *Zone) additionalFor(s *RRset, cutAbove func(string) string) []dns.RR {
	var out []dns.RR
	seen := map[string]bool{}
	for _, rr := range s.RRs {
		target := targetOf(rr)
		if target == "" || seen[target] {
			continue
		}
		seen[target] = true
		// Addresses occluded by a cut are glue: only referrals carry them.
		if s.Type != dns.TypeNS && cutAbove(target) != "" {
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
		return canonicalName(rr.Ns)
	case *dns.MX:
		return canonicalName(rr.Mx)
	case *dns.SRV:
		return canonicalName(rr.Target)
	}
	return ""
}

// findDuplicate returns the index of the record in rrs that rr repeats, or -1.
func findDuplicate(rrs []dns.RR, rr dns.RR) int {
	addr := AddrOf(rr) // valid for A and AAAA only: compared directly, faster
	for j, old := range rrs {
		if addr.IsValid() && AddrOf(old) == addr || !addr.IsValid() && dns.IsDuplicate(old, rr) {
			return j
		}
	}
	return -1
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
	if _, generic := rr.(*dns.RFC3597); generic {
		// Its header is written CLASS1 TYPEn, not as Header prints it.
		if i := strings.Index(s, `\#`); i >= 0 {
			return s[i:]
		}
	}
	h := rr.Header().String()
	return strings.TrimPrefix(s, h)
}
