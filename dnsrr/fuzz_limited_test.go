package dnsrr

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// FuzzLimitedReplies answers datagrams as one UDP worker does, with
// cookies, NSID and rate limiting at 1 a second with slip 1 (so nearly
// every reply is a slip), each right after a resolver's query with a
// cookie and ECS on the same wireQuery. Every reply must unpack and carry
// the query's ID; a slip (TC or BADCOOKIE) may exceed the query by a
// server cookie at most; and no reply may carry the resolver's cookie.
func FuzzLimitedReplies(f *testing.F) {
	s := limitedServer(f)
	p := *s.policy.Load()
	p.NSID = "fuzz-nsid-0123456789abcdef"
	s.SetPolicy(p)

	prev := new(dns.Msg).SetQuestion("www.lb.example.test.", dns.TypeA)
	prev.SetEdns0(1232, false)
	prev.IsEdns0().Option = []dns.EDNS0{
		&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "50524556434f4f4b"}, // "PREVCOOK"
		&dns.EDNS0_NSID{Code: dns.EDNS0NSID},
	}
	prevPkt, err := prev.Pack()
	if err != nil {
		f.Fatal(err)
	}
	for _, m := range []*dns.Msg{
		new(dns.Msg).SetQuestion("www.lb.example.test.", dns.TypeA),
		new(dns.Msg).SetQuestion("nope.lb.example.test.", dns.TypeANY),
		prev,
	} {
		b, _ := m.Pack()
		f.Add(b)
	}
	f.Add([]byte{0xAB, 0xCD, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 0, 0, 1, 0, 1, 7})

	var q wireQuery
	buf := make([]byte, 0, udpReadSize)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		q.client = netip.MustParseAddr("192.0.2.1")
		s.answerUDP(prevPkt, buf, &q)
		q.client = netip.MustParseAddr("198.51.100.7")
		out := s.answerUDP(pkt, buf, &q)
		if out == nil {
			return
		}
		r := new(dns.Msg)
		if err := r.Unpack(out); err != nil {
			t.Fatalf("reply to % x does not unpack: %v\n% x", pkt, err, out)
		}
		if r.Id != uint16(pkt[0])<<8|uint16(pkt[1]) {
			t.Fatalf("reply ID %#x to % x", r.Id, pkt)
		}
		if bytes.Contains(out, []byte("PREVCOOK")) && !bytes.Contains(pkt, []byte("PREVCOOK")) {
			t.Fatalf("reply to % x carries the previous query's cookie:\n%v", pkt, r)
		}
		slipped := r.Truncated && len(r.Answer)+len(r.Ns) == 0 || r.Rcode == dns.RcodeBadCookie
		if slipped && len(out) > len(pkt)+serverCookieLen {
			t.Fatalf("slip of %d bytes to a query of %d:\n% x\n%v", len(out), len(pkt), pkt, r)
		}
	})
}
