package dnsrr_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/miekg/dns"
)

// Handler tests: each case is one rule of issue 3's "Answers" section,
// checked by calling ServeDNS with a fake writer (no sockets). Every reply
// is also checked for what every reply must get right (checkReply): ID,
// opcode, RD and CD echoed, the question echoed in the client's case, RA,
// Z and AD clear, one OPT exactly when the query had one, and on UDP no
// more bytes than the client can take.

// answerCase is one rule, CoreDNS style: a question, what the reply must
// say, and the three sections compared as multisets (order-insensitive,
// duplicates count). OPT records are left out of extra and checked apart.
type answerCase struct {
	name  string
	qname string
	qtype uint16
	mod   func(q *dns.Msg) // changes to the plain query (flags, class, EDNS)
	// net limits the case to "udp" (both UDP paths) or "tcp"; by default
	// it runs over every transport, which must all agree.
	net string

	rcode int
	aa    bool
	tc    bool
	// answer, ns and extra are presentation-form records. anySections
	// skips their comparison for cases whose check says what matters.
	answer, ns, extra []string
	anySections       bool
	check             func(t *testing.T, q, r *dns.Msg)
}

func runCases(t *testing.T, s *dnsrr.Server, cases []answerCase) {
	t.Helper()
	for _, tc := range cases {
		for _, tr := range allTransports {
			if (tc.net == "udp" && tr.tcp()) || (tc.net == "tcp" && !tr.tcp()) {
				continue
			}
			t.Run(tc.name+"/"+tr.String(), func(t *testing.T) { runCase(t, s, tc, tr) })
		}
	}
}

func runCase(t *testing.T, s *dnsrr.Server, tc answerCase, tr transport) {
	qname := tc.qname
	if qname == "" {
		qname = name("www")
	}
	qtype := tc.qtype
	if qtype == 0 {
		qtype = dns.TypeA
	}
	q := newQuery(qname, qtype)
	if tc.mod != nil {
		tc.mod(q)
	}
	r, size := exchange(t, s, q, tr)
	checkReply(t, q, r, size, tr.tcp())
	if r.Rcode != tc.rcode {
		t.Errorf("rcode %s, want %s", rcodeName(r.Rcode), rcodeName(tc.rcode))
	}
	if r.Authoritative != tc.aa {
		t.Errorf("AA %v, want %v", r.Authoritative, tc.aa)
	}
	if r.Truncated != tc.tc {
		t.Errorf("TC %v, want %v", r.Truncated, tc.tc)
	}
	if !tc.anySections {
		wantSection(t, "answer", r.Answer, tc.answer)
		wantSection(t, "authority", r.Ns, tc.ns)
		wantSection(t, "additional", r.Extra, tc.extra)
	}
	if tc.check != nil {
		tc.check(t, q, r)
	}
	if t.Failed() {
		t.Logf("query:\n%v\nreply:\n%v", q, r)
	}
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprint(rc)
}

// checkReply checks what every reply must get right, whatever the rcode.
func checkReply(t *testing.T, q, r *dns.Msg, size int, tcp bool) {
	t.Helper()
	// RFC 1035 §4.1.1: a response copies the ID, sets QR and copies the
	// opcode and RD; RFC 4035 §3.2.2 asks for CD to be copied too.
	if r.Id != q.Id || !r.Response || r.Opcode != q.Opcode {
		t.Errorf("header: id %#x QR %v opcode %d, want id %#x QR true opcode %d", r.Id, r.Response, r.Opcode, q.Id, q.Opcode)
	}
	// Both belong to QUERY: a reply to another opcode echoes neither.
	wantRD, wantCD := q.RecursionDesired, q.CheckingDisabled
	if q.Opcode != dns.OpcodeQuery {
		wantRD, wantCD = false, false
	}
	if r.RecursionDesired != wantRD || r.CheckingDisabled != wantCD {
		t.Errorf("RD %v CD %v, want RD %v CD %v", r.RecursionDesired, r.CheckingDisabled, wantRD, wantCD)
	}
	// We do not recurse (RA), Z must be zero (RFC 1035 §4.1.1), and an
	// authoritative server without DNSSEC never vouches for data (AD,
	// RFC 4035 §3.1.6 / RFC 6840 §5.8).
	if r.RecursionAvailable || r.Zero || r.AuthenticatedData {
		t.Errorf("RA %v Z %v AD %v, want all clear", r.RecursionAvailable, r.Zero, r.AuthenticatedData)
	}
	// The question comes back as sent, case included: resolvers using
	// 0x20 mixed case (draft-vixie-dnsext-dns0x20) compare it byte for byte.
	if len(q.Question) != 1 && len(r.Question) == 0 {
		// FORMERR for a question count we do not take: nothing to echo.
	} else if len(r.Question) != len(q.Question) {
		t.Errorf("question section has %d entries, want %d", len(r.Question), len(q.Question))
	} else {
		for i := range q.Question {
			if r.Question[i] != q.Question[i] {
				t.Errorf("question %v, want %v as sent", r.Question[i], q.Question[i])
			}
		}
	}
	checkOPT(t, q, r)
	if !tcp {
		limit := 512 // RFC 1035 §4.2.1
		if o := q.IsEdns0(); o != nil {
			limit = min(max(int(o.UDPSize()), 512), 1232)
		}
		if size > limit {
			t.Errorf("UDP reply of %d bytes, client takes %d", size, limit)
		}
	}
}

// checkOPT checks the EDNS rules of RFC 6891: a reply has one OPT when the
// query had one (§7) and none otherwise; it advertises our payload 1232,
// version 0, copies DO (RFC 3225 §3) and nothing else: the other flag
// bits are zero when sent (§6.1.4), unknown options are ignored (§6.1.2).
// A query with two OPTs, one not owned by the root or one outside the
// additional section gets FORMERR and no particular OPT.
func checkOPT(t *testing.T, q, r *dns.Msg) {
	t.Helper()
	in := countOPT(q)
	if in > 1 || (in == 1 && q.IsEdns0().Hdr.Name != ".") || misplacedOPT(q) {
		return
	}
	if got := countOPT(r); got != in {
		t.Errorf("reply has %d OPT records, want %d", got, in)
	}
	if in == 0 {
		return
	}
	qo, ro := q.IsEdns0(), r.IsEdns0()
	if ro == nil {
		return
	}
	if ro.UDPSize() != 1232 || ro.Version() != 0 || ro.Hdr.Name != "." {
		t.Errorf("reply OPT: owner %q payload %d version %d, want \".\" 1232 0", ro.Hdr.Name, ro.UDPSize(), ro.Version())
	}
	if ro.Do() != qo.Do() {
		t.Errorf("reply DO %v, query DO %v: DO must be copied", ro.Do(), qo.Do())
	}
	if z := uint16(ro.Hdr.Ttl) &^ 0x8000; z != 0 {
		t.Errorf("reply OPT flags %#04x beyond DO, want 0", z)
	}
	if len(ro.Option) != 0 {
		t.Errorf("reply OPT echoes options %v, want none", ro.Option)
	}
}

func misplacedOPT(q *dns.Msg) bool {
	for _, rr := range append(slices.Clone(q.Answer), q.Ns...) {
		if rr.Header().Rrtype == dns.TypeOPT {
			return true
		}
	}
	return false
}

// Records of the test zone, in presentation form.
var (
	wwwA = []string{
		"www.rr.test. 30 IN A 192.0.2.1",
		"www.rr.test. 30 IN A 192.0.2.2",
		"www.rr.test. 30 IN A 192.0.2.3",
		"www.rr.test. 30 IN A 192.0.2.4",
	}
	// soaNeg is the SOA of negative answers: TTL min(3600, 60) = 60.
	soaNeg   = []string{"rr.test. 60 IN SOA ns1.rr.test. hostmaster.rr.test. 2026010101 3600 900 1209600 60"}
	apexNS   = []string{"rr.test. 3600 IN NS ns1.rr.test.", "rr.test. 3600 IN NS ns2.rr.test."}
	apexGlue = []string{
		"ns1.rr.test. 300 IN A 192.0.2.53",
		"ns2.rr.test. 300 IN A 192.0.2.54",
		"ns2.rr.test. 300 IN AAAA 2001:db8::54",
	}
	subNS   = []string{"sub.rr.test. 300 IN NS ns1.sub.rr.test.", "sub.rr.test. 300 IN NS ns2.sub.rr.test."}
	subGlue = []string{"ns1.sub.rr.test. 300 IN A 192.0.2.201", "ns2.sub.rr.test. 300 IN AAAA 2001:db8::202"}
	wildA   = func(owner string) []string {
		return []string{owner + " 30 IN A 192.0.2.80", owner + " 30 IN A 192.0.2.81"}
	}
)

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// TestAnswers covers the zone-data rules: AA, NXDOMAIN/NODATA, empty
// non-terminals, REFUSED, CNAME chasing, wildcards, referrals, DS at the
// cut, additional data, ANY and TTLs.
func TestAnswers(t *testing.T) {
	s := newServer(t, dnsrr.Chaos{})
	runCases(t, s, []answerCase{
		// AA: we are the authority for our zones (RFC 1035 §4.1.1).
		{name: "pool answer is authoritative", qname: name("www"), aa: true, answer: wwwA},
		{name: "mixed-case qname matched case-insensitively (RFC 4343)", qname: "WwW.rR.TeSt.", aa: true, answer: wwwA},
		{name: "mixed pool: A query gets the A records only", qname: name("dual"), aa: true,
			answer: []string{"dual.rr.test. 40 IN A 192.0.2.5", "dual.rr.test. 40 IN A 192.0.2.6"}},
		{name: "mixed pool: AAAA query gets the AAAA records only", qname: name("dual"), qtype: dns.TypeAAAA, aa: true,
			answer: []string{"dual.rr.test. 40 IN AAAA 2001:db8::5", "dual.rr.test. 40 IN AAAA 2001:db8::6"}},
		{name: "apex SOA answered with its own TTL", qname: name(""), qtype: dns.TypeSOA, aa: true,
			answer: []string{"rr.test. 3600 IN SOA ns1.rr.test. hostmaster.rr.test. 2026010101 3600 900 1209600 60"},
			// The SOA here is an answer, not a negative-caching hint, so
			// it keeps its TTL (RFC 2308 §3 applies to authority only).
		},

		// TTLs are served exactly as configured at every level.
		{name: "TTL: zone default", qname: name(""), qtype: dns.TypeTXT, aa: true, answer: []string{`rr.test. 300 IN TXT "v=spf1 -all"`}},
		{name: "TTL: per name", qname: name("ttlrec"), qtype: dns.TypeTXT, aa: true, answer: []string{`ttlrec.rr.test. 120 IN TXT "t"`}},
		{name: "TTL: per record set", qname: name("ttlrec"), aa: true, answer: []string{"ttlrec.rr.test. 7 IN A 192.0.2.7"}},

		// Negative answers (RFC 2308 §2.1, §2.2, §3): SOA in authority with
		// TTL min(SOA TTL, SOA MINIMUM).
		{name: "NXDOMAIN with SOA (TTL = minimum < SOA TTL)", qname: name("nope"), rcode: dns.RcodeNameError, aa: true, ns: soaNeg},
		{name: "NODATA with SOA", qname: name("www"), qtype: dns.TypeAAAA, aa: true, ns: soaNeg},
		{name: "NODATA at the apex", qname: name(""), qtype: dns.TypeAAAA, aa: true, ns: soaNeg},
		{name: "NXDOMAIN with SOA (TTL = SOA TTL < minimum)", qname: "nope.other.test.", rcode: dns.RcodeNameError, aa: true,
			ns: []string{"other.test. 30 IN SOA ns.rr.test. hostmaster.other.test. 1 3600 900 1209600 600"}},
		{name: "NODATA with SOA (TTL = SOA TTL < minimum)", qname: "www.other.test.", qtype: dns.TypeAAAA, aa: true,
			ns: []string{"other.test. 30 IN SOA ns.rr.test. hostmaster.other.test. 1 3600 900 1209600 600"}},
		{name: "NXDOMAIN below a nonexistent name", qname: "a.b.nope.rr.test.", rcode: dns.RcodeNameError, aa: true, ns: soaNeg},

		// Empty non-terminals exist: NODATA, not NXDOMAIN (RFC 8020, RFC 4592 §2.2.2).
		{name: "empty non-terminal is NODATA", qname: name("ent"), aa: true, ns: soaNeg},
		{name: "deeper empty non-terminal is NODATA", qname: name("b.ent"), aa: true, ns: soaNeg},
		{name: "data below empty non-terminals", qname: name("a.b.ent"), aa: true, answer: []string{"a.b.ent.rr.test. 300 IN A 192.0.2.99"}},

		// Names outside every zone we serve: we are no resolver, so the
		// query is refused for policy reasons (RFC 1035 §4.1.1), no data.
		{name: "out of zone: REFUSED", qname: "www.example.org.", rcode: dns.RcodeRefused},
		{name: "out of zone: parent of a zone is REFUSED", qname: "test.", rcode: dns.RcodeRefused},
		{name: "out of zone: label-wise not a suffix", qname: "xrr.test.", rcode: dns.RcodeRefused},
		{name: "out of zone: root", qname: ".", qtype: dns.TypeNS, rcode: dns.RcodeRefused},

		// CNAME chasing inside the zone (RFC 1034 §4.3.2 step 3a).
		{name: "CNAME to a pool: the pool follows the CNAME", qname: name("alias"), aa: true,
			answer: concat([]string{"alias.rr.test. 300 IN CNAME www.rr.test."}, wwwA),
			check:  wantCNAMEFirst},
		{name: "CNAME chain to a pool", qname: name("alias2"), aa: true,
			answer: concat([]string{"alias2.rr.test. 300 IN CNAME alias.rr.test.", "alias.rr.test. 300 IN CNAME www.rr.test."}, wwwA),
			check:  wantCNAMEFirst},
		{name: "CNAME query is not chased", qname: name("alias"), qtype: dns.TypeCNAME, aa: true,
			answer: []string{"alias.rr.test. 300 IN CNAME www.rr.test."}},
		{name: "mixed-case CNAME chased", qname: "ALIAS.rr.TEST.", aa: true,
			answer: concat([]string{"alias.rr.test. 300 IN CNAME www.rr.test."}, wwwA)},
		{name: "CNAME to a name without the type: NODATA after the CNAME", qname: name("nd"), qtype: dns.TypeAAAA, aa: true,
			answer: []string{"nd.rr.test. 300 IN CNAME mail.rr.test."}, ns: soaNeg},
		// RFC 6604 §2.1: the rcode describes the last name of the chain.
		{name: "CNAME to a missing in-zone name: NXDOMAIN (RFC 6604)", qname: name("dangling"), rcode: dns.RcodeNameError, aa: true,
			answer: []string{"dangling.rr.test. 300 IN CNAME missing.rr.test."}, ns: soaNeg},
		// Out of our data: the resolver follows the target itself.
		{name: "CNAME to an out-of-zone target: the CNAME only", qname: name("out"), aa: true,
			answer: []string{"out.rr.test. 300 IN CNAME www.example.org."}},
		// A loop must terminate, and each record appears once: duplicate
		// RRs are meaningless and servers should suppress them (RFC 2181 §5).
		// Into a delegation: the CNAME with AA, then the referral (RFC 1034
		// §4.3.2 step 3b), as BIND answers.
		{name: "CNAME into a delegation: the CNAME and a referral", qname: name("tosub"), aa: true,
			answer: []string{"tosub.rr.test. 300 IN CNAME host.sub.rr.test."}, ns: subNS, extra: subGlue},
		{name: "CNAME loop terminates without repeating records", qname: name("loop1"), aa: true,
			answer: []string{"loop1.rr.test. 300 IN CNAME loop2.rr.test.", "loop2.rr.test. 300 IN CNAME loop1.rr.test."}},

		// Wildcards (RFC 4592).
		{name: "wildcard: synthesized owner is the qname (§2.1.1)", qname: name("x.wild"), aa: true, answer: wildA("x.wild.rr.test.")},
		{name: "wildcard: matches several labels (§2.1.1)", qname: name("a.b.c.wild"), aa: true, answer: wildA("a.b.c.wild.rr.test.")},
		{name: "wildcard: mixed-case qname", qname: "Mixed.WILD.rr.test.", aa: true, answer: wildA("mixed.wild.rr.test.")},
		{name: "wildcard: the wildcard name itself", qname: name("*.wild"), aa: true, answer: wildA("*.wild.rr.test.")},
		{name: "wildcard: NODATA for a type it lacks", qname: name("x.wild"), qtype: dns.TypeAAAA, aa: true, ns: soaNeg},
		{name: "wildcard: the empty non-terminal it creates is NODATA (§2.2.2)", qname: name("wild"), aa: true, ns: soaNeg},
		{name: "wildcard: an existing name is not synthesized (§2.2.1)", qname: name("host.wild"), aa: true, ns: soaNeg},
		{name: "wildcard: no match below an existing name (§2.2.1)", qname: name("x.host.wild"), rcode: dns.RcodeNameError, aa: true, ns: soaNeg},
		{name: "wildcard: an empty non-terminal blocks it (§2.2.2)", qname: name("x.blocked.wild"), rcode: dns.RcodeNameError, aa: true, ns: soaNeg},
		{name: "wildcard: the blocking empty non-terminal is NODATA", qname: name("blocked.wild"), aa: true, ns: soaNeg},
		{name: "wildcard CNAME: synthesized CNAME, then the target (§3.3.3)", qname: name("foo.cw"), aa: true,
			answer: concat([]string{"foo.cw.rr.test. 300 IN CNAME www.rr.test."}, wwwA),
			check:  wantCNAMEFirst},

		// Delegations (RFC 1034 §4.3.2 step 3b, RFC 2181 §6.1): a referral
		// is not authoritative, carries the child's NS in authority and
		// the glue in additional.
		{name: "referral at the cut", qname: name("sub"), ns: subNS, extra: subGlue},
		{name: "referral below the cut", qname: name("a.b.sub"), ns: subNS, extra: subGlue},
		{name: "referral for NS at the cut (the child's NS are not ours)", qname: name("sub"), qtype: dns.TypeNS, ns: subNS, extra: subGlue},
		{name: "glue is never an authoritative answer", qname: name("ns1.sub"), ns: subNS, extra: subGlue},
		{name: "DS below the cut is a referral", qname: name("x.sub"), qtype: dns.TypeDS, ns: subNS, extra: subGlue},
		// RFC 4035 §3.1.4.1: the parent answers DS at the cut itself.
		{name: "DS at the cut: NODATA with AA when there is none", qname: name("sub"), qtype: dns.TypeDS, aa: true, ns: soaNeg},
		{name: "DS at the cut of a child we also serve: the parent answers with AA", qname: name("kid"), qtype: dns.TypeDS, aa: true,
			answer: []string{"kid.rr.test. 300 IN DS 12345 13 2 3F1A6C0E1B9D4A2F8E7C5B3A1D0F9E8C7B6A5D4C3B2A1F0E9D8C7B6A5F4E3D2C"}},
		{name: "child we also serve answers its own data", qname: name("kid"), qtype: dns.TypeTXT, aa: true,
			answer: []string{`kid.rr.test. 300 IN TXT "child"`}},
		{name: "child's name server address answered by the child", qname: name("ns1.kid"), aa: true,
			answer: []string{"ns1.kid.rr.test. 300 IN A 192.0.2.210"}},

		// Additional section processing (RFC 1035 §3.3.2, §3.3.9, RFC 2782).
		{name: "NS at the apex with addresses in additional", qname: name(""), qtype: dns.TypeNS, aa: true, answer: apexNS, extra: apexGlue},
		{name: "MX with the exchange's address in additional", qname: name(""), qtype: dns.TypeMX, aa: true,
			answer: []string{"rr.test. 300 IN MX 10 mail.rr.test."}, extra: []string{"mail.rr.test. 300 IN A 192.0.2.25"}},
		{name: "SRV with the target's address in additional", qname: name("_sip._tcp"), qtype: dns.TypeSRV, aa: true,
			answer: []string{"_sip._tcp.rr.test. 300 IN SRV 0 1 5060 sip.rr.test."}, extra: []string{"sip.rr.test. 300 IN A 192.0.2.60"}},

		// ANY (RFC 8482 §4.2): one RRset, not everything.
		{name: "ANY at the apex: one RRset", qname: name(""), qtype: dns.TypeANY, aa: true, anySections: true, check: wantOneRRset},
		{name: "ANY at a pool: one RRset", qname: name("dual"), qtype: dns.TypeANY, aa: true, anySections: true, check: wantOneRRset},
		{name: "ANY for a missing name: NXDOMAIN", qname: name("nope"), qtype: dns.TypeANY, rcode: dns.RcodeNameError, aa: true, ns: soaNeg},
		{name: "ANY at an empty non-terminal: NODATA", qname: name("ent"), qtype: dns.TypeANY, aa: true, ns: soaNeg},
		{name: "ANY at a cut: referral", qname: name("sub"), qtype: dns.TypeANY, ns: subNS, extra: subGlue},
	})
}

// wantCNAMEFirst checks that the CNAME chain precedes the records it leads
// to, as RFC 1034 §3.6.2 and §4.3.2 (step 3a) build the answer.
func wantCNAMEFirst(t *testing.T, _, r *dns.Msg) {
	t.Helper()
	seenOther := false
	for _, rr := range r.Answer {
		if rr.Header().Rrtype == dns.TypeCNAME && seenOther {
			t.Errorf("CNAME %v after the records it leads to", rr)
		}
		if rr.Header().Rrtype != dns.TypeCNAME {
			seenOther = true
		}
	}
}

// wantOneRRset checks an RFC 8482 answer: a non-empty answer of one owner
// and type.
func wantOneRRset(t *testing.T, q, r *dns.Msg) {
	t.Helper()
	if len(r.Answer) == 0 {
		t.Fatalf("ANY answer is empty")
	}
	h0 := r.Answer[0].Header()
	for _, rr := range r.Answer {
		h := rr.Header()
		if !strings.EqualFold(h.Name, q.Question[0].Name) || h.Rrtype != h0.Rrtype {
			t.Errorf("ANY answer holds %s %s besides %s %s: want one RRset", h.Name, dns.TypeToString[h.Rrtype], h0.Name, dns.TypeToString[h0.Rrtype])
		}
	}
	if len(r.Ns) != 0 {
		t.Errorf("ANY answer has authority %v", r.Ns)
	}
}

// TestHeader covers the header rules: what is echoed and what is cleared.
func TestHeader(t *testing.T) {
	s := newServer(t, dnsrr.Chaos{})
	setAll := func(q *dns.Msg) {
		q.RecursionAvailable, q.Zero, q.AuthenticatedData = true, true, true
	}
	runCases(t, s, []answerCase{
		// checkReply verifies ID, QR, opcode, RD, CD, question and RA/Z/AD
		// on every case; these cases vary the inputs.
		{name: "ID, opcode, RD echoed", mod: func(q *dns.Msg) { q.Id = 0x1234 }, aa: true, answer: wwwA},
		{name: "RD clear stays clear", mod: func(q *dns.Msg) { q.RecursionDesired = false }, aa: true, answer: wwwA},
		{name: "CD echoed (RFC 4035 §3.2.2)", mod: func(q *dns.Msg) { q.CheckingDisabled = true }, aa: true, answer: wwwA},
		{name: "RA, Z and AD cleared though the query sets them", mod: setAll, aa: true, answer: wwwA},
		{name: "RA, Z and AD cleared on NXDOMAIN", qname: name("nope"), mod: setAll, rcode: dns.RcodeNameError, aa: true, ns: soaNeg},
		{name: "RA, Z and AD cleared on REFUSED", qname: "example.org.", mod: setAll, rcode: dns.RcodeRefused},
		{name: "AA and TC of the query are not echoed", qname: "example.org.",
			mod: func(q *dns.Msg) { q.Authoritative, q.Truncated = true, true }, rcode: dns.RcodeRefused},
		{name: "question echoed in the client's case", qname: "wWw.RR.tESt.", aa: true, answer: wwwA},
	})
}

// TestProtocol covers opcodes, question counts, classes and meta types.
func TestProtocol(t *testing.T) {
	s := newServer(t, dnsrr.Chaos{})
	opcode := func(op int) func(*dns.Msg) { return func(q *dns.Msg) { q.Opcode = op } }
	class := func(c uint16) func(*dns.Msg) { return func(q *dns.Msg) { q.Question[0].Qclass = c } }
	runCases(t, s, []answerCase{
		// RFC 1996: we are no secondary, so a NOTIFY is refused.
		{name: "NOTIFY: REFUSED", qname: name(""), qtype: dns.TypeSOA, mod: opcode(dns.OpcodeNotify), rcode: dns.RcodeRefused},
		// RFC 1035 §4.1.1 / RFC 2136 §3: unsupported opcodes get NOTIMP.
		// TestListeners checks these over UDP and TCP sockets;
		// ServeDNS must agree when it sees them.
		{name: "UPDATE: NOTIMP", qname: name(""), qtype: dns.TypeSOA, mod: opcode(dns.OpcodeUpdate), rcode: dns.RcodeNotImplemented},
		{name: "STATUS: NOTIMP", mod: opcode(dns.OpcodeStatus), rcode: dns.RcodeNotImplemented},
		{name: "IQUERY: NOTIMP", mod: opcode(dns.OpcodeIQuery), rcode: dns.RcodeNotImplemented},
		{name: "opcode 15: NOTIMP", mod: opcode(15), rcode: dns.RcodeNotImplemented},
		// genreport "opcodeflg": every flag set; RD and CD are not echoed
		// (checkReply), nor AA, TC, RA, Z or AD.
		{name: "opcode 15 with every flag: NOTIMP, flags clear", mod: func(q *dns.Msg) {
			q.Opcode, q.Question = 15, nil
			q.Authoritative, q.Truncated, q.RecursionDesired, q.RecursionAvailable = true, true, true, true
			q.Zero, q.AuthenticatedData, q.CheckingDisabled = true, true, true
		}, rcode: dns.RcodeNotImplemented},
		{name: "NOTIFY with RD and CD: REFUSED, neither echoed", qname: name(""), qtype: dns.TypeSOA, mod: func(q *dns.Msg) {
			q.Opcode, q.RecursionDesired, q.CheckingDisabled = dns.OpcodeNotify, true, true
		}, rcode: dns.RcodeRefused},
		{name: "QDCOUNT 0: FORMERR", mod: func(q *dns.Msg) { q.Question = nil }, rcode: dns.RcodeFormatError},
		{name: "QDCOUNT 2: FORMERR", mod: func(q *dns.Msg) {
			q.Question = append(q.Question, dns.Question{Name: name("mail"), Qtype: dns.TypeA, Qclass: dns.ClassINET})
		}, rcode: dns.RcodeFormatError},

		// Only IN is served; CH is for version.bind-style queries.
		{name: "class CH without chaos configured: REFUSED", qname: "version.bind.", qtype: dns.TypeTXT, mod: class(dns.ClassCHAOS), rcode: dns.RcodeRefused},
		{name: "class CH for a zone name: REFUSED", mod: class(dns.ClassCHAOS), rcode: dns.RcodeRefused},
		{name: "class ANY: REFUSED", mod: class(dns.ClassANY), rcode: dns.RcodeRefused},
		{name: "class HS: REFUSED", mod: class(dns.ClassHESIOD), rcode: dns.RcodeRefused},
		{name: "class NONE: REFUSED", mod: class(dns.ClassNONE), rcode: dns.RcodeRefused},

		// Zone transfers are not offered (RFC 5936 §4.2 lets a server refuse).
		{name: "AXFR: REFUSED", qname: name(""), qtype: dns.TypeAXFR, rcode: dns.RcodeRefused},
		{name: "IXFR: REFUSED", qname: name(""), qtype: dns.TypeIXFR, rcode: dns.RcodeRefused},
		// RFC 6891 §6.1.1: OPT is a pseudo-RR and never a question.
		{name: "qtype OPT: FORMERR", qtype: dns.TypeOPT, rcode: dns.RcodeFormatError},
	})
}

// TestChaos covers the CH TXT names operators ask a server for.
func TestChaos(t *testing.T) {
	s := newServer(t, testChaos)
	ch := func(q *dns.Msg) { q.Question[0].Qclass = dns.ClassCHAOS }
	txt := func(owner, text string) []string { return []string{fmt.Sprintf("%s 0 CH TXT %q", owner, text)} }
	runCases(t, s, []answerCase{
		{name: "version.bind", qname: "version.bind.", qtype: dns.TypeTXT, mod: ch, aa: true, answer: txt("version.bind.", testChaos.Version)},
		{name: "version.server", qname: "version.server.", qtype: dns.TypeTXT, mod: ch, aa: true, answer: txt("version.server.", testChaos.Version)},
		{name: "hostname.bind", qname: "hostname.bind.", qtype: dns.TypeTXT, mod: ch, aa: true, answer: txt("hostname.bind.", testChaos.ID)},
		{name: "id.server", qname: "id.server.", qtype: dns.TypeTXT, mod: ch, aa: true, answer: txt("id.server.", testChaos.ID)},
		{name: "mixed case VERSION.BIND", qname: "VERSION.Bind.", qtype: dns.TypeTXT, mod: ch, aa: true, answer: txt("version.bind.", testChaos.Version)},
		{name: "unknown CH name: REFUSED", qname: "authors.bind.", qtype: dns.TypeTXT, mod: ch, rcode: dns.RcodeRefused},
		{name: "CH for a zone name: REFUSED", mod: ch, rcode: dns.RcodeRefused},
		{name: "IN version.bind: REFUSED (not our zone)", qname: "version.bind.", qtype: dns.TypeTXT, rcode: dns.RcodeRefused},
	})
}

// TestEDNS covers RFC 6891: OPT in, OPT out; checkOPT does the field
// checks on every case.
func TestEDNS(t *testing.T) {
	s := newServer(t, testChaos)
	edns := func(payload uint16, more ...func(*dns.OPT)) func(*dns.Msg) {
		return func(q *dns.Msg) {
			o := withEDNS(q, payload)
			for _, f := range more {
				f(o)
			}
		}
	}
	do := func(o *dns.OPT) { o.SetDo() }
	then := func(fs ...func(*dns.Msg)) func(*dns.Msg) {
		return func(q *dns.Msg) {
			for _, f := range fs {
				f(q)
			}
		}
	}
	runCases(t, s, []answerCase{
		{name: "OPT echoed with payload 1232", mod: edns(4096), aa: true, answer: wwwA},
		{name: "no OPT in, no OPT out", aa: true, answer: wwwA},
		{name: "DO copied (RFC 3225)", mod: edns(1232, do), aa: true, answer: wwwA},
		{name: "unknown OPT flag bits cleared (§6.1.4)", mod: edns(1232, func(o *dns.OPT) { o.Hdr.Ttl |= 0x4001 }), aa: true, answer: wwwA},
		{name: "unknown and unsupported options ignored, not echoed (§6.1.2)", mod: edns(1232, func(o *dns.OPT) {
			o.Option = append(o.Option,
				&dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1, 2, 3}},
				&dns.EDNS0_NSID{Code: dns.EDNS0NSID},
				&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"},
			)
		}), aa: true, answer: wwwA},
		{name: "version 1: BADVERS (extended rcode 16, §6.1.3)", mod: edns(1232, func(o *dns.OPT) { o.SetVersion(1) }), rcode: dns.RcodeBadVers},
		{name: "version 1 with DO: BADVERS keeps DO", mod: edns(1232, do, func(o *dns.OPT) { o.SetVersion(1) }), rcode: dns.RcodeBadVers},
		{name: "two OPT records: FORMERR (§6.1.1)", mod: then(edns(1232), edns(1232)), rcode: dns.RcodeFormatError, anySections: true},
		{name: "OPT not at the root: FORMERR (§6.1.2)", mod: edns(1232, func(o *dns.OPT) { o.Hdr.Name = name("") }), rcode: dns.RcodeFormatError, anySections: true},

		// Payload sizes (§6.2.3, §6.2.5): below 512 counts as 512.
		{name: "payload 100 treated as 512: a 250-byte answer fits", qname: name("mid"), mod: edns(100), aa: true,
			answer: addrs("mid.rr.test.", midSize, v4(1, 0))},
		{name: "payload 0 treated as 512", qname: name("mid"), mod: edns(0), aa: true,
			answer: addrs("mid.rr.test.", midSize, v4(1, 0))},
		{name: "payload 1232: a 700-byte answer fits", qname: name("big"), mod: edns(1232), aa: true,
			answer: addrs("big.rr.test.", bigSize, v4(2, 0))},

		// Every reply to an EDNS query carries one OPT (§7), whatever the rcode.
		{name: "one OPT on NXDOMAIN", qname: name("nope"), mod: edns(1232), rcode: dns.RcodeNameError, aa: true, ns: soaNeg},
		{name: "one OPT on a referral", qname: name("sub"), mod: edns(1232), ns: subNS, extra: subGlue},
		{name: "one OPT on REFUSED out of zone", qname: "example.org.", mod: edns(1232), rcode: dns.RcodeRefused},
		{name: "one OPT on REFUSED for class HS", mod: then(edns(1232), func(q *dns.Msg) { q.Question[0].Qclass = dns.ClassHESIOD }), rcode: dns.RcodeRefused},
		{name: "one OPT on REFUSED for AXFR", qname: name(""), qtype: dns.TypeAXFR, mod: edns(1232), rcode: dns.RcodeRefused},
		{name: "one OPT on NOTIFY", qname: name(""), qtype: dns.TypeSOA, mod: then(edns(1232), func(q *dns.Msg) { q.Opcode = dns.OpcodeNotify }), rcode: dns.RcodeRefused},
		{name: "one OPT on NOTIMP", mod: then(edns(1232), func(q *dns.Msg) { q.Opcode = dns.OpcodeStatus }), rcode: dns.RcodeNotImplemented},
		{name: "one OPT on FORMERR for QDCOUNT 0", mod: then(edns(1232), func(q *dns.Msg) { q.Question = nil }), rcode: dns.RcodeFormatError},
		{name: "one OPT on FORMERR for qtype OPT", qtype: dns.TypeOPT, mod: edns(1232), rcode: dns.RcodeFormatError},
		{name: "one OPT on a CH answer", qname: "version.bind.", qtype: dns.TypeTXT,
			mod: then(edns(1232), func(q *dns.Msg) { q.Question[0].Qclass = dns.ClassCHAOS }), aa: true,
			answer: []string{fmt.Sprintf("version.bind. 0 CH TXT %q", testChaos.Version)}},
	})
}

// TestTruncation covers RFC 2181 §9 and RFC 9471: a UDP reply that does
// not fit gets TC and no partial RRset, keeping the OPT; optional
// additional data is dropped first; referral glue is not optional; TCP
// gets everything.
func TestTruncation(t *testing.T) {
	s := newServer(t, dnsrr.Chaos{})
	edns := func(payload uint16) func(*dns.Msg) { return func(q *dns.Msg) { withEDNS(q, payload) } }
	bigA := addrs("big.rr.test.", bigSize, v4(2, 0))
	hugeA := addrs("huge.rr.test.", hugeSize, v4(3, 0))
	heavyMX := []string{"heavy.rr.test. 300 IN MX 10 m1.rr.test.", "heavy.rr.test. 300 IN MX 20 m2.rr.test."}
	heavyExtra := concat(addrs("m1.rr.test.", mxSize, v4(4, 0)), addrs("m2.rr.test.", mxSize, v4(5, 0)))
	var fatNSRRs, fatGlue []string
	for i := range fatNS {
		fatNSRRs = append(fatNSRRs, fmt.Sprintf("fat.rr.test. 300 IN NS ns%02d.fat.rr.test.", i))
		fatGlue = append(fatGlue, fmt.Sprintf("ns%02d.fat.rr.test. 300 IN A 10.6.0.%d", i, i+1))
	}
	runCases(t, s, []answerCase{
		{name: "UDP, no EDNS: 700-byte RRset gets TC, no partial RRset", qname: name("big"), net: "udp", aa: true, tc: true,
			anySections: true, check: wantNoPartial},
		{name: "UDP, EDNS 512: TC keeps the OPT", qname: name("big"), net: "udp", mod: edns(512), aa: true, tc: true,
			anySections: true, check: wantNoPartial},
		{name: "UDP, EDNS 4096: we send at most 1232, TC", qname: name("huge"), net: "udp", mod: edns(4096), aa: true, tc: true,
			anySections: true, check: wantNoPartial},
		{name: "TCP, no EDNS: the same RRset complete", qname: name("big"), net: "tcp", aa: true, answer: bigA},
		{name: "TCP: 1650-byte RRset complete", qname: name("huge"), net: "tcp", aa: true, answer: hugeA},
		{name: "TCP with EDNS 512: complete (payload is a UDP limit)", qname: name("huge"), net: "tcp", mod: edns(512), aa: true, answer: hugeA},

		{name: "UDP: optional additional dropped before TC (RFC 2181 §9)", qname: name("heavy"), net: "udp", qtype: dns.TypeMX, aa: true,
			anySections: true, check: func(t *testing.T, q, r *dns.Msg) {
				wantSection(t, "answer", r.Answer, heavyMX)
				wantNoPartial(t, q, r)
			}},
		{name: "EDNS 1232: the additional section fits", qname: name("heavy"), qtype: dns.TypeMX, mod: edns(1232), aa: true,
			answer: heavyMX, extra: heavyExtra},
		{name: "UDP: referral whose glue does not fit gets TC (RFC 9471 §3)", qname: name("fat"), net: "udp", tc: true,
			anySections: true, check: wantNoPartial},
		{name: "UDP, EDNS 1232: the referral fits", qname: name("x.fat"), mod: edns(1232), ns: fatNSRRs, extra: fatGlue},
		{name: "TCP: the referral complete", qname: name("fat"), net: "tcp", ns: fatNSRRs, extra: fatGlue},
	})
}

// wantNoPartial checks that every RRset in the reply is complete: a
// truncated reply may drop whole RRsets but never part of one (RFC 2181
// §9). It compares each RRset with the full one fetched over TCP.
func wantNoPartial(t *testing.T, q, r *dns.Msg) {
	t.Helper()
	full := map[string]int{}
	count := func(m *dns.Msg, into map[string]int) {
		for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
			for _, rr := range sec {
				if rr.Header().Rrtype != dns.TypeOPT {
					into[strings.ToLower(rr.Header().Name)+"/"+dns.TypeToString[rr.Header().Rrtype]]++
				}
			}
		}
	}
	tq := q.Copy()
	tq.Extra = nil
	tr, _ := exchange(t, tcpServer(t), tq, tcpHandler)
	if tr.Truncated {
		t.Fatalf("TCP reply truncated")
	}
	count(tr, full)
	got := map[string]int{}
	count(r, got)
	for k, n := range got {
		if n != full[k] {
			t.Errorf("RRset %s has %d of its %d records: a partial RRset", k, n, full[k])
		}
	}
}

// tcpServer is the reference server wantNoPartial compares with.
func tcpServer(t *testing.T) *dnsrr.Server {
	t.Helper()
	if refServer == nil {
		refServer = newServer(t, dnsrr.Chaos{})
	}
	return refServer
}

var refServer *dnsrr.Server
