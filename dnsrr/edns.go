package dnsrr

import (
	"net/netip"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr/cookie"
	"github.com/dnsrr/dnsrr/dnsrr/rrl"
	"github.com/miekg/dns"
)

// EDNS options the answer path acts on: DNS cookies (RFC 7873, with the
// server cookies of RFC 9018) and NSID (RFC 5001). Both paths read them
// into the query's wireQuery (parseQuery for the fast path, readOptions
// for the full one), replyOptions decides what goes back, and each path
// writes that its own way (appendOPT, replyOPT).

const (
	clientCookieLen = cookie.ClientLen
	maxCookieLen    = cookie.ClientLen + cookie.MaxServerLen
	serverCookieLen = cookie.ServerLen // what ours are (RFC 9018 §4)
	// MaxNSID bounds the NSID payload: an identity, not a document.
	MaxNSID = 128
)

// Policy is what the answer path applies beyond the zones; the zero
// Policy answers as if cookies and NSID did not exist.
type Policy struct {
	// NSID is returned to queries that ask for it (dig +nsid); "" is off.
	NSID string
	// Cookies signs and checks server cookies; nil turns cookies off
	// (COOKIE options are then ignored, as RFC 7873 §5.2 allows).
	Cookies CookieSigner
	// RRL limits UDP responses per client network (nil: off). Queries
	// with a valid server cookie are exempt: a spoofer cannot have one.
	RRL *rrl.Limiter
	// BadCookieSlip sends a slipped response to a query that carries a
	// client cookie as BADCOOKIE with a fresh server cookie rather than
	// as TC: the resolver retries over UDP with a cookie that exempts it.
	BadCookieSlip bool
	// QueryLog logs a sample of the queries answered (nil: off).
	QueryLog *QueryLog
}

// CookieSigner makes and checks server cookies (package dnsrr/cookie).
// Both must be safe for concurrent use and allocation-free.
type CookieSigner interface {
	// Append appends a fresh server cookie for the client cookie and
	// address to dst.
	Append(dst, clientCookie []byte, client netip.Addr, now time.Time) []byte
	// Valid reports whether serverCookie is one we made for the client
	// cookie and address, and is still fresh.
	Valid(clientCookie, serverCookie []byte, client netip.Addr, now time.Time) bool
}

// SetPolicy applies p from the next query on.
func (s *Server) SetPolicy(p Policy) {
	if len(p.NSID) > MaxNSID {
		p.NSID = p.NSID[:MaxNSID] // config refuses longer; never overflow optBuf
	}
	s.policy.Store(&p)
}

// queryOptions are the EDNS options of a query that the reply depends on.
type queryOptions struct {
	// cookie holds the COOKIE option's data, client cookie first;
	// cookieLen is 0 without the option.
	cookie    [maxCookieLen]byte
	cookieLen int
	// malformed: an ECS option is illegal or repeated; badCookie: a COOKIE
	// option is. Either is FORMERR, a bad COOKIE only while cookies are on
	// (formErr).
	malformed, badCookie bool
	nsid                 bool
	// ecs is the EDNS Client Subnet option (RFC 7871), when ecsFamily is
	// set: the client's network, ecsSource bits of ecsAddr.
	ecsFamily uint16
	ecsSource uint8
	ecsAddr   [16]byte
}

// readECS reads an ECS option, or marks it malformed (RFC 7871 §6, §7.1):
// a known family, a source prefix no longer than the address, exactly
// the bytes that prefix needs with the bits beyond it zero, and scope 0.
func (o *queryOptions) readECS(data []byte) {
	if o.ecsFamily != 0 || len(data) < 4 {
		o.malformed = true
		return
	}
	family, source, scope, addr := be.Uint16(data), data[2], data[3], data[4:]
	bits := 0
	switch family {
	case 1:
		bits = 32
	case 2:
		bits = 128
	}
	switch {
	case bits == 0 || int(source) > bits || scope != 0 || len(addr) != (int(source)+7)/8:
		o.malformed = true
		return
	case source%8 != 0 && addr[len(addr)-1]&(0xFF>>(source%8)) != 0:
		o.malformed = true
		return
	}
	o.ecsFamily, o.ecsSource = family, source
	o.ecsAddr = [16]byte{}
	copy(o.ecsAddr[:], addr)
}

// readOption records one option of the query's OPT.
func (o *queryOptions) readOption(code uint16, data []byte) {
	switch code {
	case dns.EDNS0COOKIE:
		if o.cookieLen > 0 || cookie.Malformed(len(data)) {
			o.badCookie = true
			return
		}
		o.cookieLen = copy(o.cookie[:], data)
	case dns.EDNS0SUBNET:
		o.readECS(data)
	case dns.EDNS0NSID:
		o.nsid = true // the query's payload should be empty; ignore it if not
	}
}

// formErr reports whether the options make the query FORMERR under p: a
// bad ECS option always; a bad COOKIE option only with cookies on, as a
// server without cookies ignores the option (RFC 7873 §5.2).
func (o *queryOptions) formErr(p *Policy) bool {
	return o.malformed || o.badCookie && p != nil && p.Cookies != nil
}

// readOptions reads the options of the query's OPT record straight from
// the packet, for the full path: the same bytes parseQuery reads, whatever
// miekg/dns makes of them. A packet it cannot walk has none.
func (o *queryOptions) readOptions(pkt []byte) {
	*o = queryOptions{}
	off, ok := skipQuestions(pkt)
	if !ok {
		return
	}
	skip := int(be.Uint16(pkt[6:])) + int(be.Uint16(pkt[8:]))
	for i := range skip + int(be.Uint16(pkt[10:])) {
		if off, ok = skipName(pkt, off); !ok || off+10 > len(pkt) {
			return
		}
		rrtype, end := be.Uint16(pkt[off:]), off+10+int(be.Uint16(pkt[off+8:]))
		if end > len(pkt) {
			return
		}
		if i >= skip && rrtype == dns.TypeOPT {
			for o2 := off + 10; o2+4 <= end; {
				code, n := be.Uint16(pkt[o2:]), int(be.Uint16(pkt[o2+2:]))
				if o2+4+n > end {
					return
				}
				o.readOption(code, pkt[o2+4:o2+4+n])
				o2 += 4 + n
			}
			return // the first OPT; a second is FORMERR anyway
		}
		off = end
	}
}

// replyOptions decides the options of the reply to q: our COOKIE (the
// client's cookie and a fresh server cookie) when the query sent one and
// cookies are on, and NSID when asked and configured. It writes them,
// packed, to q.optData and records whether the query's server cookie was
// valid (which exempts it from rate limiting). The one place that decides
// what the reply's OPT carries, for both paths.
func (q *wireQuery) replyOptions(p *Policy) {
	q.optData = q.optBuf[:0]
	q.cookieValid = false
	q.ecsScopeAt, q.stickyReady = -1, false
	if p == nil {
		return
	}
	if q.opts.ecsFamily != 0 && !q.opts.malformed {
		// Echoed with scope 0 (the answer holds for every client) unless a
		// sticky pool uses the subnet (stickyKey sets the scope).
		n := (int(q.opts.ecsSource) + 7) / 8
		q.optData = be.AppendUint16(q.optData, dns.EDNS0SUBNET)
		q.optData = be.AppendUint16(q.optData, uint16(4+n))
		q.optData = be.AppendUint16(q.optData, q.opts.ecsFamily)
		q.optData = append(q.optData, q.opts.ecsSource, 0)
		q.ecsScopeAt = len(q.optData) - 1
		q.optData = append(q.optData, q.opts.ecsAddr[:n]...)
	}
	if p.NSID != "" && q.opts.nsid {
		q.optData = be.AppendUint16(q.optData, dns.EDNS0NSID)
		q.optData = be.AppendUint16(q.optData, uint16(len(p.NSID)))
		q.optData = append(q.optData, p.NSID...)
	}
	if p.Cookies != nil && q.opts.cookieLen > 0 && !q.opts.badCookie {
		now := time.Now()
		cc := q.opts.cookie[:clientCookieLen]
		if sc := q.opts.cookie[clientCookieLen:q.opts.cookieLen]; len(sc) > 0 {
			q.cookieValid = p.Cookies.Valid(cc, sc, q.client, now)
		}
		q.optData = be.AppendUint16(q.optData, dns.EDNS0COOKIE)
		q.optData = be.AppendUint16(q.optData, clientCookieLen+serverCookieLen)
		q.optData = append(q.optData, cc...)
		q.optData = p.Cookies.Append(q.optData, cc, q.client, now)
	}
}

// optSize is the length of our OPT record in the reply to q (0 without
// EDNS).
func (q *wireQuery) optSize() int {
	if !q.edns {
		return 0
	}
	return optLen + len(q.optData)
}

// appendOPT appends our OPT record to a reply of the fast path: payload
// 1232, version 0, the DO bit copied from the query (RFC 3225), and the
// options replyOptions chose.
func appendOPT(out []byte, q *wireQuery) []byte {
	var flags byte
	if q.do {
		flags = 0x80
	}
	out = append(out, 0, 0, byte(dns.TypeOPT), byte(ednsPayload>>8), byte(ednsPayload&0xFF), 0, 0, flags, 0)
	out = be.AppendUint16(out, uint16(len(q.optData)))
	return append(out, q.optData...)
}

// replyOPT is our OPT record for a reply of the full path: the same as
// appendOPT writes.
func replyOPT(q *wireQuery, do bool) *dns.OPT {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(ednsPayload)
	if do {
		o.SetDo()
	}
	for d := q.optData; len(d) >= 4; {
		code, n := be.Uint16(d), int(be.Uint16(d[2:]))
		o.Option = append(o.Option, &dns.EDNS0_LOCAL{Code: code, Data: d[4 : 4+n]})
		d = d[4+n:]
	}
	return o
}

// optionFormErr is FORMERR to a query whose options we read as malformed
// but miekg/dns cannot unpack at all (an ECS of an unknown family, say):
// the header, the question and an OPT without options, as respond answers
// every other malformed option (RFC 6891 §7: an OPT in, an OPT out). nil
// when the question cannot be read.
func optionFormErr(pkt, buf []byte, q *wireQuery) []byte {
	if len(pkt) < headerLen || be.Uint16(pkt[4:]) != 1 {
		return nil
	}
	// The question is echoed only if it is one a reply may carry: labels
	// without compression, 255 octets at most (RFC 1035 §2.3.4).
	off := headerLen
	for off < len(pkt) && pkt[off] != 0 && pkt[off] <= 63 {
		off += 1 + int(pkt[off])
	}
	end := off + 1 + 4
	if off >= len(pkt) || pkt[off] != 0 || off+1-headerLen > 255 || end > len(pkt) {
		return nil
	}
	out := append(headerReply(pkt, buf, dns.RcodeFormatError), pkt[headerLen:end]...)
	be.PutUint16(out[4:], 1)
	q.edns, q.do, q.optData = true, false, nil
	return appendEmptyTail(q, out, 0)
}
