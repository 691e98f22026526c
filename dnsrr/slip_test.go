package dnsrr

import (
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

func TestSlipAndBadCookieReplies(t *testing.T) {
	s := exampleServer(t)
	s.SetPolicy(Policy{Cookies: fakeCookies{}})
	for _, c := range []struct {
		name   string
		cookie string
		edns   bool
	}{{"no EDNS", "", false}, {"EDNS", "", true}, {"cookie", "0102030405060708", true}} {
		m := new(dns.Msg).SetQuestion("WWW.lb.example.test.", dns.TypeA)
		m.RecursionDesired = true
		if c.edns {
			m.SetEdns0(1232, false)
			if c.cookie != "" {
				m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: c.cookie}}
			}
		}
		pkt, _ := m.Pack()
		q := wireQuery{client: netip.MustParseAddr("192.0.2.7")}
		full := s.answerPacket(pkt, make([]byte, 0, 4096), &q, true)
		slip := new(dns.Msg)
		if err := slip.Unpack(slipReply(&q, full)); err != nil {
			t.Fatalf("%s: slip reply does not unpack: %v", c.name, err)
		}
		if !slip.Truncated || !slip.Response || !slip.RecursionDesired || slip.Id != m.Id || slip.Rcode != dns.RcodeSuccess ||
			len(slip.Question) != 1 || slip.Question[0].Name != "WWW.lb.example.test." ||
			len(slip.Answer)+len(slip.Ns) != 0 || (slip.IsEdns0() != nil) != c.edns || len(slip.Extra) > 1 {
			t.Errorf("%s: slip reply is not an empty TC reply echoing the question:\n%v", c.name, slip)
		}
		if len(pkt) < len(slipReply(&q, s.answerPacket(pkt, make([]byte, 0, 4096), &q, true)))-len(q.optData) {
			t.Errorf("%s: slip reply larger than the query (without our options)", c.name)
		}

		out := badCookieReply(&q, s.answerPacket(pkt, make([]byte, 0, 4096), &q, true))
		if !c.edns {
			if out != nil {
				t.Errorf("%s: BADCOOKIE without EDNS", c.name)
			}
			continue
		}
		bad := new(dns.Msg)
		if err := bad.Unpack(out); err != nil {
			t.Fatalf("%s: BADCOOKIE reply does not unpack: %v", c.name, err)
		}
		_, cookie, _ := replyOptionsOf(t, out)
		if bad.Rcode != dns.RcodeBadCookie || bad.Truncated || len(bad.Answer) != 0 || (c.cookie != "") != (cookie != "") {
			t.Errorf("%s: BADCOOKIE reply wrong (cookie %q):\n%v", c.name, cookie, bad)
		}
	}
}
