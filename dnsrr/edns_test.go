package dnsrr

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeCookies makes a server cookie that depends only on the client
// cookie, so that replies compare byte for byte.
type fakeCookies struct{}

func (fakeCookies) Append(dst, clientCookie []byte, _ netip.Addr, _ time.Time) []byte {
	for i := range serverCookieLen {
		dst = append(dst, clientCookie[i%clientCookieLen]^0x5A)
	}
	return dst
}

func (f fakeCookies) Valid(clientCookie, serverCookie []byte, client netip.Addr, now time.Time) bool {
	var buf [serverCookieLen]byte
	return bytes.Equal(serverCookie, f.Append(buf[:0], clientCookie, client, now))
}

// cookieQuery is a query for www with a COOKIE option holding hexData
// (and NSID when asked).
func cookieQuery(t testing.TB, hexData string, nsid bool) []byte {
	t.Helper()
	m := new(dns.Msg).SetQuestion("www.lb.example.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	if hexData != "" {
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hexData})
	}
	if nsid {
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
	}
	pkt, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return pkt
}

// replyOptionsOf unpacks a reply and returns its rcode and its OPT's
// COOKIE and NSID data (hex), "" when absent.
func replyOptionsOf(t *testing.T, out []byte) (rcode int, cookie, nsid string) {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(out); err != nil {
		t.Fatalf("unpack: %v", err)
	}
	opt := m.IsEdns0()
	if opt == nil {
		t.Fatalf("reply has no OPT:\n%v", m)
	}
	for _, o := range opt.Option {
		switch o := o.(type) {
		case *dns.EDNS0_COOKIE:
			cookie = o.Cookie
		case *dns.EDNS0_NSID:
			nsid = o.Nsid
		}
	}
	return m.Rcode, cookie, nsid
}

func TestCookiesAndNSIDBothPaths(t *testing.T) {
	s := exampleServer(t)
	s.SetPolicy(Policy{NSID: "ns1", Cookies: fakeCookies{}})
	const cc = "0102030405060708"
	ours := cc + hex.EncodeToString(fakeCookies{}.Append(nil, []byte{1, 2, 3, 4, 5, 6, 7, 8}, netip.Addr{}, time.Time{}))
	wrong := cc + "00112233445566778899aabbccddeeff"
	cases := []struct {
		name       string
		cookie     string
		nsid       bool
		wantRcode  int
		wantCookie string
		wantValid  bool
		wantNSID   string
	}{
		{"client cookie only", cc, false, dns.RcodeSuccess, ours, false, ""},
		{"valid server cookie", ours, true, dns.RcodeSuccess, ours, true, hex.EncodeToString([]byte("ns1"))},
		{"wrong server cookie: a fresh one, no error (RFC 7873 §5.2.3)", wrong, false, dns.RcodeSuccess, ours, false, ""},
		{"server cookie of 8 bytes is legal, not ours", cc + "0011223344556677", false, dns.RcodeSuccess, ours, false, ""},
		{"7 bytes", "01020304050607", false, dns.RcodeFormatError, "", false, ""},
		{"9 bytes", cc + "01", false, dns.RcodeFormatError, "", false, ""},
		{"15 bytes", cc + "01020304050607", false, dns.RcodeFormatError, "", false, ""},
		{"41 bytes", cc + hex.EncodeToString(make([]byte, 33)), false, dns.RcodeFormatError, "", false, ""},
		{"nsid only", "", true, dns.RcodeSuccess, "", false, hex.EncodeToString([]byte("ns1"))},
	}
	for _, c := range cases {
		pkt := cookieQuery(t, c.cookie, c.nsid)
		for _, path := range []string{"udp", "tcp", "full"} {
			var q wireQuery
			q.client = netip.MustParseAddr("192.0.2.1")
			var out []byte
			switch path {
			case "udp":
				out = s.answerPacket(pkt, make([]byte, 0, 4096), &q, true)
			case "tcp":
				out = s.answerPacket(pkt, make([]byte, 0, 4096), &q, false)
			case "full":
				q.policy = s.policy.Load() // as answerPacket does
				out = s.answerSlow(pkt, make([]byte, 0, 4096), &q, true)
			}
			rcode, cookie, nsid := replyOptionsOf(t, out)
			if rcode != c.wantRcode || cookie != c.wantCookie || nsid != c.wantNSID || q.cookieValid != c.wantValid {
				t.Errorf("%s (%s): rcode %s cookie %q nsid %q valid %v; want %s %q %q %v", c.name, path,
					dns.RcodeToString[rcode], cookie, nsid, q.cookieValid,
					dns.RcodeToString[c.wantRcode], c.wantCookie, c.wantNSID, c.wantValid)
			}
		}
	}

	// Cookies off: the option is ignored (RFC 7873 §5.2), NSID unasked is
	// not sent.
	s.SetPolicy(Policy{})
	rcode, cookie, nsid := replyOptionsOf(t, s.answerPacket(cookieQuery(t, ours, true), make([]byte, 0, 4096), new(wireQuery), true))
	if rcode != dns.RcodeSuccess || cookie != "" || nsid != "" {
		t.Errorf("policy off: rcode %d cookie %q nsid %q; want NOERROR and neither option", rcode, cookie, nsid)
	}
}

// A cookie in a query with EDNS version 1 is not read: BADVERS, no cookie.
func TestCookieNotEchoedWithBadVersion(t *testing.T) {
	s := exampleServer(t)
	s.SetPolicy(Policy{Cookies: fakeCookies{}})
	m := new(dns.Msg).SetQuestion("www.lb.example.test.", dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().SetVersion(1)
	m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}}
	pkt, _ := m.Pack()
	rcode, cookie, _ := replyOptionsOf(t, s.answerPacket(pkt, make([]byte, 0, 4096), new(wireQuery), true))
	if rcode != dns.RcodeBadVers || cookie != "" {
		t.Errorf("rcode %s cookie %q; want BADVERS, no cookie", dns.RcodeToString[rcode], cookie)
	}
}

func TestFastPathAnswersWithCookies(t *testing.T) {
	s := exampleServer(t)
	s.SetPolicy(Policy{NSID: "ns1", Cookies: fakeCookies{}})
	var q wireQuery
	pkt := cookieQuery(t, "0102030405060708", true)
	if !parseQuery(pkt, &q) {
		t.Fatal("the fast path refuses a query with a cookie and NSID")
	}
	q.replyOptions(s.policy.Load())
	if s.state.Load().fast.respond(&q, pkt, make([]byte, 0, 4096), 1232) == nil {
		t.Fatal("the fast path declined a plain query with a cookie")
	}
}

func BenchmarkAnswerWithCookies(b *testing.B) {
	s := exampleServer(b)
	s.SetPolicy(Policy{NSID: "ns1", Cookies: fakeCookies{}})
	ours := "0102030405060708" + hex.EncodeToString(fakeCookies{}.Append(nil, []byte{1, 2, 3, 4, 5, 6, 7, 8}, netip.Addr{}, time.Time{}))
	pkt := cookieQuery(b, ours, true)
	q := wireQuery{client: netip.MustParseAddr("192.0.2.1")}
	buf := make([]byte, 0, udpReadSize)
	b.ReportAllocs()
	for b.Loop() {
		if s.answerUDP(pkt, buf, &q) == nil || !q.cookieValid {
			b.Fatal("no answer, or the cookie not valid")
		}
	}
}

// The full path answers under the policy its query read once, not under
// one a SetPolicy stored meanwhile: one reply never mixes two policies.
func TestFullPathUsesThePolicyReadOnce(t *testing.T) {
	s := exampleServer(t)
	s.SetPolicy(Policy{NSID: "stored later"})
	m := new(dns.Msg).SetQuestion("lb.example.test.", dns.TypeANY) // ANY: the full path
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_NSID{Code: dns.EDNS0NSID}}
	pkt, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	req := new(dns.Msg)
	if err := req.Unpack(pkt); err != nil {
		t.Fatal(err)
	}
	q := wireQuery{policy: &Policy{NSID: "read once"}}
	q.opts.readOptions(pkt)
	out, err := s.respond(req, &q, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, nsid := replyOptionsOf(t, out); nsid != hex.EncodeToString([]byte("read once")) {
		t.Errorf("NSID %q; want the one of the policy the query read", nsid)
	}
}

// A malformed COOKIE option is FORMERR only while cookies are on; with
// them off the option is ignored like any unknown one (RFC 7873 §5.2), as
// the README promises for enabled = false. A bad ECS option is FORMERR
// either way.
func TestMalformedCookieWithCookiesOff(t *testing.T) {
	s := exampleServer(t)
	ecs := func(m *dns.Msg) {
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: []byte{0, 1, 24, 5, 192, 0, 2}})
	}
	for _, c := range []struct {
		name    string
		cookies CookieSigner
		badECS  bool
		want    int
	}{
		{"cookies on", fakeCookies{}, false, dns.RcodeFormatError},
		{"cookies off", nil, false, dns.RcodeSuccess},
		{"cookies off, bad ECS", nil, true, dns.RcodeFormatError},
	} {
		s.SetPolicy(Policy{Cookies: c.cookies})
		m := new(dns.Msg).SetQuestion("www.lb.example.test.", dns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_LOCAL{Code: dns.EDNS0COOKIE, Data: make([]byte, 9)}}
		if c.badECS {
			ecs(m)
		}
		pkt, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		for _, udp := range []bool{true, false} {
			q := wireQuery{client: netip.MustParseAddr("192.0.2.1")}
			rcode, cookie, _ := replyOptionsOf(t, s.answerPacket(pkt, make([]byte, 0, 4096), &q, udp))
			if rcode != c.want || cookie != "" {
				t.Errorf("%s (udp %v): rcode %s, cookie %q; want %s and no cookie", c.name, udp, dns.RcodeToString[rcode], cookie, dns.RcodeToString[c.want])
			}
		}
	}
}

// A malformed option in a query whose name is longer than 255 octets:
// FORMERR without echoing a question no reply may carry (found by
// FuzzFastPathMatchesFullPath).
func TestOptionFormErrLongName(t *testing.T) {
	s := exampleServer(t)
	s.SetPolicy(Policy{Cookies: fakeCookies{}})
	pkt := []byte{0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1}
	for range 5 { // 5 labels of 63: 320 octets
		pkt = append(pkt, 63)
		pkt = append(pkt, bytes.Repeat([]byte{'x'}, 63)...)
	}
	pkt = append(pkt, 0, 0, 1, 0, 1)
	// OPT with a 9-byte COOKIE
	pkt = append(pkt, 0, 0, 41, 4, 0xD0, 0, 0, 0, 0, 0, 13, 0, 10, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	for _, udp := range []bool{true, false} {
		out := s.answerPacket(pkt, make([]byte, 0, 4096), &wireQuery{}, udp)
		m := new(dns.Msg)
		if err := m.Unpack(out); err != nil {
			t.Fatalf("udp %v: the reply does not unpack: %v", udp, err)
		}
		if m.Rcode != dns.RcodeFormatError || m.Id != 0xABCD {
			t.Errorf("udp %v: %s id %x; want FORMERR with the query's ID", udp, dns.RcodeToString[m.Rcode], m.Id)
		}
	}
}
