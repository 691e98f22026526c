package dnsrr

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// A UDP worker answers every query with one wireQuery. A limited reply to
// a packet that neither path could read (FORMERR as a bare header) must
// not carry the options of the query answered before it: that was another
// client's COOKIE (its client cookie and a valid server cookie for its
// address, with which a spoofer escapes rate limiting at that address for
// an hour) and its ECS subnet.
func TestSlipCarriesNoOptionsOfThePreviousQuery(t *testing.T) {
	s := limitedServer(t)

	victim := new(dns.Msg).SetQuestion("www.lb.example.test.", dns.TypeA)
	victim.SetEdns0(1232, false)
	victim.IsEdns0().Option = []dns.EDNS0{
		&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"},
		&dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: []byte{0, 1, 24, 0, 203, 0, 113}},
	}
	victimPkt, err := victim.Pack()
	if err != nil {
		t.Fatal(err)
	}
	// Two questions, the second cut short: no path can read it.
	garbage := []byte{0xAB, 0xCD, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 0, 0, 1, 0, 1, 7}

	var q wireQuery
	for i := range 4 {
		q.client = netip.MustParseAddr("192.0.2.1")
		s.answerUDP(victimPkt, make([]byte, 0, udpReadSize), &q)
		q.client = netip.MustParseAddr("198.51.100.66")
		out := s.answerUDP(garbage, make([]byte, 0, udpReadSize), &q)
		if out == nil {
			continue
		}
		r := new(dns.Msg)
		if err := r.Unpack(out); err != nil {
			t.Fatalf("reply %d does not unpack: %v", i, err)
		}
		if len(r.Extra) != 0 {
			t.Fatalf("reply %d to a packet without an OPT carries one, the previous query's:\n%v", i, r)
		}
	}
}
