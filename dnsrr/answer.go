package dnsrr

import (
	"slices"
	"strings"

	"github.com/dnsrr/dnsrr/zones"
	"github.com/miekg/dns"
)

// maxChase bounds CNAME chains followed inside a zone, so a loop in the data
// costs a few lookups, not a stack.
const maxChase = 8

// result is the outcome of a lookup, which the handler turns into a reply.
type result struct {
	rcode  int
	aa     bool
	answer []dns.RR
	ns     []dns.RR
	extra  []dns.RR
	// pools locates the reordered RRsets in answer, so that precomputed
	// responses know which records to permute per query.
	pools []poolSpan
	// fileOrder leaves pools in file order (when precomputing).
	fileOrder bool
	// q is the query being answered, for sticky pools (nil when
	// precomputing).
	q *wireQuery
	// synthesized is set when a wildcard produced the answer.
	synthesized bool
	// zone is the origin of the zone that answered, wildcard the owner of
	// the wildcard or DNAME that synthesized the answer to the query's own
	// name: rate limiting counts responses under them (classify), so that
	// random labels below either share one account.
	zone, wildcard string
}

// poolSpan is answer[start:start+set.Len()] holding a reordered set.
type poolSpan struct {
	start int
	set   *zones.RRset
}

// lookup answers qname/qtype (qname lower-case, fully qualified) from what
// st serves.
func lookup(st *served, qname string, qtype uint16, res *result) {
	snap := st.snap
	z := snap.Find(qname)
	if z == nil {
		res.rcode = dns.RcodeRefused
		return
	}
	// The DS set of a zone lives in its parent (RFC 4035 §3.1.4.1): answer
	// from the parent when we serve it too.
	if qtype == dns.TypeDS && qname == z.Origin && qname != "." {
		off, _ := dns.NextLabel(qname, 0)
		if p := snap.Find(qname[off:]); p != nil {
			z = p
		}
	}
	res.rcode = dns.RcodeSuccess
	res.aa = true
	res.zone = z.Origin
	st.resolve(z, qname, qtype, res, 0)
}

func (st *served) resolve(z *zones.Zone, qname string, qtype uint16, res *result, depth int) {
	if cut := z.Delegation(qname); cut != nil && !(cut.Name == qname && qtype == dns.TypeDS) {
		// A referral: the child's servers are authoritative, not us. After
		// a CNAME the answer keeps it, with AA, and the referral follows
		// (RFC 1034 §4.3.2 step 3b).
		ns := cut.Get(dns.TypeNS)
		res.aa = depth > 0
		res.ns = append(res.ns, ns.Records()...)
		res.extra = append(res.extra, ns.Additional...)
		return
	}

	node := z.Node(qname)
	synthesized := false
	if node == nil {
		// RFC 4592: the closest encloser's wildcard child, if any, answers.
		// Every ancestor up to the apex exists as a node (empty
		// non-terminals included), so the first one found is the encloser.
		var ce *zones.Node
		off, end := dns.NextLabel(qname, 0)
		for ; !end; off, end = dns.NextLabel(qname, off) {
			if ce = z.Node(qname[off:]); ce != nil {
				break
			}
		}
		if ce != nil {
			// A DNAME redirects the names below its owner; load keeps
			// those free of data, so the owner is their closest encloser.
			if dname := ce.Get(dns.TypeDNAME); dname != nil {
				st.redirect(z, dname, qname, off, qtype, res, depth)
				return
			}
		}
		if ce == nil || ce.Wildcard == nil {
			res.rcode = dns.RcodeNameError
			res.ns = append(res.ns, z.Negative...)
			return
		}
		node, synthesized = ce.Wildcard, true
		res.synthesized = true
		if depth == 0 {
			res.wildcard = node.Name
		}
	}

	var set *zones.RRset
	switch {
	case qtype == dns.TypeANY && len(node.Sets) > 0:
		// RFC 8482: answer one RRset rather than everything.
		set = node.Sets[0]
		if c := node.Get(dns.TypeCNAME); c != nil {
			set = c
		}
	default:
		set = node.Get(qtype)
	}
	if set != nil && set.Pool != nil {
		var servfail bool
		if set, servfail = st.healthy(z, set); servfail {
			// The pool's policy when too few members are up.
			res.rcode, res.aa = dns.RcodeServerFailure, false
			res.answer, res.ns, res.extra, res.pools = nil, nil, nil, nil
			return
		}
	}
	if set != nil {
		appendSet(res, set, qname, synthesized)
		res.extra = append(res.extra, set.Additional...)
		return
	}
	if cname := node.Get(dns.TypeCNAME); cname != nil {
		appendSet(res, cname, qname, synthesized)
		target := strings.ToLower(cname.Records()[0].(*dns.CNAME).Target)
		if depth < maxChase && dns.IsSubDomain(z.Origin, target) && !chased(res, target) {
			st.resolve(z, target, qtype, res, depth+1)
		}
		return
	}
	// NODATA: the name exists, the type does not.
	res.ns = append(res.ns, z.Negative...)
}

// redirect answers qname below a DNAME (qname[off:] is the owner): the
// DNAME, a CNAME synthesized from qname to the name under the target with
// the DNAME's TTL (RFC 6672 §3.1), and that name chased as a CNAME target
// is. YXDOMAIN when the new name would not fit in 255 octets (§2.2).
func (st *served) redirect(z *zones.Zone, set *zones.RRset, qname string, off int, qtype uint16, res *result, depth int) {
	dname := set.Records()[0].(*dns.DNAME)
	if depth == 0 {
		res.wildcard = qname[off:] // the owner, lower-case
	}
	if !slices.Contains(res.answer, dns.RR(dname)) { // a DNAME loop repeats it
		res.answer = append(res.answer, dname)
	}
	target := qname[:off] + strings.ToLower(dname.Target) // qname[:off] ends in a dot
	if dname.Target == "." {
		target = qname[:off]
	}
	if _, ok := dns.IsDomainName(target); !ok {
		res.rcode = dns.RcodeYXDomain
		return
	}
	res.answer = append(res.answer, &dns.CNAME{
		Hdr:    dns.RR_Header{Name: qname, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: dname.Hdr.Ttl},
		Target: target,
	})
	// Asked for the CNAME itself: that is the answer, as for a real one.
	if qtype != dns.TypeCNAME && depth < maxChase && dns.IsSubDomain(z.Origin, target) && !chased(res, target) {
		st.resolve(z, target, qtype, res, depth+1)
	}
}

// chased reports whether the answer already holds a CNAME owned by name:
// a loop, which ends the chain rather than repeating it.
func chased(res *result, name string) bool {
	for _, rr := range res.answer {
		if h := rr.Header(); h.Rrtype == dns.TypeCNAME && strings.EqualFold(h.Name, name) {
			return true
		}
	}
	return false
}

// appendSet adds an RRset to the answer in the order its pool asks for,
// and only the records a pool's max_answers keeps (permute). Wildcard
// answers carry the query name as owner (RFC 4592 §2.1.1).
func appendSet(res *result, set *zones.RRset, qname string, synthesized bool) {
	start := len(res.answer)
	if synthesized {
		for _, rr := range set.Records() {
			c := dns.Copy(rr)
			c.Header().Name = qname
			res.answer = append(res.answer, c)
		}
	} else {
		res.answer = append(res.answer, set.Records()...)
	}
	if set.Shuffled() {
		res.pools = append(res.pools, poolSpan{start: start, set: set})
		if !res.fileOrder {
			k := order(res.answer[start:], set, res.q)
			res.answer = res.answer[:start+k]
		}
	}
}
