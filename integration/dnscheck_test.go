package integration

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// origin is the example zone (examples/zones/lb.example.test.toml).
const origin = "lb.example.test."

// name returns label.origin, or the origin itself for "@".
func name(label string) string {
	if label == "@" {
		return origin
	}
	return label + "." + origin
}

// Example zone data as the server must return it (see /tmp/spec.md), one
// RR per string in presentation format.
var (
	exampleSOA   = "lb.example.test. 3600 IN SOA ns1.lb.example.test. hostmaster.lb.example.test. 2026112501 3600 900 1209600 60"
	exampleNegTT = uint32(60) // min(SOA TTL 3600, SOA minimum 60), RFC 2308 section 5

	apexA = []string{
		"lb.example.test. 30 IN A 192.0.2.10",
		"lb.example.test. 30 IN A 192.0.2.11",
		"lb.example.test. 30 IN A 192.0.2.12",
	}
	apexNS = []string{
		"lb.example.test. 3600 IN NS ns1.lb.example.test.",
		"lb.example.test. 3600 IN NS ns2.lb.example.test.",
	}
	wwwA = []string{
		"www.lb.example.test. 30 IN A 192.0.2.10",
		"www.lb.example.test. 30 IN A 192.0.2.11",
		"www.lb.example.test. 30 IN A 192.0.2.12",
	}
	wwwAAAA = []string{
		"www.lb.example.test. 30 IN AAAA 2001:db8::10",
		"www.lb.example.test. 30 IN AAAA 2001:db8::11",
	}
	apiA = []string{
		"api.lb.example.test. 30 IN A 198.51.100.1",
		"api.lb.example.test. 30 IN A 198.51.100.2",
		"api.lb.example.test. 30 IN A 198.51.100.3",
		"api.lb.example.test. 30 IN A 198.51.100.4",
	}
	cdnA = []string{
		"cdn.lb.example.test. 30 IN A 203.0.113.1",
		"cdn.lb.example.test. 30 IN A 203.0.113.2",
		"cdn.lb.example.test. 30 IN A 203.0.113.3",
	}
	staticA = []string{
		"static.lb.example.test. 30 IN A 203.0.113.10",
		"static.lb.example.test. 30 IN A 203.0.113.11",
		"static.lb.example.test. 30 IN A 203.0.113.12",
	}
	mailA     = []string{"mail.lb.example.test. 300 IN A 192.0.2.25"}
	docsCNAME = "docs.lb.example.test. 300 IN CNAME www.lb.example.test."
	devNS     = []string{"dev.lb.example.test. 3600 IN NS ns1.dev.lb.example.test."}
	devGlue   = []string{"ns1.dev.lb.example.test. 300 IN A 192.0.2.100"}
	imapsSRV  = []string{"_imaps._tcp.lb.example.test. 300 IN SRV 0 1 993 mail.lb.example.test."}
)

// canon renders rr in presentation format with the owner lower-cased:
// names compare case-insensitively (RFC 4343), and a server may answer
// with the zone's or the query's case.
func canon(rr dns.RR) string {
	c := dns.Copy(rr)
	c.Header().Name = strings.ToLower(c.Header().Name)
	return c.String()
}

// canonStrings parses presentation-format RRs and canonicalises them.
func canonStrings(t testing.TB, rrs []string) []string {
	t.Helper()
	out := make([]string, 0, len(rrs))
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("test data %q: %v", s, err)
		}
		out = append(out, canon(rr))
	}
	slices.Sort(out)
	return out
}

// canonSet canonicalises a section, sorted (order-insensitive compare),
// leaving out OPT pseudo-RRs.
func canonSet(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, canon(rr))
	}
	slices.Sort(out)
	return out
}

// wantSet fails unless section holds exactly want (any order).
func wantSet(t testing.TB, section string, got []dns.RR, want ...string) {
	t.Helper()
	g, w := canonSet(got), canonStrings(t, want)
	if !slices.Equal(g, w) {
		t.Errorf("%s section:\n got  %q\n want %q", section, g, w)
	}
}

// wantRcode fails unless r has rcode (extended RCODEs included).
func wantRcode(t testing.TB, r *dns.Msg, rcode int) {
	t.Helper()
	if r.Rcode != rcode {
		t.Errorf("rcode %s, want %s\n%v", dns.RcodeToString[r.Rcode], dns.RcodeToString[rcode], r)
	}
}

// wantAA fails unless the AA bit is aa.
func wantAA(t testing.TB, r *dns.Msg, aa bool) {
	t.Helper()
	if r.Authoritative != aa {
		t.Errorf("AA=%v, want %v\n%v", r.Authoritative, aa, r)
	}
}

// wantNegative checks an authoritative NXDOMAIN or NODATA answer: no
// answer RRs (other than allowed, e.g. a CNAME that was followed), the
// zone's SOA alone in authority with TTL min(SOA TTL, minimum)
// (RFC 2308 sections 2.1, 2.2 and 5).
func wantNegative(t testing.TB, r *dns.Msg, rcode int, answer ...string) {
	t.Helper()
	wantRcode(t, r, rcode)
	wantAA(t, r, true)
	wantSet(t, "answer", r.Answer, answer...)
	if len(r.Ns) != 1 {
		t.Errorf("authority section has %d RRs, want exactly the SOA:\n%v", len(r.Ns), r)
		return
	}
	soa, ok := r.Ns[0].(*dns.SOA)
	if !ok {
		t.Errorf("authority holds %v, want the SOA", r.Ns[0])
		return
	}
	if soa.Hdr.Ttl != exampleNegTT {
		t.Errorf("SOA TTL in negative answer = %d, want %d = min(SOA TTL, minimum) (RFC 2308 section 5)", soa.Hdr.Ttl, exampleNegTT)
	}
	want, _ := dns.NewRR(exampleSOA)
	w := want.(*dns.SOA)
	w.Hdr.Ttl = exampleNegTT
	if canon(soa) != canon(w) {
		t.Errorf("SOA in authority = %v, want %v", soa, w)
	}
}

// countOPT counts OPT RRs in the additional section.
func countOPT(r *dns.Msg) int {
	n := 0
	for _, rr := range r.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			n++
		}
	}
	return n
}

// wantEcho checks what every reply to a well-formed query must carry,
// whatever the rule under test: QR set, ID, opcode, RD and the question
// echoed byte for byte (so the client's case survives; RFC 1035 4.1.1,
// RFC 4343 and the 0x20 technique depend on it), RA, Z and AD clear
// (RFC 1035 4.1.1, RFC 4035 3.1.6: AD is not set by a server that does
// not validate), and one OPT exactly when the query had one (RFC 6891 7).
func wantEcho(t testing.TB, q, r *dns.Msg) {
	t.Helper()
	if !r.Response {
		t.Errorf("QR clear in reply")
	}
	if r.Id != q.Id {
		t.Errorf("ID %d, want %d", r.Id, q.Id)
	}
	if r.Opcode != q.Opcode {
		t.Errorf("opcode %s, want %s", dns.OpcodeToString[r.Opcode], dns.OpcodeToString[q.Opcode])
	}
	if r.RecursionDesired != q.RecursionDesired {
		t.Errorf("RD=%v, want %v (copied from the query)", r.RecursionDesired, q.RecursionDesired)
	}
	if r.RecursionAvailable || r.Zero || r.AuthenticatedData {
		t.Errorf("RA=%v Z=%v AD=%v, want all clear", r.RecursionAvailable, r.Zero, r.AuthenticatedData)
	}
	if len(r.Question) != 1 || r.Question[0] != q.Question[0] {
		t.Errorf("question %v, want %v echoed exactly", r.Question, q.Question)
	}
	want := 0
	if q.IsEdns0() != nil {
		want = 1
	}
	if n := countOPT(r); n != want {
		t.Errorf("%d OPT RRs in reply, want %d", n, want)
	}
}

// addrsOf returns the A/AAAA addresses of rrs in order, skipping others.
func addrsOf(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.AAAA:
			out = append(out, v.AAAA.String())
		}
	}
	return out
}
