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

// TestStatsCountEveryAnswer sends queries of every kind through
// answerPacket, as the UDP workers and TCP connections do, and checks the
// counters against what miekg/dns reads in each reply: transport, qtype,
// rcode (extended ones included), TC, drops and cookies, exactly.
func TestStatsCountEveryAnswer(t *testing.T) {
	s := exampleServer(t)
	cfg := rrl.Defaults(1)
	cfg.ExemptLoopback = true
	limiter, err := rrl.New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer limiter.Close()
	s.SetPolicy(Policy{Cookies: fakeCookies{}, RRL: limiter, BadCookieSlip: true})

	pack := func(m *dns.Msg) []byte {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	query := func(qname string, qtype uint16, edns bool) []byte {
		m := new(dns.Msg).SetQuestion(qname, qtype)
		if edns {
			m.SetEdns0(1232, false)
		}
		return pack(m)
	}
	badVers := new(dns.Msg).SetQuestion("www.lb.example.test.", dns.TypeA)
	badVers.SetEdns0(1232, false)
	badVers.IsEdns0().SetVersion(1)
	response := new(dns.Msg).SetQuestion("www.lb.example.test.", dns.TypeA)
	response.Response = true
	notify := new(dns.Msg).SetQuestion("lb.example.test.", dns.TypeSOA)
	notify.Opcode = dns.OpcodeUpdate
	const cc = "0102030405060708"
	validCookie := cc + hex.EncodeToString(fakeCookies{}.Append(nil, []byte{1, 2, 3, 4, 5, 6, 7, 8}, netip.Addr{}, time.Time{}))

	type packet struct {
		pkt      []byte
		notQuery bool // expected to be dropped as such
		cookie   int  // expected cookie result, -1 for none
	}
	packets := []packet{
		{query("www.lb.example.test.", dns.TypeA, true), false, -1},
		{query("www.lb.example.test.", dns.TypeAAAA, false), false, -1},
		{query("nope.lb.example.test.", dns.TypeA, true), false, -1},
		{query("www.example.org.", dns.TypeA, true), false, -1}, // REFUSED: not ours
		{query("lb.example.test.", dns.TypeANY, true), false, -1},
		{query("lb.example.test.", dns.TypeMX, true), false, -1},
		{query("lb.example.test.", dns.TypeCAA, true), false, -1},
		{query("lb.example.test.", dns.TypeDS, true), false, -1},
		{query("lb.example.test.", dns.TypeAXFR, false), false, -1},
		{query("lb.example.test.", 65280, true), false, -1}, // a private type: "other"
		{pack(badVers), false, -1},
		{pack(response), true, -1},
		{pack(notify), false, -1},
		{[]byte{1, 2, 3}, true, -1},
		{query("www.lb.example.test.", dns.TypeA, true)[:20], false, -1}, // cut short: FORMERR
		{cookieQuery(t, cc, false), false, CookieClientOnly},
		{cookieQuery(t, validCookie, false), false, CookieValid},
		{cookieQuery(t, cc+"00112233445566778899aabbccddeeff", false), false, CookieInvalid},
		{cookieQuery(t, "0102", false), false, CookieMalformed},
	}

	var want Stats
	var rrlDropped int
	send := func(p packet, client string, udp bool) {
		t.Helper()
		tr := TransportTCP
		if udp {
			tr = TransportUDP
		}
		q := wireQuery{client: netip.MustParseAddr(client)}
		out := s.answerPacket(p.pkt, make([]byte, 0, 4096), &q, udp)
		if out == nil {
			reason := DropRRL
			if p.notQuery {
				reason = DropNotQuery
			} else {
				rrlDropped++
			}
			want.Dropped[tr][reason]++
			if reason == DropRRL && p.cookie >= 0 {
				want.Cookies[p.cookie]++
			}
			return
		}
		if p.notQuery {
			t.Fatalf("answered a packet that is not a query: %x", p.pkt)
		}
		req, reply := new(dns.Msg), new(dns.Msg)
		qt := NumQtypes - 1
		if req.Unpack(p.pkt) == nil && len(req.Question) > 0 {
			qt = qtypeIndex(req.Question[0].Qtype)
		}
		if err := reply.Unpack(out); err != nil {
			t.Fatalf("unpack reply: %v", err)
		}
		want.Queries[tr][qt][reply.Rcode]++
		if reply.Truncated {
			want.Truncated[tr]++
		}
		if p.cookie >= 0 {
			want.Cookies[p.cookie]++
		}
	}
	for _, p := range packets {
		send(p, "127.0.0.1", true)
		send(p, "::1", false)
	}
	// A client over the limit: slipped (TC, or BADCOOKIE for one with a
	// client cookie) or dropped; the limit is 1 a second, so of 30 quick
	// queries most are limited however slow the machine.
	for i := range 30 {
		p := packet{query("api.lb.example.test.", dns.TypeA, true), false, -1}
		if i%2 == 1 {
			p = packet{cookieQuery(t, cc, false), false, CookieClientOnly}
		}
		send(p, "192.0.2.1", true)
	}

	var got Stats
	s.Stats(&got)
	for tr := range NumTransports {
		for qt := range NumQtypes {
			for rc := range NumRcodes {
				if g, w := got.Queries[tr][qt][rc], want.Queries[tr][qt][rc]; g != w {
					t.Errorf("queries{%s, %s, %s} = %d, want %d", TransportNames[tr], QtypeNames[qt], RcodeNames[rc], g, w)
				}
			}
		}
	}
	if got.Truncated != want.Truncated || got.Dropped != want.Dropped || got.Cookies != want.Cookies {
		t.Errorf("truncated %v, dropped %v, cookies %v; want %v, %v, %v",
			got.Truncated, got.Dropped, got.Cookies, want.Truncated, want.Dropped, want.Cookies)
	}
	// The cases above must cover what they are meant to.
	for _, c := range []struct {
		what string
		n    uint64
	}{
		{"BADVERS", want.Queries[TransportUDP][0][dns.RcodeBadVers]},
		{"BADCOOKIE", want.Queries[TransportUDP][0][dns.RcodeBadCookie]},
		{"REFUSED", want.Queries[TransportTCP][0][dns.RcodeRefused]},
		{"NOTIMP", want.Queries[TransportUDP][NumQtypes-1][dns.RcodeNotImplemented] + want.Queries[TransportUDP][5][dns.RcodeNotImplemented]},
		{"FORMERR", want.Queries[TransportUDP][NumQtypes-1][dns.RcodeFormatError] + want.Queries[TransportUDP][0][dns.RcodeFormatError]},
		{"other qtype", want.Queries[TransportUDP][NumQtypes-1][dns.RcodeSuccess]},
		{"truncated", want.Truncated[TransportUDP]},
		{"dropped by RRL", uint64(rrlDropped)},
		{"invalid cookie", want.Cookies[CookieInvalid]},
	} {
		if c.n == 0 {
			t.Errorf("no %s answer among the cases", c.what)
		}
	}
}

// TestStatsLatencyBuckets: an observation lands in the first bucket whose
// bound it does not exceed, n at a time, and the sum follows.
func TestStatsLatencyBuckets(t *testing.T) {
	s := exampleServer(t)
	sh := &s.stats.shards[3]
	sh.observe(TransportUDP, 2, LatencyBounds[0])    // on the bound: first bucket
	sh.observe(TransportUDP, 1, LatencyBounds[0]+1)  // just over: second
	sh.observe(TransportTCP, 3, 2*LatencyBounds[12]) // over every bound: +Inf
	sh.observe(TransportTCP, 0, LatencyBounds[5])    // nothing answered: nothing counted
	var got Stats
	s.Stats(&got)
	u, c := got.Latency[TransportUDP], got.Latency[TransportTCP]
	if u.Counts[0] != 2 || u.Counts[1] != 1 || u.Count() != 3 || u.Sum != 3*LatencyBounds[0]+1 {
		t.Errorf("udp histogram %+v", u)
	}
	if c.Counts[NumLatencyBuckets-1] != 3 || c.Count() != 3 || c.Sum != 6*LatencyBounds[12] {
		t.Errorf("tcp histogram %+v", c)
	}
}

// TestStatsCountingAllocatesNothing: counting keeps the answer path at
// zero allocations, for an answer and for a drop.
func TestStatsCountingAllocatesNothing(t *testing.T) {
	s := exampleServer(t)
	pkt := cookieQuery(t, "", false)
	resp := new(dns.Msg).SetQuestion("www.lb.example.test.", dns.TypeA)
	resp.Response = true
	notQuery, _ := resp.Pack()
	buf := make([]byte, 0, 4096)
	q := wireQuery{stats: s.stats.shard()}
	if n := testing.AllocsPerRun(1000, func() {
		s.answerUDP(pkt, buf, &q)
		s.answerUDP(notQuery, buf, &q)
		q.stats.observe(TransportUDP, 2, 3000)
	}); n != 0 {
		t.Errorf("%v allocations per query", n)
	}
	var got Stats
	s.Stats(&got)
	if got.Queries[TransportUDP][0][0] == 0 || got.Dropped[TransportUDP][DropNotQuery] == 0 {
		t.Errorf("not counted: %+v", got.Dropped)
	}
}

// BenchmarkStatsCount is what counting adds to one answer: the qtype and
// rcode read, two atomic adds, and a 32nd of a batch's latency.
func BenchmarkStatsCount(b *testing.B) {
	s := exampleServer(b)
	pkt := cookieQuery(b, "", false)
	var q wireQuery
	if !parseQuery(pkt, &q) {
		b.Fatal("not parsed")
	}
	q.policy = &Policy{}
	out := s.answerUDP(pkt, make([]byte, 0, 4096), &wireQuery{})
	sh := s.stats.shard()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sh.count(&q, pkt, out, TransportUDP, true, DropNotQuery)
		if i++; i%udpBatch == 0 {
			sh.observe(TransportUDP, udpBatch, 20*time.Microsecond)
		}
	}
}
