package dnsrr

import (
	"encoding/binary"
	"sync/atomic"

	"github.com/dnsrr/dnsrr/dnsrr/rrl"
	"github.com/dnsrr/dnsrr/zones"
	"github.com/miekg/dns"
)

// The fast path answers the common queries (an existing name inside a zone,
// a name a wildcard covers, a plain NXDOMAIN) from responses packed once per
// node, on its first query after a swap: per query it copies bytes, patches
// the header and the question's case, and permutes the address RDATA of
// pools in place. No allocation, no miekg/dns on the way. Everything else
// (referrals, names below a DNAME, ANY, DS, a wildcard CNAME, odd flags,
// truncation) takes the full path in respond, which also builds these
// templates, so both paths give the same answers by construction
// (TestFastPathMatchesFullPath).

// fastIndex holds the fast path's data for one served state: per zone, the
// negative answer's tail, and per node a slot for its templates, filled on
// the node's first query. Building every template at swap time would make
// a reload of a large zone cost seconds and hundreds of megabytes for names
// nobody asks for; a slot costs eight bytes.
type fastIndex struct {
	st    *served
	zones map[*zones.Zone]*fastZone
}

type fastZone struct {
	originLen int // wire length of the origin
	// negTail is the negative SOA record after its owner name (which is a
	// pointer into the question): type, class, TTL, RDLENGTH, RDATA.
	negTail []byte
	// negKey is the rate limiting key of the zone's negative answers.
	negKey uint64
	slots  []atomic.Pointer[fastNode] // by zones.Node.ID
	// wild holds what a wildcard node synthesizes, by its zones.Node.ID.
	wild []atomic.Pointer[wildNode]
	// gen counts health changes (HealthChangedAt), which empty the slots
	// of the nodes whose answers they change. A template built across a
	// change may hold the old answer, and is dropped again.
	gen atomic.Uint64
}

type fastNode struct {
	// full: the node is at or below a delegation, or its wildcard child
	// may synthesize names below it; such queries take the full path.
	full   bool
	types  []typedTemplate
	nodata *template // for any type the node lacks; nil at a CNAME
}

type typedTemplate struct {
	qtype uint16
	t     *template
}

// template is a packed response to (name, qtype) with ID 0, RD and CD
// clear and no OPT.
type template struct {
	msg        []byte
	patchQtype bool // a NODATA template serves every absent type
	pools      []rdataRun
	class      classification
}

// rdataRun locates the RDATA of one reordered RRset in a template: n
// records of size bytes, one every stride bytes from off.
type rdataRun struct {
	off, stride, size, n int
	set                  *zones.RRset
}

// nodataProbe is a private-use type (RFC 6895) that no zone holds, used to
// build the NODATA template; its question type is patched per query.
const nodataProbe = 65534

func buildFastIndex(st *served) *fastIndex {
	ix := &fastIndex{st: st, zones: map[*zones.Zone]*fastZone{}}
	for _, z := range st.snap.Zones() {
		tail := negativeTail(z)
		if tail == nil {
			continue
		}
		ix.zones[z] = &fastZone{
			originLen: len(wireName(z.Origin)),
			negTail:   tail,
			negKey:    rrlKey(rrl.NXDomain, z.Origin, 0),
			slots:     make([]atomic.Pointer[fastNode], z.NodeCount()),
			wild:      make([]atomic.Pointer[wildNode], z.NodeCount()),
		}
	}
	return ix
}

// node returns the node's templates, building them on first use. Two
// queries racing to build keep whichever lands first; both are equal.
func (fz *fastZone) node(st *served, z *zones.Zone, n *zones.Node) *fastNode {
	if fn := fz.slots[n.ID].Load(); fn != nil {
		return fn
	}
	gen := fz.gen.Load()
	fn := buildFastNode(st, z, n)
	if !fz.slots[n.ID].CompareAndSwap(nil, fn) {
		if other := fz.slots[n.ID].Load(); other != nil {
			return other
		}
		return fn
	}
	if fz.gen.Load() != gen {
		fz.slots[n.ID].CompareAndSwap(fn, nil)
	}
	return fn
}

// forget empties n's slots, so that its templates are built again from
// what is served now.
func (fz *fastZone) forget(n *zones.Node) {
	fz.slots[n.ID].Store(nil)
	fz.wild[n.ID].Store(nil)
}

func buildFastNode(st *served, z *zones.Zone, n *zones.Node) *fastNode {
	fn := &fastNode{full: n.Wildcard != nil || z.Delegation(n.Name) != nil}
	if fn.full {
		return fn
	}
	qtypes := []uint16{}
	cname := n.Get(dns.TypeCNAME)
	if cname != nil {
		// Through a CNAME the answer depends on the target's types: the
		// address types cover nearly all queries; others take the full path.
		qtypes = append(qtypes, dns.TypeCNAME, dns.TypeA, dns.TypeAAAA)
	} else {
		for _, s := range n.Sets {
			qtypes = append(qtypes, s.Type)
		}
		// The probe type must really be absent, or the template would
		// answer with its records.
		if n.Get(nodataProbe) == nil {
			if fn.nodata = buildTemplate(st, n.Name, nodataProbe); fn.nodata != nil {
				fn.nodata.patchQtype = true
			}
		}
	}
	for _, qt := range qtypes {
		// A nil template is kept too: it sends that type to the full path
		// (DS, a SERVFAIL policy, an answer too big to patch), where
		// falling back to the NODATA template would be a wrong answer.
		var t *template
		if qt != dns.TypeDS {
			t = buildTemplate(st, n.Name, qt)
		}
		fn.types = append(fn.types, typedTemplate{qt, t})
	}
	return fn
}

// buildTemplate packs the full path's answer for (name, qtype) in file
// order and finds the RDATA of its pools; nil when the answer is not one
// the fast path can serve by byte patching.
func buildTemplate(st *served, name string, qtype uint16) *template {
	res := result{fileOrder: true}
	lookup(st, name, qtype, &res)
	if res.synthesized || !res.aa || throughDNAME(res.answer) {
		return nil
	}
	m := &dns.Msg{Compress: true}
	m.Response, m.Authoritative, m.Rcode = true, true, res.rcode
	m.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: dns.ClassINET}}
	m.Answer, m.Ns, m.Extra = res.answer, res.ns, res.extra
	msg, err := m.Pack()
	if err != nil || len(msg) > dns.MaxMsgSize-optLen {
		return nil
	}
	t := &template{msg: msg, class: res.classify(name, qtype)}
	if len(res.pools) == 0 {
		return t
	}
	offs, lens, ok := rdataOffsets(msg)
	if !ok || len(offs) != len(res.answer) {
		return nil
	}
	for _, p := range res.pools {
		n := p.set.Len()
		run := rdataRun{off: offs[p.start], stride: offs[p.start+1] - offs[p.start], size: lens[p.start], n: n, set: p.set}
		for i := 1; i < n; i++ {
			if offs[p.start+i]-offs[p.start+i-1] != run.stride || lens[p.start+i] != run.size {
				return nil // owners packed unevenly: let the full path shuffle
			}
		}
		t.pools = append(t.pools, run)
	}
	if !cuttable(t.pools, len(msg)) {
		return nil
	}
	return t
}

// cuttable reports whether the fast path can serve runs whose pools keep
// fewer records than they have (max_answers) by cutting the message after
// the kept ones: only when such a run is the only one and ends the message.
func cuttable(runs []rdataRun, msgLen int) bool {
	for _, r := range runs {
		if r.set.Answers() < r.n && (len(runs) > 1 || r.end(r.n) != msgLen) {
			return false
		}
	}
	return true
}

// end is the offset just past the run's first k records.
func (r *rdataRun) end(k int) int { return r.off + (k-1)*r.stride + r.size }

// cut drops the records of the run past the first k from msg, the run
// being the message's last and its offsets counting from msg[base:], and
// returns the shorter message.
func (r *rdataRun) cut(msg []byte, base, k int) []byte {
	if k == r.n {
		return msg
	}
	be.PutUint16(msg[6:], be.Uint16(msg[6:])-uint16(r.n-k)) // ANCOUNT
	return msg[:base+r.end(k)]
}

// throughDNAME reports an answer that a DNAME redirected (a CNAME chain
// into a name below one): the full path answers it, as a health change
// drops templates by the CNAMEs that lead to a pool, not by redirections.
func throughDNAME(answer []dns.RR) bool {
	for _, rr := range answer {
		if rr.Header().Rrtype == dns.TypeDNAME {
			return true
		}
	}
	return false
}

// negativeTail packs a zone's negative SOA record without its owner.
func negativeTail(z *zones.Zone) []byte {
	if len(z.Negative) == 0 {
		return nil
	}
	buf := make([]byte, 512)
	// PackRR writes the RDLENGTH into the record it packs: pack a copy, not
	// the snapshot's record that queries are reading.
	n, err := dns.PackRR(dns.Copy(z.Negative[0]), buf, 0, nil, false)
	if err != nil {
		return nil
	}
	owner := len(wireName(z.Origin))
	return buf[owner:n]
}

func (n *fastNode) template(qtype uint16) *template {
	for i := range n.types {
		if n.types[i].qtype == qtype {
			return n.types[i].t
		}
	}
	return n.nodata
}

// respond writes the answer to q into out and returns it, or nil when the
// query needs the full path. limit is the most the transport may carry.
func (ix *fastIndex) respond(q *wireQuery, pkt, out []byte, limit int) []byte {
	name, ok := q.text()
	if !ok {
		return nil
	}
	z := ix.st.snap.Find(name)
	if z == nil {
		return nil // outside our zones: the full path refuses it
	}
	fz := ix.zones[z]
	if fz == nil {
		return nil
	}
	if n := z.Node(name); n != nil {
		fn := fz.node(ix.st, z, n)
		if fn.full {
			return nil
		}
		t := fn.template(q.qtype)
		if t == nil {
			return nil
		}
		return t.write(q, pkt, out, limit)
	}
	// No such node. The closest encloser decides between NXDOMAIN and the
	// cases the full path handles (a wildcard to expand, a delegation).
	for off, end := dns.NextLabel(name, 0); !end; off, end = dns.NextLabel(name, off) {
		if n := z.Node(name[off:]); n != nil {
			if z.Delegation(n.Name) != nil || n.Get(dns.TypeDNAME) != nil {
				return nil // a referral, or a DNAME to follow
			}
			if n.Wildcard != nil {
				return fz.wildcard(ix.st, n.Wildcard).write(q, pkt, out, limit, fz)
			}
			return fz.negative(q, pkt, out, limit, dns.RcodeNameError)
		}
	}
	return nil
}

func (t *template) write(q *wireQuery, pkt, out []byte, limit int) []byte {
	size := len(t.msg)
	size += q.optSize()
	if size > limit {
		return nil // the full path truncates properly
	}
	q.class = t.class
	out = append(out[:0], t.msg...)
	be.PutUint16(out, q.id)
	be.PutUint16(out[2:], be.Uint16(t.msg[2:])|q.flags&(flagRD|flagCD))
	copy(out[headerLen:], pkt[headerLen:headerLen+q.nameLen]) // the client's case (0x20)
	if t.patchQtype {
		be.PutUint16(out[headerLen+q.nameLen:], q.qtype)
	}
	for i := range t.pools {
		out = t.pools[i].cut(out, 0, t.pools[i].reorder(out, q))
	}
	if q.edns {
		be.PutUint16(out[10:], be.Uint16(out[10:])+1)
		out = appendOPT(out, q)
	}
	return out
}

// negative writes an NXDOMAIN or NODATA answer: the question as asked and
// the zone's negative SOA, whose owner points into the question.
func (fz *fastZone) negative(q *wireQuery, pkt, out []byte, limit, rcode int) []byte {
	size := q.qend + 2 + len(fz.negTail)
	size += q.optSize()
	if size > limit {
		return nil
	}
	q.class = classification{rrl.NoData, fz.negKey}
	if rcode == dns.RcodeNameError {
		q.class.kind = rrl.NXDomain
	}
	out = append(out[:0], pkt[:q.qend]...)
	be.PutUint16(out[2:], flagQR|flagAA|q.flags&(flagRD|flagCD)|uint16(rcode))
	be.PutUint16(out[6:], 0) // ANCOUNT
	be.PutUint16(out[8:], 1) // NSCOUNT: the SOA
	be.PutUint16(out[10:], 0)
	// The SOA's owner is the origin: point at its suffix in the question.
	ptr := 0xC000 | (headerLen + q.nameLen - fz.originLen)
	out = append(out, byte(ptr>>8), byte(ptr))
	out = append(out, fz.negTail...)
	if q.edns {
		be.PutUint16(out[10:], 1)
		out = appendOPT(out, q)
	}
	return out
}

// wildNode is what a wildcard node synthesizes (RFC 4592): per type, the
// answer records without their owner, which at query time is a pointer to
// the question, so one template serves every name the wildcard covers.
type wildNode struct {
	full  bool // a CNAME to chase, or additional data: the full path
	types []wildSet
}

type wildSet struct {
	qtype uint16
	key   uint64 // for rate limiting: the wildcard's name and qtype
	tails []byte // each record after its owner: type, class, TTL, RDLENGTH, RDATA
	n     int
	// pools locate RDATA relative to the start of the answer section, each
	// record being a 2-byte owner pointer and its tail.
	pools []rdataRun
}

// wildcard returns the wildcard node's synthesis data, built on first use.
func (fz *fastZone) wildcard(st *served, w *zones.Node) *wildNode {
	if wn := fz.wild[w.ID].Load(); wn != nil {
		return wn
	}
	gen := fz.gen.Load()
	wn := buildWildNode(st, w)
	if !fz.wild[w.ID].CompareAndSwap(nil, wn) {
		if other := fz.wild[w.ID].Load(); other != nil {
			return other
		}
		return wn
	}
	if fz.gen.Load() != gen {
		fz.wild[w.ID].CompareAndSwap(wn, nil)
	}
	return wn
}

func buildWildNode(st *served, w *zones.Node) *wildNode {
	wn := &wildNode{}
	if w.Get(dns.TypeCNAME) != nil {
		wn.full = true
		return wn
	}
	buf := make([]byte, dns.MaxMsgSize)
	owner := len(wireName(w.Name))
	for _, set := range w.Sets {
		if set.Type == dns.TypeDS {
			continue
		}
		res := result{fileOrder: true}
		lookup(st, w.Name, set.Type, &res)
		if res.rcode != dns.RcodeSuccess || !res.aa || len(res.ns) > 0 || len(res.extra) > 0 {
			wn.types = append(wn.types, wildSet{qtype: set.Type, n: -1}) // full path
			continue
		}
		ws := wildSet{qtype: set.Type, n: len(res.answer), key: rrlKey(rrl.Answer, w.Name, set.Type)}
		offs := make([]int, len(res.answer))
		for i, rr := range res.answer {
			n, err := dns.PackRR(dns.Copy(rr), buf, 0, nil, false)
			if err != nil {
				wn.full = true
				return wn
			}
			offs[i] = 2 + len(ws.tails) + i*2 + 10 // RDATA, counted from the answer section
			ws.tails = append(ws.tails, buf[owner:n]...)
		}
		for _, p := range res.pools {
			size := 4
			if p.set.Type == dns.TypeAAAA {
				size = 16
			}
			ws.pools = append(ws.pools, rdataRun{off: offs[p.start], stride: 2 + 10 + size, size: size, n: p.set.Len(), set: p.set})
		}
		if !cuttable(ws.pools, 2*ws.n+len(ws.tails)) {
			ws.n = -1 // full path
		}
		wn.types = append(wn.types, ws)
	}
	return wn
}

// write synthesizes the answer to q from the wildcard, or returns nil for
// the full path.
func (wn *wildNode) write(q *wireQuery, pkt, out []byte, limit int, fz *fastZone) []byte {
	if wn.full {
		return nil
	}
	var ws *wildSet
	for i := range wn.types {
		if wn.types[i].qtype == q.qtype {
			ws = &wn.types[i]
		}
	}
	if ws == nil {
		return fz.negative(q, pkt, out, limit, dns.RcodeSuccess) // NODATA at the wildcard
	}
	if ws.n < 0 {
		return nil
	}
	size := q.qend + 2*ws.n + len(ws.tails)
	size += q.optSize()
	if size > limit {
		return nil
	}
	q.class = classification{rrl.Answer, ws.key}
	out = append(out[:0], pkt[:q.qend]...)
	be.PutUint16(out[2:], flagQR|flagAA|q.flags&(flagRD|flagCD))
	be.PutUint16(out[6:], uint16(ws.n))
	be.PutUint16(out[8:], 0)
	be.PutUint16(out[10:], 0)
	for rest := ws.tails; len(rest) > 0; {
		// Owner: the question's name (0xC00C); the tail's length is in its
		// RDLENGTH, after type, class and TTL.
		l := 10 + int(be.Uint16(rest[8:]))
		out = append(out, 0xC0, headerLen)
		out = append(out, rest[:l]...)
		rest = rest[l:]
	}
	for i := range ws.pools {
		// Offsets count from the start of the answer section. The runs are
		// shared: permuted in place through a slice of out, never copied
		// with a moved offset (a copy's address escapes: an allocation).
		run := &ws.pools[i]
		out = run.cut(out, q.qend, run.reorder(out[q.qend:], q))
	}
	if q.edns {
		be.PutUint16(out[10:], 1)
		out = appendOPT(out, q)
	}
	return out
}

// reorder permutes the run's RDATA in msg as its RRset's order asks.
// reorder permutes the run's records in msg as permute decides, and
// returns how many of them the response keeps (the first ones).
func (r *rdataRun) reorder(msg []byte, q *wireQuery) int {
	return permute(r.set, r.n, runSwapper{r, msg}, q)
}

// runSwapper swaps the RDATA of two records of a run in a packed message.
type runSwapper struct {
	r   *rdataRun
	msg []byte
}

func (s runSwapper) swap(i, j int) { s.r.swap(s.msg, i, j) }

func (s runSwapper) member(i int) uint64 {
	rdata := s.msg[s.r.off+i*s.r.stride:]
	var a [16]byte
	if s.r.size == 4 {
		a[10], a[11] = 0xFF, 0xFF // IPv4-mapped, as netip.Addr.As16 gives it
		copy(a[12:], rdata[:4])
	} else {
		copy(a[:], rdata[:16])
	}
	return addrKey(a)
}

func (r *rdataRun) swap(msg []byte, i, j int) {
	if i == j {
		return
	}
	a := msg[r.off+i*r.stride : r.off+i*r.stride+r.size]
	b := msg[r.off+j*r.stride : r.off+j*r.stride+r.size]
	switch len(a) {
	case 4: // A: one word each way (byte order does not matter for a swap)
		x := le.Uint32(a)
		le.PutUint32(a, le.Uint32(b))
		le.PutUint32(b, x)
	case 16: // AAAA
		x0, x1 := le.Uint64(a), le.Uint64(a[8:])
		le.PutUint64(a, le.Uint64(b))
		le.PutUint64(a[8:], le.Uint64(b[8:]))
		le.PutUint64(b, x0)
		le.PutUint64(b[8:], x1)
	default:
		var tmp [16]byte
		copy(tmp[:], a)
		copy(a, b)
		copy(b, tmp[:len(a)])
	}
}

var le = binary.LittleEndian
