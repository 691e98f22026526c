package zones

import (
	"net/netip"
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

// entry is one record of a TOML zone on its way into a zone, with where it
// came from. Lines are looked up only when an error needs one: locating
// every key of a large zone would cost more than decoding it.
type entry struct {
	rr    dns.RR
	toml  *tomlPlace
	order Order
	// skip: build set the record aside (an error, or a duplicate folded).
	skip bool
}

// tomlPlace is where a TOML zone's record came from: element idx (or, when
// -1, the whole value) of key in table at.
type tomlPlace struct {
	at  *tomlfile.Table
	key string
	idx int
}

func (e *entry) line() int {
	if e.toml.idx < 0 {
		return e.toml.at.Line(e.toml.key)
	}
	return e.toml.at.ElemLine(e.toml.key, e.toml.idx)
}

// record is one record handed to a builder: a parsed dns.RR, or an
// address record that the master file reader read itself (rr nil).
type record struct {
	rr    dns.RR
	name  string // when rr is nil: the owner, fully qualified
	typ   uint16 // A or AAAA
	ttl   uint32
	addr  [16]byte // the address, packed in the first 4 or 16 bytes; set from rr too
	order Order
	at    place
	// checked: rdataErr is checkRdata's verdict on rr, made by the reader.
	checked  bool
	rdataErr error
}

// address is the packed address of an A or AAAA record.
func (r *record) address() []byte { return r.addr[:addrSize(r.typ)] }

// place is where a record was written, for its errors: an entry of a
// TOML zone, or a line of a master file (0: unknown).
type place struct {
	entry int32 // index in source.entries; -1 for master files
	line  int32
}

// source is what a loader hands to build: one file's records.
type source struct {
	file    string
	origin  string     // lower-case, fully qualified
	line    func() int // line of the origin, for zone-wide errors
	entries []entry    // TOML zones; master files stream their records
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

// nodeSlab hands out Nodes, RRsets and Pools from chunks: a large zone has
// millions, and one allocation per chunk is cheaper for the allocator and
// the garbage collector than one each.
type nodeSlab struct {
	nodes    slab[Node]
	sets     slab[RRset]
	pools    slab[Pool]
	ptrs     []*RRset // Node.Sets of one set
	rrs      []dns.RR // RRset.rrs
	addrs    []byte   // RRset.addrs
	addrSets slab[addrSet]
}

const slabChunk = 1024

// slab hands out values of a type from chunks of slabChunk.
type slab[T any] struct{ free []T }

func (s *slab[T]) next() *T {
	if len(s.free) == 0 {
		s.free = make([]T, slabChunk)
	}
	v := &s.free[0]
	s.free = s.free[1:]
	return v
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

// copyRecords moves a set's records into a chunk, exactly sized.
func (s *nodeSlab) copyRecords(rrs []dns.RR) []dns.RR {
	n := len(rrs)
	if n > slabChunk/4 {
		return append([]dns.RR(nil), rrs...)
	}
	if len(s.rrs) < n {
		s.rrs = make([]dns.RR, 4*slabChunk)
	}
	out := s.rrs[:n:n]
	copy(out, rrs)
	s.rrs = s.rrs[n:]
	return out
}

// copyAddrs moves a set's packed addresses into a chunk, exactly sized.
func (s *nodeSlab) copyAddrs(addrs []byte) []byte {
	n := len(addrs)
	if n > 4*slabChunk {
		return append([]byte(nil), addrs...)
	}
	if len(s.addrs) < n {
		s.addrs = make([]byte, 16*slabChunk)
	}
	out := s.addrs[:n:n]
	copy(out, addrs)
	s.addrs = s.addrs[n:]
	return out
}

// builder validates one file's records and assembles its zone: add takes
// the records in file order, finish makes the zone. Every problem is added
// to errs; the zone is nil if there were any.
type builder struct {
	src  *source
	errs *tomlfile.List
	p    pace
	lim  Limits
	z    *Zone
	slab nodeSlab
	// list holds the nodes in the order they are made, which is their ID:
	// the passes of finish walk it rather than the map, in file order.
	list []*Node
	// firsts is where each set's first record is (RRset.first), for
	// errors about the set.
	firsts []place
	// full marks the sets cut at max_rrset_records (reported once); dups
	// indexes the records of large sets, to find duplicates.
	full map[*RRset]bool
	dups dupIndex
	// Records of one set usually follow each other, so the previous set
	// is tried first. Its records gather in scratch until another set's
	// come, then move to the slab exactly sized: how many a set will get
	// is not known while a file streams in.
	prevNode     *Node
	prevSet      *RRset
	open         *RRset
	scratchAddrs []byte
	scratchRRs   []dns.RR
	packBuf      []byte
	added        int // records seen, for pace
	stopped      bool
}

// build validates a TOML file's records and assembles the zone.
func build(src *source, errs *tomlfile.List, p pace) *Zone {
	if lim := src.limits.WithDefaults(); len(src.entries) > lim.MaxRecords {
		errs.Append(tooManyRecords(src.file, lim))
		return nil
	}
	b := newBuilder(src, errs, p, ownerRuns(src.entries))
	for i := range src.entries {
		e := &src.entries[i]
		if !b.add(&record{rr: e.rr, order: e.order, at: place{entry: int32(i)}}) {
			break
		}
	}
	return b.finish()
}

// newBuilder starts the zone of src; names is about how many names it has
// (room made in the map up front).
func newBuilder(src *source, errs *tomlfile.List, p pace, names int) *builder {
	return &builder{
		src: src, errs: errs, p: p, lim: src.limits.WithDefaults(),
		z:       &Zone{Origin: src.origin, File: src.file, nodes: make(map[string]*Node, names)},
		list:    make([]*Node, 0, names),
		firsts:  make([]place, 0, names),
		dups:    dupIndex{},
		packBuf: make([]byte, dns.MaxMsgSize),
	}
}

// errorf reports a problem with the record written at.
func (b *builder) errorf(at place, name string, typ uint16, format string, args ...any) {
	key, line := name+" "+dns.TypeToString[typ], int(at.line)
	if at.entry >= 0 {
		e := &b.src.entries[at.entry]
		key, line = e.toml.at.KeyPath(e.toml.key), e.line()
	}
	b.errs.Add(b.src.file, line, key, format, args...)
}

// setErrorf reports a problem with a set as a whole, at its first record.
func (b *builder) setErrorf(n *Node, s *RRset, format string, args ...any) {
	b.errorf(b.firsts[s.first], n.Name, s.Type, format, args...)
}

// line is where record j of set s was written: TOML zones find it again
// from the set's first record on (those with its owner and type that were
// not set aside). Master files fold duplicates, the one error that needs
// a record other than the first, so they keep only firsts.
func (b *builder) line(n *Node, s *RRset, j int) int {
	at := b.firsts[s.first]
	if at.entry < 0 {
		return int(at.line)
	}
	for i := int(at.entry); i < len(b.src.entries); i++ {
		e := &b.src.entries[i]
		if h := e.rr.Header(); !e.skip && h.Rrtype == s.Type && h.Name == n.Name {
			if j == 0 {
				return e.line()
			}
			j--
		}
	}
	return b.src.entries[at.entry].line()
}

func (b *builder) node(name string) *Node {
	n := b.z.nodes[name]
	if n == nil {
		n = b.slab.nodes.next()
		n.Name, n.ID = name, len(b.list)
		b.z.nodes[name] = n
		b.list = append(b.list, n)
	}
	return n
}

// add checks one record and puts it in its set. It returns false when the
// load must stop (Loader.Stop).
func (b *builder) add(r *record) bool {
	if !b.p.yield(b.added) {
		b.stopped = true
		return false
	}
	b.added++
	name, typ, ttl, class := r.name, r.typ, r.ttl, uint16(dns.ClassINET)
	if r.rr != nil {
		h := r.rr.Header()
		name, typ, ttl, class = h.Name, h.Rrtype, h.Ttl, h.Class
	}
	if badEscape(name) {
		b.errorf(r.at, name, typ, "a \\DDD escape in a name stands for one byte, \\000 to \\255")
		return true
	}
	name = canonicalName(dns.Fqdn(name))
	if r.rr != nil {
		r.rr.Header().Name = name
	}
	var e *entry
	if r.at.entry >= 0 {
		e = &b.src.entries[r.at.entry]
		e.skip = true
	}
	errorf := func(format string, args ...any) { b.errorf(r.at, name, typ, format, args...) }
	origin := b.src.origin
	if class != dns.ClassINET {
		errorf("class %s is not served; only IN", dns.ClassToString[class])
		return true
	}
	if !inZone(origin, name) {
		errorf("%s is outside the zone %s", name, origin)
		return true
	}
	if ttl > maxTTL {
		errorf("TTL %d is above the maximum %d (RFC 2181 §8)", ttl, maxTTL)
		return true
	}
	if i := strings.LastIndex(name, "*"); i > 0 || (i == 0 && name[1] != '.') {
		errorf("a wildcard must be the whole leftmost label")
		return true
	}
	if msg := metaType(typ); msg != "" {
		errorf("%s", msg)
		return true
	}
	parsed := r.rr // for messages
	if r.rr != nil {
		err := r.rdataErr
		if !r.checked {
			err = checkRdata(r.rr, b.packBuf)
		}
		if err != nil {
			errorf("%v", err)
			return true
		}
		unescapeTarget(r.rr)
		if isAddress(typ) {
			packed, _ := packedAddr(r.rr)
			copy(r.addr[:], packed)
			r.rr, r.typ = nil, typ // the set keeps the address alone
		}
	}
	n := b.prevNode
	if n == nil || n.Name != name {
		n = b.node(name)
	}
	if r.rr != nil {
		r.rr.Header().Name = n.Name // one string per owner, not one per record
	}
	s := b.prevSet
	if s == nil || b.prevNode != n || s.Type != typ {
		s = n.Get(typ)
	}
	if s == nil {
		s = b.slab.sets.next()
		s.Type, s.TTL, s.Order, s.first = typ, ttl, r.order, int32(len(b.firsts))
		b.firsts = append(b.firsts, r.at)
		if isAddress(typ) {
			s.addrSet = b.slab.addrSets.next()
			s.owner = n.Name
		}
		if s.Order == OrderCyclic {
			s.rotation = new(atomic.Uint32)
		}
		if n.Sets == nil {
			n.Sets = b.slab.firstSet(s)
		} else {
			n.Sets = append(n.Sets, s)
		}
	} else if j := b.dups.find(s, r); j >= 0 {
		if !b.src.foldDuplicates {
			var desc string
			if parsed != nil {
				desc = rdata(parsed)
			} else if a, ok := netip.AddrFromSlice(r.address()); ok {
				desc = a.String()
			}
			errorf("duplicate record %q (first at line %d)", desc, b.line(n, s, j))
		}
		return true
	}
	k := s.Len()
	if k == b.lim.MaxRRsetRecords {
		if !b.full[s] {
			if b.full == nil {
				b.full = map[*RRset]bool{}
			}
			b.full[s] = true
			errs := b.errs
			errs.Append(rrsetTooLarge(b.src.file, b.lineOf(r), n.Name, s.Type, b.lim))
		}
		return true
	}
	// What the set's other records decide: RFC 2181 §5.2, one SOA, one DNAME.
	switch {
	case k > 0 && ttl != s.TTL:
		errorf("TTL %d differs from TTL %d of the same RRset (RFC 2181 §5.2)", ttl, s.TTL)
	case k == 1 && typ == dns.TypeSOA && name == origin:
		errorf("zone %s has more than one SOA record", origin)
	case k == 1 && typ == dns.TypeDNAME:
		errorf("a name can have only one DNAME (RFC 6672 §2.4)")
	}
	if e != nil {
		e.skip = false
	}
	b.dups.add(s, k, r)
	b.append(s, r)
	b.z.Records++
	b.prevNode, b.prevSet = n, s
	return true
}

// lineOf is the line a record was written on.
func (b *builder) lineOf(r *record) int {
	if r.at.entry >= 0 {
		return b.src.entries[r.at.entry].line()
	}
	return int(r.at.line)
}

// append adds r to s, gathering the records of the set being read in
// scratch.
func (b *builder) append(s *RRset, r *record) {
	if s != b.open {
		b.close()
		b.open = s
		b.scratchAddrs, b.scratchRRs = b.scratchAddrs[:0], append(b.scratchRRs[:0], s.rrs...)
		if s.addrSet != nil {
			b.scratchAddrs = append(b.scratchAddrs, s.addrs...)
		}
	}
	if r.rr == nil {
		b.scratchAddrs = append(b.scratchAddrs, r.address()...)
		s.addrs = b.scratchAddrs
	} else {
		b.scratchRRs = append(b.scratchRRs, r.rr)
		s.rrs = b.scratchRRs
	}
}

// close moves the records of the set being read out of scratch.
func (b *builder) close() {
	if s := b.open; s != nil {
		if s.addrSet != nil && s.addrs != nil {
			s.addrs = b.slab.copyAddrs(s.addrs)
		}
		if s.rrs != nil {
			s.rrs = b.slab.copyRecords(s.rrs)
		}
		b.open = nil
	}
}

// finish checks the zone as a whole and makes it, or returns nil.
func (b *builder) finish() *Zone {
	b.close()
	if b.stopped {
		return nil // Loader.Stop: the load is thrown away
	}
	src, z, p, errs := b.src, b.z, b.p, b.errs
	before := errs.Len()
	origin := src.origin
	lim := b.lim
	// Apex: exactly one SOA (add reported a second), at least one NS.
	apex := b.node(origin)
	z.Apex = apex
	if s := apex.Get(dns.TypeSOA); s == nil {
		if !src.apexReported {
			errs.Add(src.file, src.originLine(), "", "zone %s has no SOA record", origin)
		}
	} else if s.Len() == 1 {
		z.SOA = s
		soa := s.rrs[0].(*dns.SOA)
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
	for i, n := range b.list {
		if !p.yield(i) {
			return nil
		}
		name := n.Name
		for _, s := range n.Sets {
			b.checkSize(n, s)
			switch {
			case s.Type == dns.TypeSOA && name != origin:
				b.setErrorf(n, s, "SOA record is only allowed at the apex %s", origin)
			case s.Type == dns.TypeNS:
				for _, rr := range s.rrs {
					nsTargets[canonicalName(rr.(*dns.NS).Ns)] = true
				}
			}
		}
		if len(n.Sets) == 1 && !nodeRule(n.Sets[0].Type) {
			continue // the common case: nothing below applies
		}
		if c := n.Get(dns.TypeCNAME); c != nil {
			switch {
			case name == origin:
				b.setErrorf(n, c, "CNAME is not allowed at the zone apex (RFC 1912 §2.4)")
			case c.Len() > 1:
				b.setErrorf(n, c, "a name can have only one CNAME")
			case len(n.Sets) > 1:
				b.setErrorf(n, c, "CNAME cannot coexist with other data at %s (RFC 1034 §3.6.2)", name)
			}
		}
		if d := n.Get(dns.TypeDNAME); d != nil {
			dnames[name] = true
		}
		ns := n.Get(dns.TypeNS)
		if name != origin && ns != nil {
			n.Cut, hasCuts = true, true
			if strings.HasPrefix(name, "*.") {
				b.setErrorf(n, ns, "a wildcard cannot be delegated (RFC 4592 §4.2)")
			}
		}
		if ds := n.Get(dns.TypeDS); ds == nil {
		} else if name == origin {
			b.setErrorf(n, ds, "DS records belong in the parent zone, not at the apex")
		} else if ns == nil {
			b.setErrorf(n, ds, "a DS record belongs at a delegation: %s has no NS records", name)
		}
	}
	// cutAbove is the highest delegation at or above a name inside the
	// zone, or "" (Zone.cutAbove, with a map of the cuts alone: smaller
	// than the map of every node, so cheaper to look up).
	cuts := map[string]bool{}
	if hasCuts {
		for _, n := range b.list {
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

	b.occludedByDNAME(dnames)

	for i, n := range b.list {
		if !p.yield(i) {
			return nil
		}
		name := n.Name
		// Data at or below a cut belongs to the child: only DS at the cut,
		// and address records named by an NS record (glue) below it, are
		// allowed.
		if cut := cutAbove(name); cut != "" {
			for _, s := range n.Sets {
				switch {
				case name == cut && (s.Type == dns.TypeNS || s.Type == dns.TypeDS):
				case name == cut && isAddress(s.Type) && nsTargets[name]:
					// Glue for a name server named like the child zone itself.
				case name == cut:
					b.setErrorf(n, s, "%s is a delegation point: only NS and DS records may sit there, not %s",
						cut, dns.TypeToString[s.Type])
				case isAddress(s.Type):
					if !nsTargets[name] {
						b.setErrorf(n, s, "glue %s below the delegation %s is not named by any NS record", name, cut)
					}
				default:
					b.setErrorf(n, s, "%s record below the delegation %s would never be served", dns.TypeToString[s.Type], cut)
				}
			}
		}
		// NS targets inside the zone need addresses (glue when below a
		// cut); NS, MX and SRV targets must not be aliases (RFC 2181 §10.3).
		for _, s := range n.Sets {
			if !hasTargets(s.Type) {
				continue
			}
			for _, rr := range s.rrs {
				target := targetOf(rr)
				if target == "" || !dns.IsSubDomain(origin, target) {
					continue
				}
				t := z.nodes[target]
				if t != nil && t.Get(dns.TypeCNAME) != nil {
					b.setErrorf(n, s, "%s target %s is a CNAME, which RFC 2181 §10.3 forbids", dns.TypeToString[s.Type], target)
				}
				if owner := dnameAbove(z, dnames, target); owner != "" {
					b.setErrorf(n, s, "%s target %s is below the DNAME at %s: an alias, which RFC 2181 §10.3 forbids", dns.TypeToString[s.Type], target, owner)
					continue
				}
				if s.Type == dns.TypeNS && (t == nil || (t.Get(dns.TypeA) == nil && t.Get(dns.TypeAAAA) == nil)) {
					if cut := cutAbove(target); cut != "" || name == origin {
						b.setErrorf(n, s, "name server %s is inside the zone but has no A or AAAA record", target)
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
			b.setErrorf(n, n.Sets[0], "a pool cannot be at or below the delegation %s", cut)
			continue
		}
		p.setAddresses(n.Get(dns.TypeA), n.Get(dns.TypeAAAA))
		z.PoolDefs = append(z.PoolDefs, p)
	}
	if errs.Len() > before {
		return nil
	}
	// No error is found past this point: the records' places can go
	// before the rest of the zone is made.
	src.entries, b.firsts, b.dups, b.scratchAddrs, b.scratchRRs = nil, nil, nil, nil, nil

	// Every other name with several addresses (master files, [records]) is
	// a pool too, without a check: it can still be drained. Then additional
	// data, sorting, counts and empty non-terminals, in one pass.
	var wildcards []*Node
	withData := len(b.list)
	// Room for the pools up front: a zone may have millions.
	z.PoolDefs = slices.Grow(z.PoolDefs, countPools(b.list))
	madeAbove := "" // the last ancestor whose own ancestors are made
	for i, n := range b.list[:withData] {
		name := n.Name
		a, aaaa := n.Get(dns.TypeA), n.Get(dns.TypeAAAA)
		if (a != nil && a.Len() > 1) || (aaaa != nil && aaaa.Len() > 1) {
			z.Pools++
			if (a == nil || a.Pool == nil) && (aaaa == nil || aaaa.Pool == nil) && cutAbove(name) == "" {
				p := b.slab.pools.next()
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
				anc = b.node(name[off:])
			}
			madeAbove = anc.Name
		}
		if len(b.list) > lim.MaxNames { // empty non-terminals count too
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

// checkSize reports a set that does not fit in one message (RFC 2181 §9
// forbids sending part of one: over TCP nothing else can be done about it).
func (b *builder) checkSize(n *Node, s *RRset) {
	size := headerAndQuestion
	if isAddress(s.Type) {
		// Each record is the same size, at most its owner as written
		// (escapes take more room there than on the wire) and 26 bytes.
		if size+s.Len()*(len(s.owner)+1+10+addrSize(s.Type)) <= dns.MaxMsgSize {
			return
		}
		size += s.Len() * dns.Len(s.record(0))
	} else {
		for _, rr := range s.rrs {
			size += dns.Len(rr)
		}
	}
	if size > dns.MaxMsgSize {
		// Uncompressed it does not fit; measure it as it would be sent.
		m := &dns.Msg{Compress: true, Answer: s.Records()}
		size = headerAndQuestion + m.Len() - 12
	}
	if size > dns.MaxMsgSize {
		b.setErrorf(n, s, "the %s set of %s is %d bytes: too big for one DNS message (64 KiB)",
			dns.TypeToString[s.Type], n.Name, size)
	}
}

// countPools counts the names with several addresses of one family.
func countPools(list []*Node) int {
	n := 0
	for _, node := range list {
		for _, s := range node.Sets {
			if isAddress(s.Type) && s.Len() > 1 {
				n++
				break
			}
		}
	}
	return n
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

// occludedByDNAME reports data below a DNAME: a DNAME redirects every name
// below its owner, so records there would never be served (RFC 6672 §2.3).
// Only zones with a DNAME pay for the walk.
func (b *builder) occludedByDNAME(owners map[string]bool) {
	if len(owners) == 0 {
		return
	}
	pools := map[string]bool{}
	for _, p := range b.src.pools {
		pools[p.Name] = true
	}
	for _, n := range b.list {
		name := n.Name
		if owner := dnameAbove(b.z, owners, name); owner != "" {
			poolReported := false
			for _, s := range n.Sets {
				switch {
				case pools[name] && isAddress(s.Type):
					if !poolReported {
						b.setErrorf(n, s, "pool %s is below the DNAME at %s: its addresses would never be served (RFC 6672 §2.3)", name, owner)
					}
					poolReported = true
				default:
					b.setErrorf(n, s, "%s record below the DNAME at %s would never be served (RFC 6672 §2.3)", dns.TypeToString[s.Type], owner)
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
	for _, rr := range s.rrs {
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
					out = append(out, as.Records()...)
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
