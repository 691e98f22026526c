package dnsrr

import (
	"time"

	"github.com/miekg/dns"
)

// The edns-tcp-keepalive option (RFC 7828) tells a TCP client how long the
// server will keep its idle connection. A client asks with the option
// empty; we then add it, with the idle timeout in force, to every answer
// on that connection that carries an OPT. Over UDP the option is ignored
// (§3.2.2): the UDP path steps over EDNS options. A query over TCP whose
// option holds a value (only servers send one) gets FORMERR, as Unbound
// answers it.

type keepaliveAsk int

const (
	keepaliveNone  keepaliveAsk = iota
	keepaliveAsked              // the option, empty
	keepaliveBad                // the option with data: FORMERR
)

// scanKeepalive looks for the option in the OPT records of a query. A
// malformed message reports none: the answer path judges it.
func scanKeepalive(pkt []byte) keepaliveAsk {
	off, ok := skipQuestions(pkt)
	if !ok {
		return keepaliveNone
	}
	skip := int(be.Uint16(pkt[6:])) + int(be.Uint16(pkt[8:]))
	total := skip + int(be.Uint16(pkt[10:]))
	ask := keepaliveNone
	for i := range total {
		if off, ok = skipName(pkt, off); !ok || off+10 > len(pkt) {
			return keepaliveNone
		}
		rrtype, rdlen := be.Uint16(pkt[off:]), int(be.Uint16(pkt[off+8:]))
		off += 10
		if off+rdlen > len(pkt) {
			return keepaliveNone
		}
		if i >= skip && rrtype == dns.TypeOPT {
			for o := off; o+4 <= off+rdlen; {
				code, n := be.Uint16(pkt[o:]), int(be.Uint16(pkt[o+2:]))
				if code == dns.EDNS0TCPKEEPALIVE {
					if n != 0 {
						return keepaliveBad
					}
					ask = keepaliveAsked
				}
				o += 4 + n
			}
		}
		off += rdlen
	}
	return ask
}

// appendKeepalive adds the option, with timeout, to resp's OPT record when
// that is the message's last record (where both paths put it), and returns
// resp unchanged otherwise (no OPT: the query had no EDNS).
func appendKeepalive(resp []byte, timeout time.Duration) []byte {
	off, ok := skipQuestions(resp)
	if !ok || len(resp)+6 > dns.MaxMsgSize || be.Uint16(resp[10:]) == 0 {
		return resp
	}
	last := -1 // offset of the last record's fixed fields
	records := int(be.Uint16(resp[6:])) + int(be.Uint16(resp[8:])) + int(be.Uint16(resp[10:]))
	for range records {
		if off, ok = skipName(resp, off); !ok || off+10 > len(resp) {
			return resp
		}
		last = off
		off += 10 + int(be.Uint16(resp[off+8:]))
	}
	if last < 0 || off != len(resp) || be.Uint16(resp[last:]) != dns.TypeOPT {
		return resp
	}
	units := min(timeout/(100*time.Millisecond), 0xFFFF) // RFC 7828 §3.1: units of 100 ms
	be.PutUint16(resp[last+8:], be.Uint16(resp[last+8:])+6)
	return append(resp, 0, dns.EDNS0TCPKEEPALIVE, 0, 2, byte(units>>8), byte(units))
}

// skipQuestions returns the offset just past a message's question section.
func skipQuestions(msg []byte) (off int, ok bool) {
	if len(msg) < headerLen {
		return 0, false
	}
	off = headerLen
	for range be.Uint16(msg[4:]) {
		if off, ok = skipName(msg, off); !ok {
			return 0, false
		}
		off += 4
	}
	return off, true
}

// keepaliveFormErr answers a query whose keepalive option holds a value.
func (s *Server) keepaliveFormErr(pkt, buf []byte) []byte {
	if len(pkt) < headerLen || be.Uint16(pkt[2:])&flagQR != 0 {
		return nil
	}
	req := new(dns.Msg)
	if err := req.Unpack(pkt); err != nil {
		return headerReply(pkt, buf, dns.RcodeFormatError)
	}
	out, err := errorReply(req, dns.RcodeFormatError).PackBuffer(buf)
	if err != nil {
		return headerReply(pkt, buf, dns.RcodeFormatError)
	}
	return out
}
