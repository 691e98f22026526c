package dnsrr

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr/rrl"
	"github.com/dnsrr/dnsrr/zones"
	"github.com/miekg/dns"
)

// Transfers says who may transfer zones out (AXFR, IXFR) and with which
// keys signed requests are checked. The zero value refuses every transfer
// and knows no key (signed requests get BADKEY).
type Transfers struct {
	// Keys are the TSIG keys, by lower-case, fully qualified name.
	Keys map[string]*TSIGKey
	// Allow lists who may transfer: a request is allowed when one entry's
	// prefix holds the client's address and, if the entry names a key,
	// the request is signed with that key (Knot's acl). No entry: none.
	Allow []TransferACL
	// MaxTransfers is how many transfers run at once; one more is
	// refused. 0 takes DefaultMaxTransfers.
	MaxTransfers int
	// WriteTimeout bounds writing one message of a transfer (the TCP
	// limits' WriteTimeout, meant for answers, does not apply): a
	// secondary that stops reading loses the transfer, not the server.
	// 0 takes DefaultTransferWriteTimeout.
	WriteTimeout time.Duration
	// Timeout bounds a whole transfer: a secondary that reads just fast
	// enough to beat WriteTimeout on every message would otherwise hold
	// its place among MaxTransfers (and the zone version it pulls) for
	// as long as it likes (BIND's max-transfer-time-out, also 2 h).
	// 0 takes DefaultTransferTimeout.
	Timeout time.Duration
}

// TransferACL is one entry of Transfers.Allow.
type TransferACL struct {
	Prefix netip.Prefix
	Key    string // a key name from Transfers.Keys, or "" for none
}

// Defaults of Transfers.
const (
	DefaultMaxTransfers         = 10
	DefaultTransferWriteTimeout = 30 * time.Second
	DefaultTransferTimeout      = 2 * time.Hour
)

// transferMessageSize is the most record data put in one message of a
// transfer, before compression: a few hundred records of a pool zone per
// message, well below the 65,535 bytes of a TCP message.
const transferMessageSize = 32 << 10

// SetTransfers applies t from the next request on.
func (s *Server) SetTransfers(t Transfers) {
	if t.MaxTransfers <= 0 {
		t.MaxTransfers = DefaultMaxTransfers
	}
	if t.WriteTimeout <= 0 {
		t.WriteTimeout = DefaultTransferWriteTimeout
	}
	if t.Timeout <= 0 {
		t.Timeout = DefaultTransferTimeout
	}
	s.transfers.Store(&t)
}

// key returns the key a TSIG record names, if we have it with that
// algorithm.
func (t *Transfers) key(tsig *dns.TSIG) *TSIGKey {
	if t == nil {
		return nil
	}
	k := t.Keys[strings.ToLower(tsig.Hdr.Name)]
	if k == nil || !strings.EqualFold(k.Algorithm, tsig.Algorithm) {
		return nil
	}
	return k
}

// allowed reports whether client, with the request signed by key (nil:
// unsigned), may transfer.
func (t *Transfers) allowed(client netip.Addr, key *TSIGKey) bool {
	for _, a := range t.Allow {
		if !a.Prefix.Contains(client) {
			continue
		}
		if a.Key == "" || (key != nil && key.Name == a.Key) {
			return true
		}
	}
	return false
}

// transfer is an AXFR or IXFR that respond allowed over TCP: the
// connection streams it (writeTransfer) in place of respond's reply.
type transfer struct {
	zone   *zones.Zone
	id     uint16
	opcode int
	q      dns.Question // as the client wrote it
	edns   bool
	signed *signedQuery
	// upToDate: an IXFR from a serial not older than ours, answered with
	// our SOA alone (RFC 1995 §4).
	upToDate bool
	limit    time.Duration // per message
	total    time.Duration // for the whole transfer
	done     func()
}

// transferQuery answers an AXFR or IXFR question: refused unless allowed,
// the SOA alone for IXFR over UDP (RFC 1995 §2: the client goes on over
// TCP), and over TCP a transfer the connection sends (wq.xfer).
func (s *Server) transferQuery(req *dns.Msg, q dns.Question, reply *dns.Msg, wq *wireQuery) classification {
	refused := classification{kind: rrl.Error}
	t := s.transfers.Load()
	var key *TSIGKey
	if wq.signed != nil {
		key = wq.signed.key
	}
	if t == nil || !t.allowed(wq.client, key) {
		reply.Rcode = dns.RcodeRefused
		if t != nil && len(t.Allow) > 0 {
			// Debug: anyone can send these, over UDP from any address.
			s.log.Debug().Str("client", wq.client.String()).Str("zone", q.Name).Bool("signed", key != nil).
				Str("type", dns.TypeToString[q.Qtype]).Msg("transfer refused by the ACL")
		}
		return refused
	}
	z := s.state.Load().snap.Zone(strings.ToLower(q.Name))
	if z == nil {
		// An allowed secondary asks for a zone we do not serve: NOTAUTH
		// (RFC 5936 §2.2.1), which tells it the fault is in its setup.
		reply.Rcode = dns.RcodeNotAuth
		return refused
	}
	if q.Qtype == dns.TypeAXFR && !wq.tcp {
		// RFC 5936 §4.2: AXFR is not defined over UDP; NOTIMP says so,
		// as NSD answers it.
		reply.Rcode = dns.RcodeNotImplemented
		return refused
	}
	if q.Qtype == dns.TypeIXFR && ixfrSOA(req) == nil {
		// RFC 1995 §3: the client's SOA is in the authority section; NSD
		// answers FORMERR without it too.
		reply.Rcode = dns.RcodeFormatError
		return refused
	}
	soa := z.SOA.Records()[0]
	if !wq.tcp {
		reply.Authoritative = true
		reply.Answer = []dns.RR{soa}
		return classification{rrl.Answer, rrlKey(rrl.Answer, z.Origin, q.Qtype)}
	}
	if n := s.transfersRunning.Add(1); int(n) > t.MaxTransfers {
		s.transfersRunning.Add(-1)
		s.log.Warn().Str("client", wq.client.String()).Str("zone", z.Origin).Int("max_transfers", t.MaxTransfers).
			Msg("transfer refused: too many at once")
		reply.Rcode = dns.RcodeRefused
		return refused
	}
	x := &transfer{zone: z, id: req.Id, opcode: req.Opcode, q: q, edns: wq.edns, signed: wq.signed, limit: t.WriteTimeout, total: t.Timeout,
		done: func() { s.transfersRunning.Add(-1) }}
	if q.Qtype == dns.TypeIXFR {
		x.upToDate = ixfrUpToDate(req, z.Serial)
	}
	wq.xfer = x
	return classification{rrl.Answer, rrlKey(rrl.Answer, z.Origin, q.Qtype)}
}

// ixfrSOA is the client's SOA in an IXFR request (its authority section,
// RFC 1995 §3), or nil.
func ixfrSOA(req *dns.Msg) *dns.SOA {
	for _, rr := range req.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa
		}
	}
	return nil
}

// ixfrUpToDate reports whether an IXFR request's SOA has a serial not
// older than ours (RFC 1982).
func ixfrUpToDate(req *dns.Msg, serial uint32) bool {
	return !SerialLess(ixfrSOA(req).Serial, serial)
}

// SerialLess reports whether serial a is older than b in serial number
// arithmetic (RFC 1982 §3.2); serials 2^31 apart are neither.
func SerialLess(a, b uint32) bool {
	return a != b && (a < b && b-a < 1<<31 || a > b && a-b > 1<<31)
}

// writeTransfer sends the transfer as a series of messages, each passed
// to write (which frames and sends it within the deadline it is given):
// the SOA, every record of the zone, the SOA again. Every message is
// signed when the request was (RFC 8945 §5.3.1). The zone is the one the
// request found: a reload meanwhile does not change what is sent.
func (s *Server) writeTransfer(x *transfer, client netip.Addr, write func(msg []byte, deadline time.Time) error) error {
	defer x.done()
	start := time.Now()
	end := start.Add(x.total)
	var prior []byte
	if x.signed != nil {
		prior = x.signed.mac
	}
	first := true
	messages, records, size := 0, 0, 0
	send := func(rrs []dns.RR) error {
		m := &dns.Msg{Compress: true}
		m.Id = x.id
		m.Response = true
		m.Opcode = x.opcode
		m.Authoritative = true
		if first {
			m.Question = []dns.Question{x.q} // only the first carries it (RFC 5936 §2.2.1)
		}
		m.Answer = rrs
		if x.edns {
			o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
			o.SetUDPSize(ednsPayload)
			m.Extra = []dns.RR{o}
		}
		out, err := m.Pack()
		if err != nil {
			return err
		}
		if x.signed != nil {
			out, prior, err = signMessage(out, x.signed.key, x.signed.name, x.signed.id, prior, !first, 0, nil, time.Now())
			if err != nil {
				return err
			}
		}
		if len(out) > dns.MaxMsgSize {
			// One record near 64 KiB with an OPT and a TSIG: a TCP frame
			// cannot carry it, and a cut one would corrupt the stream.
			return fmt.Errorf("message %d is %d bytes, more than a TCP message holds", messages+1, len(out))
		}
		first = false
		messages++
		records += len(rrs)
		size += len(out)
		deadline := time.Now().Add(x.limit)
		if deadline.After(end) {
			deadline = end
		}
		if err := write(out, deadline); err != nil {
			if !time.Now().Before(end) {
				return fmt.Errorf("transfer not done in %v ([transfer] timeout): %w", x.total, err)
			}
			return err
		}
		return nil
	}
	var err error
	if x.upToDate {
		err = send([]dns.RR{x.zone.SOA.Records()[0]})
	} else {
		var batch []dns.RR
		batchSize := 0
		for rr := range x.zone.Transfer() {
			n := dns.Len(rr)
			if len(batch) > 0 && batchSize+n > transferMessageSize {
				if err = send(batch); err != nil {
					break
				}
				batch, batchSize = batch[:0], 0
			}
			batch = append(batch, rr)
			batchSize += n
		}
		if err == nil {
			err = send(batch)
		}
	}
	ev := s.log.Info()
	if err != nil {
		ev = s.log.Warn().Err(err)
	}
	ev.Str("client", client.String()).Str("zone", x.zone.Origin).Uint32("serial", x.zone.Serial).Str("type", dns.TypeToString[x.q.Qtype]).
		Bool("signed", x.signed != nil).Bool("up_to_date", x.upToDate).Int("messages", messages).Int("records", records).Int("bytes", size).
		Float64("duration", time.Since(start).Seconds()).Msg("zone transferred out")
	return err
}
