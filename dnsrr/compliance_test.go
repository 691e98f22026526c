package dnsrr

import (
	"net/netip"
	"testing"

	"github.com/dnsrr/dnsrr/dnsrr/rrl"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// Cases found by ISC's compliance tester (genreport, integration/compliance.sh)
// against a server that rate-limits the tester: with slip 1 every limited
// reply must still be one the query's sender can act on.

// limitedServer is the example zone with a limit of 1 a second per client
// network for every kind, every limited reply slipped, and BADCOOKIE slips.
func limitedServer(t testing.TB) *Server {
	t.Helper()
	s := exampleServer(t)
	cfg := rrl.Defaults(1)
	cfg.Slip = 1
	limiter, err := rrl.New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(limiter.Close)
	s.SetPolicy(Policy{Cookies: fakeCookies{}, RRL: limiter, BadCookieSlip: true})
	return s
}

// answerRepeatedly answers pkt n times over UDP from client and unpacks
// every reply; a dropped reply fails the test (slip 1 drops nothing).
func answerRepeatedly(t *testing.T, s *Server, pkt []byte, client string, n int) []*dns.Msg {
	t.Helper()
	q := wireQuery{client: netip.MustParseAddr(client)}
	var replies []*dns.Msg
	for i := range n {
		out := s.answerPacket(pkt, make([]byte, 0, 4096), &q, true)
		if out == nil {
			t.Fatalf("query %d: no reply; slip 1 must answer every limited query", i)
		}
		m := new(dns.Msg)
		if err := m.Unpack(out); err != nil {
			t.Fatalf("query %d: reply does not unpack: %v", i, err)
		}
		replies = append(replies, m)
	}
	return replies
}

// genreport "edns1cookie": an EDNS version 1 query with a client cookie is
// answered BADVERS; limited, it slips as TC, never as BADCOOKIE (whose
// cookie we would have to read from an OPT of a version we do not know).
func TestLimitedBadVersIsNotBadCookie(t *testing.T) {
	s := limitedServer(t)
	m := new(dns.Msg).SetQuestion("lb.example.test.", dns.TypeSOA)
	m.SetEdns0(4096, false)
	opt := m.IsEdns0()
	opt.SetVersion(1)
	opt.Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}}
	pkt, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	slipped := 0
	for i, r := range answerRepeatedly(t, s, pkt, "192.0.2.1", 10) {
		switch {
		case r.Rcode == dns.RcodeBadCookie:
			t.Fatalf("query %d: BADCOOKIE to an EDNS version 1 query:\n%v", i, r)
		case r.Truncated:
			slipped++
		case r.Rcode != dns.RcodeBadVers:
			t.Fatalf("query %d: want BADVERS or a TC slip:\n%v", i, r)
		}
	}
	if slipped == 0 {
		t.Error("nothing was limited: the test did not reach the slip")
	}
}

// genreport "opcode" and "opcodeflg": a query of an unknown opcode and no
// question gets NOTIMP, a bare header; limited with slip 1, it is sent
// with TC (a bare header is no larger than the query), not dropped.
func TestLimitedReplyWithoutQuestionSlips(t *testing.T) {
	s := limitedServer(t)
	for _, c := range []struct {
		name   string
		cookie bool // BADCOOKIE slips need a question: this one slips as TC
	}{{"plain", false}, {"client cookie", true}} {
		m := new(dns.Msg)
		m.Id = 4242
		m.Opcode = 15
		if c.cookie {
			m.SetEdns0(1232, false)
			m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}}
		}
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		slipped := 0
		for i, r := range answerRepeatedly(t, s, pkt, "198.51.100.1", 10) {
			if r.Rcode != dns.RcodeNotImplemented || r.Opcode != 15 || r.Id != m.Id || len(r.Question)+len(r.Answer)+len(r.Ns) != 0 {
				t.Fatalf("%s: query %d: want NOTIMP without records:\n%v", c.name, i, r)
			}
			if r.Truncated {
				slipped++
			}
		}
		if slipped == 0 {
			t.Errorf("%s: nothing was limited: the test did not reach the slip", c.name)
		}
	}
}
