package dnsrr

import "github.com/miekg/dns"

// What a rate-limited response becomes when it is not dropped: a "slip"
// (BIND's word), an empty reply with TC set, so that a real client behind
// the address retries over TCP, which is never limited and cannot be
// spoofed; or, for a query carrying a client cookie, BADCOOKIE with a fresh
// server cookie (RFC 7873 §5.2.3, as Knot's badcookie-slip), so that the
// client retries over UDP with a cookie that exempts it. Either is the
// query's header and question with our OPT: no larger than the query,
// except by the 16 bytes of a server cookie when the query sent a client
// cookie, so a spoofed flood reflects about its own size at most. An NSID
// (up to 128 bytes) is not sent: a spoofer could ask for it in every query.

// slipReply rewrites out, the full reply to q, in place into an empty
// truncated reply: header and question kept, TC set, no records but our
// OPT. A reply without a question (NOTIMP to another opcode, FORMERR)
// slips as its header: slip 1 must answer every limited query (genreport
// "opcode" under RRL). nil when out is not a reply we can read.
func slipReply(q *wireQuery, out []byte) []byte {
	end, ok := skipQuestions(out)
	if !ok || be.Uint16(out[4:]) > 1 {
		return nil
	}
	out = out[:end]
	be.PutUint16(out[2:], be.Uint16(out[2:])|flagTC)
	return appendEmptyTail(q, out, 0)
}

// badCookieReply rewrites out, the full reply to q, into BADCOOKIE (rcode
// 23: 7 in the header, 1 in the OPT's extended rcode) with our cookie.
func badCookieReply(q *wireQuery, out []byte) []byte {
	end, ok := skipQuestions(out)
	if !ok || be.Uint16(out[4:]) != 1 || !q.edns {
		return nil
	}
	out = out[:end]
	flags := be.Uint16(out[2:])&^(rcodeBits|flagTC|flagAA) | rcodeBadCookie&rcodeBits
	be.PutUint16(out[2:], flags)
	return appendEmptyTail(q, out, rcodeBadCookie>>4)
}

// appendEmptyTail sets the record counts of a reply cut after its
// question and appends our OPT (when the query had EDNS) with the upper
// bits of the rcode.
func appendEmptyTail(q *wireQuery, out []byte, extRcode byte) []byte {
	be.PutUint16(out[6:], 0)
	be.PutUint16(out[8:], 0)
	be.PutUint16(out[10:], 0)
	if !q.edns {
		return out
	}
	be.PutUint16(out[10:], 1)
	q.optData = withoutOption(q.optData, dns.EDNS0NSID)
	opt := len(out)
	out = appendOPT(out, q)
	out[opt+5] = extRcode
	return out
}

// withoutOption removes the options of code from packed options, in place.
func withoutOption(opts []byte, code uint16) []byte {
	kept := opts[:0]
	for rest := opts; len(rest) >= 4; {
		n := 4 + int(be.Uint16(rest[2:]))
		if be.Uint16(rest) != code {
			kept = append(kept, rest[:n]...) // copy: overlapping, moving down
		}
		rest = rest[n:]
	}
	return kept
}
