package dnsrr

import (
	"net/netip"
	"slices"
)

// AnswerFrom answers one query from client, over UDP (size-limited) or
// TCP, as the server's own loops do.
func (s *Server) AnswerFrom(pkt []byte, client netip.Addr, udp bool) []byte {
	q := wireQuery{client: client}
	if udp {
		return slices.Clone(s.answerUDP(pkt, make([]byte, 0, udpReadSize), &q))
	}
	return slices.Clone(s.answerPacket(pkt, make([]byte, 0, udpReadSize), &q, false))
}
