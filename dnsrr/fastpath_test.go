package dnsrr

import (
	"encoding/hex"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/zones"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

func exampleServer(t testing.TB) *Server {
	t.Helper()
	snap, err := zones.Load([]string{"../examples/zones/lb.example.test.toml"})
	if err != nil {
		t.Fatal(err)
	}
	return New(nil, Chaos{}, snap, zerolog.Nop())
}

// canonical renders a reply with each section sorted, so that replies
// differing only in pool order compare equal. Records are compared without
// regard to case (RFC 4343): an owner compressed into the question carries
// the client's case. The question itself must match exactly.
func canonical(t *testing.T, wire []byte) string {
	t.Helper()
	text, err := canonicalText(wire)
	if err != nil {
		t.Fatalf("reply does not unpack: %v", err)
	}
	return text
}

// canonicalText is canonical for callers that report the error their way.
func canonicalText(wire []byte) (string, error) {
	m := new(dns.Msg)
	if err := m.Unpack(wire); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(m.MsgHdr.String())
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		var lines []string
		for _, rr := range sec {
			lines = append(lines, strings.ToLower(rr.String()))
		}
		sort.Strings(lines)
		b.WriteString("\n--\n" + strings.Join(lines, "\n"))
	}
	for _, q := range m.Question {
		b.WriteString("\n" + q.String()) // case included: it must be the client's
	}
	return b.String(), nil
}

// The fast path must give exactly the full path's answer, whatever the
// query: both are run on every name of the example (plus names that do not
// exist, sit below a delegation or match the wildcard) for many types, in
// several EDNS variants and letter cases.
func TestFastPathMatchesFullPath(t *testing.T) {
	s := exampleServer(t)
	names := []string{"nx.lb.example.test.", "a.b.nx.lb.example.test.", "x.apps.lb.example.test.",
		"x.y.apps.lb.example.test.", "x.dev.lb.example.test.", "x.www.lb.example.test.", "example.com.", "test."}
	fast, total := compareFastFull(t, s, names)
	// Guard against a fast path that silently never fires.
	if fast < total/3 {
		t.Errorf("fast path answered %d of %d queries; expected most plain ones", fast, total)
	}
	t.Logf("fast path answered %d of %d queries", fast, total)
}

// The same with DNAMEs (RFC 6672): names below one never get a negative
// answer from the fast path, whatever the closest encloser or the chain.
func TestFastPathMatchesFullPathDNAME(t *testing.T) {
	snap, err := zones.Load([]string{"testdata/dname.test.zone", "testdata/apexdname.test.zone"})
	if err != nil {
		t.Fatal(err)
	}
	s := New(nil, Chaos{}, snap, zerolog.Nop())
	below := []string{"x.old.dname.test.", "a.old.dname.test.", "b.a.old.dname.test.", "c.old.dname.test.",
		"x.far.dname.test.", "a.loop.dname.test.", "a.hop.dname.test.", "x.todel.dname.test.",
		"a.long.dname.test.", strings.Repeat("a", 62) + ".long.dname.test.", "a.*.wild.dname.test.", "x.towild.dname.test.",
		"www.apexdname.test.", "x.y.apexdname.test."}
	others := []string{"x.wild.dname.test.", "y.x.wild.dname.test.", "nx.dname.test.", "x.nx.dname.test."}
	fast, total := compareFastFull(t, s, append(slices.Clone(below), others...))
	t.Logf("fast path answered %d of %d queries", fast, total)
	var wq wireQuery
	for _, name := range below {
		pkt, _ := new(dns.Msg).SetQuestion(name, dns.TypeA).Pack()
		if parseQuery(pkt, &wq) && s.state.Load().fast.respond(&wq, pkt, make([]byte, 0, 4096), 4096) != nil {
			t.Errorf("the fast path answered %s, which a DNAME redirects", name)
		}
	}
}

// compareFastFull asks s for names (and every name of its zones) in many
// types and EDNS variants over the UDP path and the full path alone, fails
// on any difference, and counts the queries the fast path answered.
func compareFastFull(t *testing.T, s *Server, names []string) (fast, total int) {
	t.Helper()
	for _, z := range s.Snapshot().Zones() {
		for _, n := range z.Nodes() {
			names = append(names, n.Name)
		}
	}
	qtypes := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT, dns.TypeNS, dns.TypeSOA,
		dns.TypeCNAME, dns.TypeDNAME, dns.TypeSRV, dns.TypeCAA, dns.TypeHINFO, dns.TypeDS, dns.TypeANY, 65000}
	type variant struct {
		name    string
		edns    bool
		payload uint16
		do      bool
		upper   bool
		options []dns.EDNS0
	}
	clientCookie := "0102030405060708"
	validCookie := clientCookie + hex.EncodeToString(fakeCookies{}.Append(nil, []byte{1, 2, 3, 4, 5, 6, 7, 8}, netip.Addr{}, time.Time{}))
	variants := []variant{{name: "plain"}, {name: "edns", edns: true, payload: 1232},
		{name: "do", edns: true, payload: 4096, do: true}, {name: "small", edns: true, payload: 100},
		{name: "upper", upper: true, edns: true, payload: 1232},
		{name: "cookie", edns: true, payload: 1232, options: []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: clientCookie}}},
		{name: "valid-cookie+nsid", edns: true, payload: 1232, options: []dns.EDNS0{
			&dns.EDNS0_NSID{Code: dns.EDNS0NSID}, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: validCookie}}},
		{name: "bad-cookie", edns: true, payload: 1232, options: []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: clientCookie + "01"}}},
	}
	s.SetPolicy(Policy{NSID: "ns-test", Cookies: fakeCookies{}})
	defer s.SetPolicy(Policy{})

	var wq wireQuery
	for _, name := range names {
		for _, qt := range qtypes {
			for _, v := range variants {
				qname := name
				if v.upper {
					qname = strings.ToUpper(name)
				}
				q := new(dns.Msg).SetQuestion(qname, qt)
				q.Id = 0xBEEF
				if v.edns {
					q.SetEdns0(v.payload, v.do)
					q.IsEdns0().Option = v.options
				}
				pkt, err := q.Pack()
				if err != nil {
					t.Fatal(err)
				}
				got := s.answerUDP(pkt, make([]byte, 0, 4096), &wq)
				full := wireQuery{policy: s.policy.Load()}
				want := s.answerSlow(pkt, make([]byte, 0, 4096), &full, true)
				if wq.class != full.class || wq.cookieValid != full.cookieValid {
					t.Errorf("%s %s %s: fast path counts as %+v (valid cookie %v), full path as %+v (%v)",
						qname, dns.TypeToString[qt], v.name, wq.class, wq.cookieValid, full.class, full.cookieValid)
				}
				total++
				if parseQuery(pkt, &wq) && s.state.Load().fast.respond(&wq, pkt, make([]byte, 0, 4096), 4096) != nil {
					fast++
				}
				if g, w := canonical(t, got), canonical(t, want); g != w {
					t.Errorf("%s %s %s:\nfast path:\n%s\nfull path:\n%s", qname, dns.TypeToString[qt], v.name, g, w)
				}
			}
		}
	}
	return fast, total
}

func TestParseQueryRejectsOddPackets(t *testing.T) {
	base := func() *dns.Msg { return new(dns.Msg).SetQuestion("www.lb.example.test.", dns.TypeA) }
	cases := []struct {
		name string
		msg  func() *dns.Msg
	}{
		{"response", func() *dns.Msg { m := base(); m.Response = true; return m }},
		{"notify", func() *dns.Msg { m := base(); m.Opcode = dns.OpcodeNotify; return m }},
		{"chaos", func() *dns.Msg { m := base(); m.Question[0].Qclass = dns.ClassCHAOS; return m }},
		{"any", func() *dns.Msg { m := base(); m.Question[0].Qtype = dns.TypeANY; return m }},
		{"axfr", func() *dns.Msg { m := base(); m.Question[0].Qtype = dns.TypeAXFR; return m }},
		{"edns1", func() *dns.Msg { m := base().SetEdns0(1232, false); m.IsEdns0().SetVersion(1); return m }},
		{"two-questions", func() *dns.Msg {
			m := base()
			m.Question = append(m.Question, m.Question[0])
			return m
		}},
		{"tsig", func() *dns.Msg { // owned by the root, as genreport's "dnswkk" key is
			m := base()
			m.Extra = []dns.RR{&dns.TSIG{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeTSIG, Class: dns.ClassANY}, Algorithm: dns.HmacSHA256}}
			return m
		}},
		{"answer-section", func() *dns.Msg {
			m := base()
			rr, _ := dns.NewRR("www.lb.example.test. 30 IN A 192.0.2.1")
			m.Answer = []dns.RR{rr}
			return m
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pkt, err := c.msg().Pack()
			if err != nil {
				t.Fatal(err)
			}
			var q wireQuery
			if parseQuery(pkt, &q) {
				t.Errorf("parseQuery accepted a %s packet", c.name)
			}
		})
	}
	// Every truncation of a good query is rejected, never a panic.
	pkt, _ := base().SetEdns0(1232, true).Pack()
	var q wireQuery
	if !parseQuery(pkt, &q) {
		t.Fatal("plain EDNS query rejected")
	}
	for i := range len(pkt) {
		if parseQuery(pkt[:i], &q) {
			t.Errorf("accepted a query truncated to %d bytes", i)
		}
	}
}

func BenchmarkAnswerUDP(b *testing.B) {
	s := exampleServer(b)
	cases := []struct {
		name  string
		qname string
		qtype uint16
	}{
		{"pool-A", "www.lb.example.test.", dns.TypeA},
		{"pool-AAAA", "www.lb.example.test.", dns.TypeAAAA},
		{"cname-to-pool", "docs.lb.example.test.", dns.TypeA},
		{"nxdomain", "nope.lb.example.test.", dns.TypeA},
		{"nodata", "mail.lb.example.test.", dns.TypeAAAA},
		{"wildcard-pool", "host.apps.lb.example.test.", dns.TypeA},
		{"referral-full-path", "x.dev.lb.example.test.", dns.TypeA},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			q := new(dns.Msg).SetQuestion(c.qname, c.qtype)
			q.SetEdns0(1232, false)
			pkt, _ := q.Pack()
			buf := make([]byte, 0, 4096)
			var wq wireQuery
			b.ReportAllocs()
			for b.Loop() {
				if s.answerUDP(pkt, buf, &wq) == nil {
					b.Fatal("no answer")
				}
			}
		})
	}
}

// The fast path allocates nothing, for a pool, a CNAME to one, negative
// answers and a wildcard's pool (a copy of a shared run whose address
// escaped into permute cost one allocation a wildcard answer).
func TestFastPathAllocatesNothing(t *testing.T) {
	s := exampleServer(t)
	for _, c := range []struct {
		qname string
		qtype uint16
	}{
		{"www.lb.example.test.", dns.TypeA},
		{"www.lb.example.test.", dns.TypeAAAA},
		{"docs.lb.example.test.", dns.TypeA},
		{"nope.lb.example.test.", dns.TypeA},
		{"mail.lb.example.test.", dns.TypeAAAA},
		{"host.apps.lb.example.test.", dns.TypeA},
	} {
		m := new(dns.Msg).SetQuestion(c.qname, c.qtype)
		m.SetEdns0(1232, false)
		pkt, _ := m.Pack()
		buf := make([]byte, 0, 4096)
		var wq wireQuery
		if allocs := testing.AllocsPerRun(100, func() { s.answerUDP(pkt, buf, &wq) }); allocs != 0 {
			t.Errorf("%s %s: %v allocations per answer; want 0", c.qname, dns.TypeToString[c.qtype], allocs)
		}
	}
}

// A question cut short (no type and class) is malformed on every path.
func TestTruncatedQuestionIsFormErr(t *testing.T) {
	s := exampleServer(t)
	pkt, _ := new(dns.Msg).SetQuestion("www.lb.example.test.", dns.TypeA).Pack()
	for _, cut := range []int{2, 4} {
		short := pkt[:len(pkt)-cut]
		var wq wireQuery
		out := s.answerUDP(short, make([]byte, 0, 512), &wq)
		m := new(dns.Msg)
		if err := m.Unpack(out); err != nil || m.Rcode != dns.RcodeFormatError {
			t.Errorf("question cut by %d bytes: rcode %v (err %v), want FORMERR", cut, m.Rcode, err)
		}
	}
}

// Wildcard answers come from the fast path too, and their pools are
// shuffled: over 2000 answers for the 2-address *.apps pool, each address
// comes first a binomial(2000, 1/2) number of times; outside 1000 ± 74
// (3.29 standard deviations) is a false alarm once in a thousand runs.
func TestWildcardPoolShuffledOnFastPath(t *testing.T) {
	s := exampleServer(t)
	q := new(dns.Msg).SetQuestion("Host.Apps.lb.example.test.", dns.TypeA)
	q.SetEdns0(1232, false)
	pkt, _ := q.Pack()
	var wq wireQuery
	if !parseQuery(pkt, &wq) || s.state.Load().fast.respond(&wq, pkt, make([]byte, 0, 512), 1232) == nil {
		t.Fatal("wildcard query not answered by the fast path")
	}
	first := map[string]int{}
	for range 2000 {
		out := s.answerUDP(pkt, make([]byte, 0, 512), &wq)
		m := new(dns.Msg)
		if err := m.Unpack(out); err != nil || len(m.Answer) != 2 {
			t.Fatalf("answer %v (err %v)", m, err)
		}
		for _, rr := range m.Answer {
			if !strings.EqualFold(rr.Header().Name, "host.apps.lb.example.test.") {
				t.Fatalf("owner %s, want the query name", rr.Header().Name)
			}
		}
		first[m.Answer[0].(*dns.A).A.String()]++
	}
	for _, a := range []string{"192.0.2.80", "192.0.2.81"} {
		if c := first[a]; c < 1000-74 || c > 1000+74 {
			t.Errorf("%s first in %d of 2000 answers: %v", a, c, first)
		}
	}
}

// TestQueryNameText: the lookup key parseQuery builds is the lower-case
// presentation form, and names that form would escape are left to the
// full path.
func TestQueryNameText(t *testing.T) {
	for _, tc := range []struct {
		name  string // as the client sends it (presentation form, escapes allowed)
		want  string
		plain bool
	}{
		{"www.lb.example.test.", "www.lb.example.test.", true},
		{"WwW.LB.Example.TEST.", "www.lb.example.test.", true},
		{".", ".", true},
		{"_imaps._tcp.x-1.*.test.", "_imaps._tcp.x-1.*.test.", true},
		{`a\.b.test.`, "", false},   // a dot inside a label
		{`a\032b.test.`, "", false}, // a space
		{`\@.test.`, "", false},
		{`caf\195\169.test.`, "", false}, // UTF-8 bytes
	} {
		pkt, err := new(dns.Msg).SetQuestion(tc.name, dns.TypeA).Pack()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var q wireQuery
		q.plain = !tc.plain // stale state from a previous packet must not leak
		if !parseQuery(pkt, &q) {
			t.Fatalf("%s: rejected", tc.name)
		}
		got, ok := q.text()
		if ok != tc.plain || got != tc.want {
			t.Errorf("%s: text %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.plain)
		}
	}
}

// BenchmarkFastShuffle permutes the RDATA of pools in a packed answer, as
// the fast path does per query: Fisher–Yates over 4-byte (A) or 16-byte
// (AAAA) fields, records 16 or 28 bytes apart.
func BenchmarkFastShuffle(b *testing.B) {
	for _, c := range []struct {
		name         string
		n, size, gap int
	}{
		{"A-4", 4, 4, 12}, {"A-16", 16, 4, 12}, {"AAAA-4", 4, 16, 12},
	} {
		b.Run(c.name, func(b *testing.B) {
			run := &rdataRun{off: 40, stride: c.size + c.gap, size: c.size, n: c.n, set: &zones.RRset{Order: zones.OrderRandom}}
			msg := make([]byte, run.off+c.n*run.stride)
			b.ReportAllocs()
			for b.Loop() {
				run.reorder(msg, nil)
			}
		})
	}
}

// A packet miekg/dns cannot unpack gets a header-only FORMERR that keeps
// the opcode and, for a QUERY only, RD (as every reply does).
func TestHeaderReplyFlags(t *testing.T) {
	s := exampleServer(t)
	for _, tc := range []struct {
		opcode int
		wantRD bool
	}{{dns.OpcodeQuery, true}, {15, false}} {
		// The question's name points past the end of the packet.
		pkt := []byte{0x12, 0x34, byte(tc.opcode<<3) | 1, 0x10, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 0x40, 0, 1, 0, 1}
		var wq wireQuery
		m := new(dns.Msg)
		if err := m.Unpack(s.answerUDP(pkt, make([]byte, 0, 512), &wq)); err != nil {
			t.Fatal(err)
		}
		if m.Rcode != dns.RcodeFormatError || m.Opcode != tc.opcode || m.RecursionDesired != tc.wantRD || m.CheckingDisabled {
			t.Errorf("opcode %d: reply %v, want FORMERR, opcode echoed, RD %v, CD clear", tc.opcode, m.MsgHdr, tc.wantRD)
		}
	}
}
