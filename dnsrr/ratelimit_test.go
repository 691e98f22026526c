package dnsrr

import (
	"encoding/hex"
	"net/netip"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr/rrl"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// A rate of 1 a second: of a quick burst of queries from one network,
// nearly all are limited (each second of wall time the burst spans lets
// one more through, so the counts hold on a slow machine too).
func TestRateLimitedReplies(t *testing.T) {
	s := exampleServer(t)
	cfg := rrl.Defaults(1)
	cfg.ExemptLoopback = true
	cfg.Exempt = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	limiter, err := rrl.New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer limiter.Close()
	s.SetPolicy(Policy{Cookies: fakeCookies{}, RRL: limiter, BadCookieSlip: true})

	const n = 40
	const cc = "0102030405060708"
	valid := cc + hex.EncodeToString(fakeCookies{}.Append(nil, []byte{1, 2, 3, 4, 5, 6, 7, 8}, netip.Addr{}, time.Time{}))
	count := func(client string, udp bool, cookie string) (full, tc, badCookie, dropped int) {
		var q wireQuery
		q.client = netip.MustParseAddr(client)
		start := time.Now()
		for range n {
			out := s.answerPacket(cookieQuery(t, cookie, false), make([]byte, 0, 4096), &q, udp)
			if out == nil {
				dropped++
				continue
			}
			m := new(dns.Msg)
			if err := m.Unpack(out); err != nil {
				t.Fatal(err)
			}
			switch {
			case m.Truncated && len(m.Answer) == 0:
				tc++
			case m.Rcode == dns.RcodeBadCookie:
				badCookie++
			case len(m.Answer) > 0:
				full++
			default:
				t.Fatalf("unexpected reply:\n%v", m)
			}
		}
		if full > 2+int(time.Since(start)/time.Second) {
			t.Errorf("%s: %d of %d full answers at 1 a second", client, full, n)
		}
		return
	}

	full, tc, bad, dropped := count("192.0.2.1", true, "")
	if full+tc+dropped != n || tc == 0 || dropped == 0 || bad != 0 {
		t.Errorf("flood: %d full, %d TC, %d dropped, %d BADCOOKIE; want slip 2 to send about as many TC as it drops", full, tc, dropped, bad)
	}
	// Another address of the same /24 shares the account: limited at once.
	if full, _, _, _ := count("192.0.2.200", true, ""); full > 1 {
		t.Errorf("same /24: %d full answers; the network's account is spent", full)
	}
	// A client cookie without a valid server cookie: slips are BADCOOKIE.
	full, tc, bad, _ = count("203.0.113.1", true, cc)
	if bad == 0 || tc != 0 {
		t.Errorf("client cookie only: %d full, %d TC, %d BADCOOKIE; want the slips as BADCOOKIE", full, tc, bad)
	}
	// A valid server cookie, TCP, and exempt networks are never limited.
	for _, c := range []struct {
		what, client string
		udp          bool
		cookie       string
	}{
		{"valid cookie", "192.0.2.1", true, valid},
		{"tcp", "192.0.2.1", false, ""},
		{"exempt network", "198.51.100.9", true, ""},
		{"loopback", "127.0.0.1", true, ""},
	} {
		var q wireQuery
		q.client = netip.MustParseAddr(c.client)
		for i := range n {
			out := s.answerPacket(cookieQuery(t, c.cookie, false), make([]byte, 0, 4096), &q, c.udp)
			m := new(dns.Msg)
			if out == nil || m.Unpack(out) != nil || len(m.Answer) == 0 {
				t.Fatalf("%s: query %d not answered in full", c.what, i)
			}
		}
	}
	if st := limiter.Stats(); st.Slipped == 0 || st.Dropped == 0 {
		t.Errorf("limiter stats %+v: nothing slipped or dropped", st)
	}
}

// The answer path with rate limiting on (a limit never reached) and a
// client cookie: the cost of both per query, and still no allocation.
func BenchmarkAnswerRateLimited(b *testing.B) {
	for _, c := range []struct{ name, cookie string }{{"no-cookie", ""}, {"client-cookie", "0102030405060708"}} {
		b.Run(c.name, func(b *testing.B) {
			s := exampleServer(b)
			limiter, err := rrl.New(rrl.Defaults(rrl.MaxRate), zerolog.Nop())
			if err != nil {
				b.Fatal(err)
			}
			defer limiter.Close()
			s.SetPolicy(Policy{Cookies: fakeCookies{}, RRL: limiter})
			pkt := cookieQuery(b, c.cookie, false)
			// The clients are spread over 65,536 /24s: one client alone
			// would pass the highest rate within a benchmark's second and
			// be limited, and this measures the cost of a pass.
			var clients [1 << 16]netip.Addr
			for i := range clients {
				clients[i] = netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1})
			}
			var q wireQuery
			buf := make([]byte, 0, udpReadSize)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				q.client = clients[i&(len(clients)-1)]
				i++
				if s.answerUDP(pkt, buf, &q) == nil {
					b.Fatal("no answer")
				}
			}
		})
	}
}
