package dnsrr

import (
	"encoding/binary"
	"net/netip"
	"unsafe"

	"github.com/dnsrr/dnsrr/dnsrr/rrl"
	"github.com/miekg/dns"
)

// Header bits of the second 16-bit word (RFC 1035 §4.1.1).
const (
	flagQR     = 1 << 15
	opcodeBits = 0xF << 11
	flagAA     = 1 << 10
	flagTC     = 1 << 9
	flagRD     = 1 << 8
	flagCD     = 1 << 4
	rcodeBits  = 0xF
	headerLen  = 12
	optLen     = 11 // an OPT record with no options
	// rcodeBadCookie is BADCOOKIE (RFC 7873 §8), an extended rcode.
	rcodeBadCookie = 23
)

// wireQuery is a plain query read straight from the packet, for the fast
// path. Anything parseQuery does not recognise as plain goes to miekg/dns.
type wireQuery struct {
	id      uint16
	flags   uint16 // the query's header flags
	nameLen int    // wire length of the qname, final zero included
	qtype   uint16
	qend    int // offset just past the question
	edns    bool
	do      bool
	payload int  // the client's EDNS payload, at least minPayload
	plain   bool // the name needs no escapes in presentation form
	textLen int
	textBuf [255]byte // the name in lower-case presentation form

	// client is who asked, policy what applies to the answer (read once
	// per query, so that a SetPolicy cannot split one answer between two);
	// the caller sets both before answering.
	client netip.Addr
	port   uint16 // the client's, for the query log
	policy *Policy
	opts   queryOptions
	// optData is the options of our reply's OPT, packed, in optBuf;
	// replyOptions sets them and cookieValid.
	optData     []byte
	optBuf      [4 + maxCookieLen + 4 + MaxNSID + 4 + 20]byte
	cookieValid bool
	// ecsScopeAt is where the echoed ECS option's scope is in optData (-1:
	// none); sticky caches the client's key for sticky pools (stickyKey).
	ecsScopeAt  int
	sticky      uint64
	stickyReady bool
	// class is what the answer counts as for rate limiting; the path that
	// answered sets it.
	class classification
	// rrlVerdict is what rate limiting decided, when rrlChecked (for the
	// query log, which clears rrlChecked).
	rrlVerdict rrl.Verdict
	rrlChecked bool
	// extRcode is the upper bits of the answer's rcode (in its OPT), set by
	// the paths that answer an extended rcode, for counting (stats.go).
	extRcode uint8
	// stats is the shard of the worker or connection this query came on
	// (nil: the first).
	stats *statShard

	// The full path's: pkt is the packet (for TSIG), tcp whether it came
	// over TCP; signed is set when its TSIG verified, xfer when it asked
	// for a transfer that the connection now sends.
	pkt    []byte
	tcp    bool
	signed *signedQuery
	xfer   *transfer
}

// text returns the qname in lower-case presentation form ("www.example.")
// for map lookups, or false for names with characters that presentation
// form escapes (the full path handles those). parseQuery built it; the
// string aliases a buffer of q, is valid until q parses the next packet,
// and is only used for lookups, never kept.
func (q *wireQuery) text() (string, bool) {
	if !q.plain {
		return "", false
	}
	return unsafe.String(&q.textBuf[0], q.textLen), true
}

// nameChar maps a byte of a label to its lower-case form when it is one
// that presentation form writes as is, and to 0 otherwise.
var nameChar = func() (t [256]byte) {
	for c := range 256 {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '*':
			t[c] = byte(c)
		case c >= 'A' && c <= 'Z':
			t[c] = byte(c) + 'a' - 'A'
		}
	}
	return t
}()

var be = binary.BigEndian

// parseQuery accepts only the common case: a QUERY with one IN question,
// no answer or authority records, and at most one well-formed EDNS version
// 0 OPT. It never fails a packet: false means "let the full parser decide".
func parseQuery(pkt []byte, q *wireQuery) bool {
	if len(pkt) < headerLen+5 {
		return false
	}
	q.flags = be.Uint16(pkt[2:])
	if q.flags&(flagQR|opcodeBits) != 0 ||
		be.Uint16(pkt[4:]) != 1 || be.Uint16(pkt[6:]) != 0 || be.Uint16(pkt[8:]) != 0 {
		return false
	}
	arcount := be.Uint16(pkt[10:])
	if arcount > 1 {
		return false
	}
	q.id = be.Uint16(pkt)

	// The name: uncompressed labels (queries have nothing to point back
	// at), written out in lower-case presentation form as we go.
	off, t, plain := headerLen, 0, byte(1)
	for {
		if off >= len(pkt) {
			return false
		}
		l := int(pkt[off])
		if l > 63 || off-headerLen+1+l > 254 || off+1+l >= len(pkt) {
			return false
		}
		if l == 0 {
			off++
			break
		}
		for _, c := range pkt[off+1 : off+1+l] {
			c = nameChar[c]
			plain &= min(c, 1) // 0 once any byte needs escaping
			q.textBuf[t] = c
			t++
		}
		q.textBuf[t] = '.'
		t++
		off += 1 + l
	}
	if t == 0 {
		q.textBuf[0], t = '.', 1 // the root
	}
	q.textLen, q.plain = t, plain == 1
	q.nameLen = off - headerLen
	if off+4 > len(pkt) {
		return false
	}
	q.qtype = be.Uint16(pkt[off:])
	if be.Uint16(pkt[off+2:]) != dns.ClassINET {
		return false
	}
	switch q.qtype {
	case 0, dns.TypeOPT, dns.TypeAXFR, dns.TypeIXFR, dns.TypeANY, dns.TypeMAILA, dns.TypeMAILB, dns.TypeDS:
		return false // refused, minimal, or answered from another zone: the full path knows
	}
	off += 4
	q.qend = off
	q.edns, q.do, q.payload = false, false, minPayload
	q.opts.cookieLen, q.opts.malformed, q.opts.badCookie, q.opts.nsid, q.opts.ecsFamily = 0, false, false, false, 0
	if arcount == 1 {
		// OPT: root owner, type 41, class = payload, TTL = extended rcode,
		// version, flags; then options, which must fit exactly.
		if off+optLen > len(pkt) || pkt[off] != 0 || be.Uint16(pkt[off+1:]) != dns.TypeOPT ||
			pkt[off+5] != 0 || pkt[off+6] != 0 {
			return false
		}
		q.payload = max(int(be.Uint16(pkt[off+3:])), minPayload)
		q.do = pkt[off+7]&0x80 != 0
		end := off + optLen + int(be.Uint16(pkt[off+9:]))
		if end != len(pkt) {
			return false
		}
		for o := off + optLen; o < end; {
			if o+4 > end {
				return false
			}
			code, n := be.Uint16(pkt[o:]), int(be.Uint16(pkt[o+2:]))
			if o+4+n > end {
				return false
			}
			q.opts.readOption(code, pkt[o+4:o+4+n])
			o += 4 + n
		}
		if q.opts.malformed || q.opts.badCookie {
			return false // the full path decides: FORMERR, or a COOKIE ignored
		}
		q.edns = true
		off = end
	}
	return off == len(pkt)
}

// wireName is the lower-case wire form of a fully qualified name.
func wireName(name string) []byte {
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(dns.CanonicalName(name), buf, 0, nil, false)
	if err != nil {
		return nil
	}
	return buf[:n]
}

// skipName returns the offset just past a (possibly compressed) name.
func skipName(msg []byte, off int) (int, bool) {
	for off < len(msg) {
		l := int(msg[off])
		switch {
		case l == 0:
			return off + 1, true
		case l&0xC0 == 0xC0:
			return off + 2, off+2 <= len(msg)
		case l > 63:
			return 0, false
		}
		off += 1 + l
	}
	return 0, false
}

// rdataOffsets lists where the RDATA of each answer record of a packed
// message starts, and its length.
func rdataOffsets(msg []byte) (offs, lens []int, ok bool) {
	if len(msg) < headerLen {
		return nil, nil, false
	}
	off, ok := skipName(msg, headerLen)
	if !ok {
		return nil, nil, false
	}
	off += 4
	for i := 0; i < int(be.Uint16(msg[6:])); i++ {
		if off, ok = skipName(msg, off); !ok || off+10 > len(msg) {
			return nil, nil, false
		}
		rdlen := int(be.Uint16(msg[off+8:]))
		off += 10
		offs = append(offs, off)
		lens = append(lens, rdlen)
		off += rdlen
	}
	return offs, lens, off <= len(msg)
}
