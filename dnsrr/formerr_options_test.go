package dnsrr

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// A malformed ECS or COOKIE option gets FORMERR (RFC 7871 §7.1.1, RFC
// 7873 §5.2.2) with the question and an OPT, as RFC 6891 §7 asks of every
// reply to a query with EDNS: a FORMERR without an OPT tells a resolver
// that we do not speak EDNS. That holds too for the options miekg/dns
// itself refuses to unpack (an unknown family, a prefix longer than the
// address, an option cut short), whose FORMERR was a bare header.
func TestMalformedOptionFormerrKeepsOPT(t *testing.T) {
	s := stickyServer(t)
	s.SetPolicy(Policy{Cookies: fakeCookies{}}) // a bad COOKIE is FORMERR only with cookies on
	for _, opt := range []*dns.EDNS0_LOCAL{
		{Code: dns.EDNS0SUBNET, Data: []byte{0, 1, 33, 0, 1, 2, 3, 4, 5}}, // source longer than IPv4
		{Code: dns.EDNS0SUBNET, Data: []byte{0, 3, 8, 0, 1}},              // unknown family
		{Code: dns.EDNS0SUBNET, Data: []byte{0, 1}},                       // cut short
		{Code: dns.EDNS0SUBNET, Data: []byte{0, 1, 24, 8, 203, 0, 113}},   // scope set in a query
		{Code: dns.EDNS0COOKIE, Data: []byte{1, 2, 3, 4, 5, 6, 7}},        // a client cookie too short
	} {
		m := new(dns.Msg).SetQuestion("five.st.test.", dns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = []dns.EDNS0{opt}
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		q := wireQuery{client: netip.MustParseAddr("192.0.2.1")}
		r := new(dns.Msg)
		if err := r.Unpack(s.answerUDP(pkt, make([]byte, 0, udpReadSize), &q)); err != nil {
			t.Fatalf("option %d %v: reply does not unpack: %v", opt.Code, opt.Data, err)
		}
		if r.Rcode != dns.RcodeFormatError || len(r.Question) != 1 || r.IsEdns0() == nil || len(r.IsEdns0().Option) != 0 {
			t.Errorf("option %d %v: want FORMERR with the question and an OPT without options:\n%v", opt.Code, opt.Data, r)
		}
	}
}
