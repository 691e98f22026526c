package dnsrr_test

import (
	"strings"
	"testing"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// DNAME (RFC 6672), checked against testdata/dname.test.zone. The expected
// answers are those NSD 4.6 and Knot 3.2 give for the same file, except
// where noted (NSD adds the apex NS to positive answers, Knot does not and
// neither do we).

func dnameServer(t *testing.T) *dnsrr.Server {
	t.Helper()
	return dnsrr.New(nil, dnsrr.Chaos{}, loadSnapshot(t, "testdata/dname.test.zone", "testdata/apexdname.test.zone"), zerolog.Nop())
}

func dn(label string) string { return label + ".dname.test." }

var (
	oldDNAME   = "old.dname.test. 120 IN DNAME new.dname.test."
	dnameNeg   = []string{"dname.test. 60 IN SOA ns1.dname.test. hostmaster.dname.test. 1 3600 900 1209600 60"}
	longDNAME  = "long.dname.test. 300 IN DNAME " + longTarget
	longTarget = strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + ".dname.test."
)

func TestDNAME(t *testing.T) {
	s := dnameServer(t)
	long62 := strings.Repeat("a", 62)
	runCases(t, s, []answerCase{
		{name: "below the owner: DNAME, CNAME, target's data", qname: dn("a.old"), aa: true, answer: []string{
			oldDNAME, "a.old.dname.test. 120 IN CNAME a.new.dname.test.",
			"a.new.dname.test. 300 IN A 192.0.2.10", "a.new.dname.test. 300 IN A 192.0.2.11"}},
		{name: "target does not exist: NXDOMAIN (RFC 6604)", qname: dn("x.old"), rcode: dns.RcodeNameError, aa: true,
			answer: []string{oldDNAME, "x.old.dname.test. 120 IN CNAME x.new.dname.test."}, ns: dnameNeg},
		{name: "several labels below", qname: dn("b.a.old"), qtype: dns.TypeAAAA, rcode: dns.RcodeNameError, aa: true,
			answer: []string{oldDNAME, "b.a.old.dname.test. 120 IN CNAME b.a.new.dname.test."}, ns: dnameNeg},
		{name: "then a real CNAME", qname: dn("c.old"), aa: true, answer: []string{
			oldDNAME, "c.old.dname.test. 120 IN CNAME c.new.dname.test.", "c.new.dname.test. 300 IN CNAME www.dname.test.",
			"www.dname.test. 300 IN A 192.0.2.1", "www.dname.test. 300 IN A 192.0.2.2"}},
		{name: "qtype CNAME: the synthesized CNAME, not chased", qname: dn("x.old"), qtype: dns.TypeCNAME, aa: true,
			answer: []string{oldDNAME, "x.old.dname.test. 120 IN CNAME x.new.dname.test."}},
		{name: "qtype DNAME below the owner: redirected too", qname: dn("a.old"), qtype: dns.TypeDNAME, aa: true,
			answer: []string{oldDNAME, "a.old.dname.test. 120 IN CNAME a.new.dname.test."}, ns: dnameNeg},
		{name: "ANY below the owner", qname: dn("a.old"), qtype: dns.TypeANY, aa: true, anySections: true,
			check: func(t *testing.T, _, r *dns.Msg) {
				if len(r.Answer) < 3 || r.Answer[0].Header().Rrtype != dns.TypeDNAME || r.Answer[1].Header().Rrtype != dns.TypeCNAME {
					t.Errorf("answer %v, want DNAME, CNAME, then a.new's data", r.Answer)
				}
			}},
		{name: "the owner itself is an ordinary node: DNAME", qname: dn("old"), qtype: dns.TypeDNAME, aa: true, answer: []string{oldDNAME}},
		{name: "the owner itself is an ordinary node: TXT", qname: dn("old"), qtype: dns.TypeTXT, aa: true,
			answer: []string{`old.dname.test. 300 IN TXT "the owner is an ordinary node"`}},
		{name: "the owner itself is an ordinary node: NODATA", qname: dn("old"), aa: true, ns: dnameNeg},
		{name: "target outside our zones: not chased", qname: dn("x.far"), aa: true, answer: []string{
			"far.dname.test. 300 IN DNAME example.net.", "x.far.dname.test. 300 IN CNAME x.example.net."}},
		{name: "DNAME to DNAME", qname: dn("a.hop"), aa: true, answer: []string{
			"hop.dname.test. 300 IN DNAME old.dname.test.", "a.hop.dname.test. 300 IN CNAME a.old.dname.test.",
			oldDNAME, "a.old.dname.test. 120 IN CNAME a.new.dname.test.",
			"a.new.dname.test. 300 IN A 192.0.2.10", "a.new.dname.test. 300 IN A 192.0.2.11"}},
		{name: "CNAME into a DNAME", qname: dn("alias"), aa: true, answer: []string{
			"alias.dname.test. 300 IN CNAME a.old.dname.test.",
			oldDNAME, "a.old.dname.test. 120 IN CNAME a.new.dname.test.",
			"a.new.dname.test. 300 IN A 192.0.2.10", "a.new.dname.test. 300 IN A 192.0.2.11"}},
		{name: "into a delegation: the referral follows, AA kept", qname: dn("x.todel"), aa: true,
			answer: []string{"todel.dname.test. 300 IN DNAME sub.dname.test.", "x.todel.dname.test. 300 IN CNAME x.sub.dname.test."},
			ns:     []string{"sub.dname.test. 300 IN NS ns.sub.dname.test."}, extra: []string{"ns.sub.dname.test. 300 IN A 192.0.2.99"}},
		{name: "into a wildcard: the target is synthesized", qname: dn("x.towild"), aa: true, answer: []string{
			"towild.dname.test. 300 IN DNAME w.dname.test.", "x.towild.dname.test. 300 IN CNAME x.w.dname.test.",
			"x.w.dname.test. 300 IN A 192.0.2.80"}},
		{name: "a loop ends at the chase limit", qname: dn("a.loop"), aa: true, anySections: true,
			check: func(t *testing.T, _, r *dns.Msg) {
				dnames, cnames := 0, 0
				for _, rr := range r.Answer {
					switch rr.Header().Rrtype {
					case dns.TypeDNAME:
						dnames++
					case dns.TypeCNAME:
						cnames++
					}
				}
				if dnames != 1 || cnames != 9 {
					t.Errorf("%d DNAMEs and %d CNAMEs, want the DNAME once and 9 CNAMEs (1 + 8 chased)", dnames, cnames)
				}
			}},
		{name: "substitution within 255 octets", qname: dn("a.long"), rcode: dns.RcodeNameError, aa: true,
			answer: []string{longDNAME, "a.long.dname.test. 300 IN CNAME a." + longTarget}, ns: dnameNeg},
		// RFC 6672 §2.2, as NSD and BIND answer (Knot says NXDOMAIN).
		{name: "substitution beyond 255 octets: YXDOMAIN", qname: long62 + ".long.dname.test.", rcode: dns.RcodeYXDomain, aa: true,
			answer: []string{longDNAME}},
		{name: "wildcard DNAME: the DNAME at the synthesized owner", qname: dn("x.wild"), qtype: dns.TypeDNAME, aa: true,
			answer: []string{"x.wild.dname.test. 300 IN DNAME new.dname.test."}},
		{name: "wildcard DNAME: no redirection of the synthesized name", qname: dn("y.x.wild"), aa: true, ns: dnameNeg},
		{name: "below a literal wildcard DNAME owner: redirected (RFC 4592 §4.4)", qname: dn("a.*.wild"), aa: true, answer: []string{
			"*.wild.dname.test. 300 IN DNAME new.dname.test.", "a.*.wild.dname.test. 300 IN CNAME a.new.dname.test.",
			"a.new.dname.test. 300 IN A 192.0.2.10", "a.new.dname.test. 300 IN A 192.0.2.11"}},
		{name: "apex DNAME: the apex keeps its data", qname: "apexdname.test.", qtype: dns.TypeSOA, aa: true,
			answer: []string{"apexdname.test. 300 IN SOA ns.other.test. hostmaster.apexdname.test. 1 3600 900 1209600 60"}},
		{name: "apex DNAME: names below go to the other zone, not chased across zones", qname: "www.apexdname.test.", aa: true,
			answer: []string{"apexdname.test. 300 IN DNAME dname.test.", "www.apexdname.test. 300 IN CNAME www.dname.test."}},
		{name: "query case echoed in the question", qname: "A.Old.DNAME.test.", aa: true, answer: []string{
			oldDNAME, "a.old.dname.test. 120 IN CNAME a.new.dname.test.",
			"a.new.dname.test. 300 IN A 192.0.2.10", "a.new.dname.test. 300 IN A 192.0.2.11"}},
	})
}

// The answer lists the DNAME first and each CNAME before what it leads to,
// as resolvers validate the chain in order (RFC 6672 §5.3.1).
func TestDNAMEOrder(t *testing.T) {
	s := dnameServer(t)
	r, _ := exchange(t, s, newQuery(dn("a.hop"), dns.TypeA), udpWire)
	var types []string
	for _, rr := range r.Answer {
		types = append(types, dns.TypeToString[rr.Header().Rrtype])
	}
	if got := strings.Join(types, " "); got != "DNAME CNAME DNAME CNAME A A" {
		t.Errorf("answer order %s", got)
	}
}
