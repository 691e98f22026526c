package dnsrr

import (
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr/rrl"
	"github.com/miekg/dns"
)

const (
	// ednsPayload is the UDP payload we advertise and the most we send:
	// 1232 bytes avoids IP fragmentation on any path (DNS Flag Day 2020).
	ednsPayload = 1232
	// minPayload is what every client can take (RFC 1035 §4.2.1); an EDNS
	// payload below it counts as it (RFC 6891 §6.2.3).
	minPayload = 512
)

var _ dns.Handler = (*Server)(nil)

// ServeDNS answers one query as a dns.Handler, for callers that bring
// their own miekg/dns server (tests, fuzzing). dnsrr's own UDP and TCP
// loops call answerPacket instead (udp.go, tcp_conn.go).
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	_, udp := w.LocalAddr().(*net.UDPAddr)
	q := wireQuery{policy: s.policy.Load()}
	if ap, err := netip.ParseAddrPort(w.RemoteAddr().String()); err == nil {
		q.client = ap.Addr().Unmap()
	}
	if pkt, err := req.Pack(); err == nil {
		q.opts.readOptions(pkt)
		q.pkt = pkt
	}
	defer func() {
		// A bug must cost one query, not the server.
		if r := recover(); r != nil {
			s.log.Error().Interface("panic", r).Str("client", w.RemoteAddr().String()).Msg("query handler panicked")
			if err := w.WriteMsg(errorReply(req, dns.RcodeServerFailure)); err != nil && !udp {
				_ = w.Close()
			}
		}
	}()
	out, err := s.respond(req, &q, udp)
	if q.xfer != nil {
		// A transfer's messages take the place of the reply (and end it,
		// releasing its place among max_transfers).
		_ = s.writeTransfer(q.xfer, q.client, func(msg []byte, _ time.Time) error {
			_, err := w.Write(msg)
			return err
		})
		return
	}
	if err != nil {
		s.log.Error().Err(err).Msg("cannot pack response")
		return
	}
	if _, err := w.Write(out); err != nil {
		s.log.Debug().Err(err).Str("client", w.RemoteAddr().String()).Msg("write failed")
		if !udp {
			// Part of a message may be on the wire: the stream's framing
			// is lost, and a client that does not read is not coming back.
			_ = w.Close()
		}
	}
}

// respond builds the packed reply to req, for q.client under q.policy and
// the options in q.opts (read by the caller from the packet), and records
// in q what RRL and cookies need.
func (s *Server) respond(req *dns.Msg, q *wireQuery, udp bool) ([]byte, error) {
	reply := &dns.Msg{Compress: true}
	reply.Id = req.Id
	reply.Response = true
	reply.Opcode = req.Opcode
	if req.Opcode == dns.OpcodeQuery {
		// RD and CD belong to QUERY (RFC 1035 §4.1.1, RFC 4035 §3.2.2): a
		// refusal of another opcode echoes neither, as BIND does (ISC's
		// genreport, test "opcodeflg").
		reply.RecursionDesired = req.RecursionDesired
		reply.CheckingDisabled = req.CheckingDisabled
	}
	reply.Question = req.Question // echoed as sent, in the client's case

	// EDNS (RFC 6891): one OPT in, one OPT out; none in, none out.
	opt, ok := queryOPT(req)
	if !ok {
		reply.Rcode = dns.RcodeFormatError
		return reply.Pack()
	}
	size := minPayload
	var ourOpt []dns.RR
	q.class = classification{kind: rrl.Error}
	q.optData, q.cookieValid, q.ecsScopeAt, q.stickyReady = nil, false, -1, false
	q.signed, q.xfer, q.tcp = nil, nil, !udp
	if opt == nil || opt.Version() != 0 {
		// Another version's options mean nothing to us: BADVERS reads none
		// (RFC 6891 §6.1.3), so rate limiting must not slip it as BADCOOKIE
		// (genreport "edns1cookie").
		q.opts = queryOptions{}
	}
	q.edns = opt != nil
	if opt != nil {
		if opt.Version() == 0 && !q.opts.formErr(q.policy) {
			q.replyOptions(q.policy)
		} else {
			q.optData = nil // BADVERS or FORMERR: echo nothing we cannot read
		}
		ourOpt = []dns.RR{replyOPT(q, opt.Do())}
		size = min(max(int(opt.UDPSize()), minPayload), ednsPayload)
	}
	// TSIG (RFC 8945) is judged before the EDNS version and the question.
	tsig, ok := queryTSIG(req)
	switch {
	case !ok:
		reply.Rcode = dns.RcodeFormatError // §5.2: misplaced, repeated or malformed
		reply.Extra = ourOpt
		return reply.Pack()
	case tsig != nil:
		key := s.transfers.Load().key(tsig)
		if key == nil {
			return tsigRefusal(reply, tsig, dns.RcodeBadKey, ourOpt, udp, size)
		}
		switch err := verifyTSIG(q.pkt, tsig, key, time.Now()); {
		case errors.Is(err, dns.ErrTime):
			return badTime(reply, tsig, key, ourOpt)
		case err != nil:
			return tsigRefusal(reply, tsig, dns.RcodeBadSig, ourOpt, udp, size)
		}
		mac, _ := hex.DecodeString(tsig.MAC)
		q.signed = &signedQuery{key: key, mac: mac, id: tsig.OrigId, name: tsig.Hdr.Name}
		out, err := s.answer(req, reply, q, opt, ourOpt, udp, size-tsigLen(key, tsig.Hdr.Name, 0))
		if err != nil || q.xfer != nil {
			return out, err
		}
		out, _, err = signMessage(out, key, tsig.Hdr.Name, tsig.OrigId, mac, false, 0, nil, time.Now())
		return out, err
	}
	return s.answer(req, reply, q, opt, ourOpt, udp, size)
}

// answer is respond once the TSIG, if any, verified: it fills reply and
// packs it to fit size.
func (s *Server) answer(req, reply *dns.Msg, q *wireQuery, opt *dns.OPT, ourOpt []dns.RR, udp bool, size int) ([]byte, error) {
	if opt != nil && opt.Version() != 0 {
		reply.Rcode = dns.RcodeBadVers // §6.1.3; the OPT carries its upper bits
		q.extRcode = dns.RcodeBadVers >> 4
		reply.Extra = ourOpt
		return reply.Pack()
	}
	if q.opts.formErr(q.policy) {
		reply.Rcode = dns.RcodeFormatError // RFC 7873 §5.2.2, RFC 7871 §7.1.1
		reply.Extra = ourOpt
		return reply.Pack()
	}
	if !udp {
		size = dns.MaxMsgSize
		if q.signed != nil {
			size -= tsigLen(q.signed.key, q.signed.name, 0)
		}
	}

	switch {
	case req.Opcode == dns.OpcodeNotify:
		reply.Rcode = dns.RcodeRefused // we are no secondary
	case req.Opcode != dns.OpcodeQuery:
		reply.Rcode = dns.RcodeNotImplemented
	case len(req.Question) != 1:
		reply.Question = nil // nothing sensible to echo
		reply.Rcode = dns.RcodeFormatError
	default:
		q.class = s.query(req, reply, q)
		if q.ecsScopeAt >= 0 && opt != nil {
			ourOpt = []dns.RR{replyOPT(q, opt.Do())} // a sticky pool set the ECS scope
		}
	}
	reply.Extra = append(reply.Extra, ourOpt...)

	out, err := packReply(reply)
	if err != nil || len(out) <= size {
		return out, err
	}
	// Too big for the client. Additional data is optional unless it is
	// referral glue; then RFC 2181 §9: set TC rather than send a partial
	// RRset, keeping the OPT so the client learns our payload size.
	if !glueRequired(reply) {
		reply.Extra = ourOpt
		if out, err = packReply(reply); err != nil || len(out) <= size {
			return out, err
		}
	}
	reply.Truncated = true
	reply.Answer, reply.Ns, reply.Extra = nil, nil, ourOpt
	return reply.Pack()
}

// packReply packs reply with its question in lower case, as the owners
// of our records are, so that they compress against it (miekg/dns
// compares names case-sensitively), then writes the client's case back
// (0x20). The size, and so truncation, is then the same whatever case the
// client chose, and the same as the fast path's templates.
func packReply(reply *dns.Msg) ([]byte, error) {
	if len(reply.Question) != 1 {
		return reply.Pack()
	}
	asked := reply.Question[0]
	lower := asked
	lower.Name = strings.ToLower(asked.Name)
	if lower.Name == asked.Name {
		return reply.Pack()
	}
	reply.Question = []dns.Question{lower}
	out, err := reply.Pack()
	reply.Question = []dns.Question{asked}
	if err != nil {
		return nil, err
	}
	// Same length: case is all that differs (presentation form escapes
	// every byte that is not printable ASCII).
	if _, err := dns.PackDomainName(asked.Name, out, headerLen, nil, false); err != nil {
		return nil, err
	}
	return out, nil
}

// queryOPT returns the query's OPT record, or false when the query breaks
// RFC 6891 §6.1.1 (an OPT outside the additional section, more than one, or
// one not owned by the root), which earns FORMERR.
func queryOPT(req *dns.Msg) (*dns.OPT, bool) {
	for _, sec := range [][]dns.RR{req.Answer, req.Ns} {
		for _, rr := range sec {
			if rr.Header().Rrtype == dns.TypeOPT {
				return nil, false
			}
		}
	}
	var opt *dns.OPT
	for _, rr := range req.Extra {
		if o, isOPT := rr.(*dns.OPT); isOPT {
			if opt != nil || o.Hdr.Name != "." {
				return nil, false
			}
			opt = o
		}
	}
	return opt, true
}

// queryTSIG returns the query's TSIG record, or false when it breaks RFC
// 8945 §5.2: a TSIG outside the additional section, not its last record,
// more than one, of a class other than ANY (as NSD has it), or without
// RDATA.
func queryTSIG(req *dns.Msg) (*dns.TSIG, bool) {
	for _, sec := range [][]dns.RR{req.Answer, req.Ns} {
		for _, rr := range sec {
			if rr.Header().Rrtype == dns.TypeTSIG {
				return nil, false
			}
		}
	}
	var tsig *dns.TSIG
	for i, rr := range req.Extra {
		if t, isTSIG := rr.(*dns.TSIG); isTSIG {
			if i != len(req.Extra)-1 || t.Hdr.Class != dns.ClassANY {
				return nil, false
			}
			if !dns.IsFqdn(t.Algorithm) {
				// No RDATA (miekg/dns unpacks it as empty fields): the
				// BADKEY reply would echo an algorithm name that is not
				// one, and so not unpack.
				return nil, false
			}
			tsig = t
		}
	}
	return tsig, true
}

// tsigRefusal answers a signed query whose key we do not have (BADKEY) or
// whose MAC is wrong (BADSIG): RFC 8945 §5.2.2 asks for NOTAUTH with a
// TSIG record holding that error, unsigned (§5.3.2: no MAC), as NSD, Knot
// and BIND send it. The TSIG goes after the OPT (it must be last) and is
// packed apart, since its names must not be compressed.
func tsigRefusal(reply *dns.Msg, tsig *dns.TSIG, tsigErr uint16, ourOpt []dns.RR, udp bool, size int) ([]byte, error) {
	reply.Rcode = dns.RcodeNotAuth
	reply.Extra = ourOpt
	out, err := reply.Pack()
	if err != nil {
		return nil, err
	}
	rr := &dns.TSIG{
		Hdr:        dns.RR_Header{Name: tsig.Hdr.Name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm:  tsig.Algorithm,
		TimeSigned: uint64(time.Now().Unix()),
		Fudge:      tsig.Fudge,
		OrigId:     tsig.OrigId,
		Error:      tsigErr,
	}
	buf := make([]byte, dns.Len(rr)+len(tsig.Hdr.Name)+len(tsig.Algorithm))
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		return nil, err
	}
	if !udp || len(out)+n <= size {
		be.PutUint16(out[10:], be.Uint16(out[10:])+1)
		return append(out, buf[:n]...), nil
	}
	// Long key and query names over plain UDP: the client retries on TCP.
	reply.Truncated = true
	return reply.Pack()
}

// badTime answers a signed query whose time is outside its fudge (RFC
// 8945 §5.2.3): NOTAUTH with a signed TSIG whose error is BADTIME, the
// request's time signed, and our time in its other data, from which the
// client learns the skew.
func badTime(reply *dns.Msg, tsig *dns.TSIG, key *TSIGKey, ourOpt []dns.RR) ([]byte, error) {
	reply.Rcode = dns.RcodeNotAuth
	reply.Extra = ourOpt
	out, err := reply.Pack()
	if err != nil {
		return nil, err
	}
	now := uint64(time.Now().Unix())
	other := []byte{byte(now >> 40), byte(now >> 32), byte(now >> 24), byte(now >> 16), byte(now >> 8), byte(now)}
	mac, _ := hex.DecodeString(tsig.MAC)
	out, _, err = signMessage(out, key, tsig.Hdr.Name, tsig.OrigId, mac, false, dns.RcodeBadTime, other,
		time.Unix(int64(tsig.TimeSigned), 0))
	return out, err
}

// errorReply is a reply with no records but the OPT the query asked for.
func errorReply(req *dns.Msg, rcode int) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(req, rcode)
	m.Answer, m.Ns, m.Extra = nil, nil, nil
	if req.IsEdns0() != nil {
		m.SetEdns0(ednsPayload, req.IsEdns0().Do())
	}
	return m
}

// glueRequired reports whether the reply holds a referral (NS records in
// authority), whose glue must not be dropped silently (RFC 9471).
func glueRequired(reply *dns.Msg) bool {
	return reply.Rcode == dns.RcodeSuccess && len(reply.Ns) > 0 && reply.Ns[0].Header().Rrtype == dns.TypeNS
}

// query fills reply's sections for a QUERY with one question, and returns
// what the reply counts as for rate limiting.
func (s *Server) query(req, reply *dns.Msg, wq *wireQuery) classification {
	q := req.Question[0]
	switch {
	case q.Qtype == 0 || q.Qclass == 0:
		// Reserved values (RFC 6895), and what miekg/dns reports for a
		// question cut short: either way the query is malformed.
		reply.Rcode = dns.RcodeFormatError
		return classification{kind: rrl.Error}
	case q.Qclass == dns.ClassCHAOS:
		s.chaos(q, reply, wq.client)
		if reply.Rcode != dns.RcodeSuccess {
			return classification{kind: rrl.Error}
		}
		return classification{rrl.Answer, rrlKey(rrl.Answer, strings.ToLower(q.Name), q.Qtype)}
	case (q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR) && (q.Qclass == dns.ClassINET || q.Qclass == dns.ClassANY):
		// A transfer in class ANY is one of our (IN) zones, as NSD and
		// Knot read it.
		return s.transferQuery(req, q, reply, wq)
	case q.Qclass != dns.ClassINET:
		reply.Rcode = dns.RcodeRefused
		return classification{kind: rrl.Error}
	case q.Qtype == dns.TypeOPT:
		reply.Rcode = dns.RcodeFormatError // a meta type, never a question (RFC 6891 §6.1.1)
		return classification{kind: rrl.Error}
	}
	res := result{q: wq}
	qname := strings.ToLower(q.Name)
	lookup(s.state.Load(), qname, q.Qtype, &res)
	reply.Rcode = res.rcode
	reply.Authoritative = res.aa
	reply.Answer, reply.Ns, reply.Extra = res.answer, res.ns, res.extra
	return res.classify(qname, q.Qtype)
}

// Chaos holds the answers to CH-class TXT queries (version.bind and
// friends); empty strings leave them REFUSED.
type Chaos struct {
	Version string
	ID      string
}

// chaos answers the CH TXT names operators use to identify a server, and
// the status names (status.go).
func (s *Server) chaos(q dns.Question, reply *dns.Msg, client netip.Addr) {
	if n := s.status.Load(); n != nil {
		if pool, ok := n.statusPool(q.Name); ok {
			s.chaosStatus(n, q, pool, reply, client)
			return
		}
	}
	var text string
	switch strings.ToLower(q.Name) {
	case "version.bind.", "version.server.":
		text = s.chaosInfo.Version
	case "hostname.bind.", "id.server.":
		text = s.chaosInfo.ID
	}
	if text == "" || (q.Qtype != dns.TypeTXT && q.Qtype != dns.TypeANY) {
		reply.Rcode = dns.RcodeRefused
		return
	}
	reply.Authoritative = true
	reply.Answer = []dns.RR{&dns.TXT{
		Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassCHAOS},
		Txt: []string{text},
	}}
}
