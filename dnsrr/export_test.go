package dnsrr

import (
	"context"
	"slices"

	"github.com/dnsrr/dnsrr/zones"
	"github.com/miekg/dns"
)

// MinEvictIdle is how long a TCP connection is idle before it may be evicted.
const MinEvictIdle = minEvictIdle

// Hooks for the external tests (package dnsrr_test). UDP queries do not go
// through ServeDNS: the server's own UDP loop calls answerUDP (fast path,
// then the full path), so the handler tests run their cases through it
// too.

// AnswerUDP answers one UDP datagram as the UDP workers do; nil means no
// reply is sent.
func (s *Server) AnswerUDP(pkt []byte) []byte {
	var q wireQuery
	return slices.Clone(s.answerUDP(pkt, make([]byte, 0, udpReadSize), &q))
}

// AnswerTCP answers one framed TCP query (without its length) as a TCP
// connection does, keepalive option aside; nil means no reply is sent.
func (s *Server) AnswerTCP(pkt []byte) []byte {
	var q wireQuery
	return slices.Clone(s.answerPacket(pkt, make([]byte, 0, udpReadSize), &q, false))
}

// AnswerUDPFast answers one UDP datagram on the fast path alone; nil when
// the fast path declines it (the full path would answer).
func (s *Server) AnswerUDPFast(pkt []byte) []byte {
	var q wireQuery
	if !parseQuery(pkt, &q) {
		return nil
	}
	buf := make([]byte, 0, udpReadSize)
	return slices.Clone(s.state.Load().fast.respond(&q, pkt, buf, min(q.payload, ednsPayload)))
}

// Shuffle is permute on a random pool's records, as the full path calls
// it: a uniform Fisher–Yates shuffle.
func Shuffle(rrs []dns.RR) {
	permute(&zones.RRset{Order: zones.OrderRandom}, len(rrs), recordSwapper(rrs), nil)
}

// UDPAnswerer answers datagrams into a reused buffer, as one UDP worker
// does, for benchmarks.
type UDPAnswerer struct {
	s   *Server
	q   wireQuery
	buf []byte
}

// NewUDPAnswerer returns an answerer for s.
func (s *Server) NewUDPAnswerer() *UDPAnswerer {
	return &UDPAnswerer{s: s, buf: make([]byte, 0, udpReadSize)}
}

// Answer answers pkt; the result is valid until the next call.
func (a *UDPAnswerer) Answer(pkt []byte) []byte {
	return a.s.answerUDP(pkt, a.buf[:0], &a.q)
}

// SetNotifyExchange replaces how n sends one NOTIFY; call it before the
// first Notify.
func SetNotifyExchange(n *Notifier, f func(ctx context.Context, m *dns.Msg, t NotifyTarget) (*dns.Msg, error)) {
	n.exchange = f
}
