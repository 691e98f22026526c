package integration

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// answerCase is one rule of issue 3's "Answers" section, checked with one
// well-formed query. wantEcho runs on every reply in addition to check.
type answerCase struct {
	name  string
	query func() *dns.Msg
	check func(t *testing.T, r *dns.Msg)
}

// q is a shorthand for a plain query without EDNS.
func q(qname string, qtype uint16) func() *dns.Msg {
	return func() *dns.Msg { return newQuery(qname, qtype) }
}

// positive checks an authoritative NOERROR answer holding exactly want.
func positive(want ...string) func(*testing.T, *dns.Msg) {
	return func(t *testing.T, r *dns.Msg) {
		t.Helper()
		wantRcode(t, r, dns.RcodeSuccess)
		wantAA(t, r, true)
		wantSet(t, "answer", r.Answer, want...)
	}
}

// negative checks NXDOMAIN or NODATA (rcode NOERROR) with the SOA.
func negative(rcode int, answer ...string) func(*testing.T, *dns.Msg) {
	return func(t *testing.T, r *dns.Msg) {
		t.Helper()
		wantNegative(t, r, rcode, answer...)
	}
}

// refused checks the answer to a name no zone of ours covers.
func refused(t *testing.T, r *dns.Msg) {
	t.Helper()
	wantRcode(t, r, dns.RcodeRefused)
	if len(r.Answer) != 0 {
		t.Errorf("REFUSED reply carries answers: %v", r.Answer)
	}
}

// devReferral checks the referral to the delegated child dev: not
// authoritative, empty answer, the child's NS in authority, glue in
// additional (RFC 1034 4.3.2 step 3b, RFC 2181 6.1).
func devReferral(t *testing.T, r *dns.Msg) {
	t.Helper()
	wantRcode(t, r, dns.RcodeSuccess)
	wantAA(t, r, false)
	wantSet(t, "answer", r.Answer)
	wantSet(t, "authority", r.Ns, devNS...)
	wantSet(t, "additional", r.Extra, devGlue...)
}

// cnameFirst checks a chased CNAME: the CNAME leads, then the whole target
// RRset (RFC 1034 3.6.2, 4.3.2 step 3a).
func cnameFirst(want ...string) func(*testing.T, *dns.Msg) {
	return func(t *testing.T, r *dns.Msg) {
		t.Helper()
		positive(want...)(t, r)
		if len(r.Answer) == 0 || r.Answer[0].Header().Rrtype != dns.TypeCNAME {
			t.Errorf("answer does not start with the CNAME: %v", r.Answer)
		}
	}
}

func answerCases() []answerCase {
	wildcard := func(owner string) []string {
		return []string{
			owner + " 30 IN A 192.0.2.80",
			owner + " 30 IN A 192.0.2.81",
		}
	}
	return []answerCase{
		// Header rules (RFC 1035 4.1.1). wantEcho checks them on every
		// case; these cases make each one a named, visible rule.
		{"AA set on authoritative answer", q(name("www"), dns.TypeA), positive(wwwA...)},
		{"ID opcode RD echoed (RD set)", func() *dns.Msg {
			m := newQuery(name("www"), dns.TypeA)
			m.Id, m.RecursionDesired = 0xBEEF, true
			return m
		}, positive(wwwA...)},
		{"ID opcode RD echoed (RD clear)", func() *dns.Msg {
			m := newQuery(name("www"), dns.TypeA)
			m.Id = 1
			return m
		}, positive(wwwA...)},
		{"question echoed with 0x20 mixed case", q("wWw.Lb.ExAmPlE.tEsT.", dns.TypeA), positive(wwwA...)},
		{"names matched case-insensitively", q("MAIL.LB.EXAMPLE.TEST.", dns.TypeA), positive(mailA...)},
		// RFC 4035 3.1.6: the server copies CD from the query.
		{"CD copied", func() *dns.Msg {
			m := newQuery(name("www"), dns.TypeA)
			m.CheckingDisabled = true
			return m
		}, func(t *testing.T, r *dns.Msg) {
			positive(wwwA...)(t, r)
			if !r.CheckingDisabled {
				t.Errorf("CD not copied")
			}
		}},
		{"RA Z AD clear even when set in query", func() *dns.Msg {
			m := newQuery(name("www"), dns.TypeA)
			m.RecursionAvailable, m.Zero, m.AuthenticatedData = true, true, true
			return m
		}, positive(wwwA...)},

		// Data and TTLs exactly as in the zone.
		{"apex pool A TTL 30", q(origin, dns.TypeA), positive(apexA...)},
		{"apex NS TTL 3600", q(origin, dns.TypeNS), positive(apexNS...)},
		{"apex SOA TTL 3600", q(origin, dns.TypeSOA), positive(exampleSOA)},
		{"apex MX", q(origin, dns.TypeMX), positive("lb.example.test. 300 IN MX 10 mail.lb.example.test.")},
		{"apex TXT", q(origin, dns.TypeTXT), positive(`lb.example.test. 300 IN TXT "v=spf1 mx -all"`)},
		{"apex CAA", q(origin, dns.TypeCAA), positive(`lb.example.test. 300 IN CAA 0 issue "letsencrypt.org"`)},
		{"pool A and AAAA split by qtype (A)", q(name("www"), dns.TypeA), positive(wwwA...)},
		{"pool A and AAAA split by qtype (AAAA)", q(name("www"), dns.TypeAAAA), positive(wwwAAAA...)},
		{"pool TTL 30 (api)", q(name("api"), dns.TypeA), positive(apiA...)},
		{"pool TTL 30 (cdn, cyclic)", q(name("cdn"), dns.TypeA), positive(cdnA...)},
		{"pool TTL 30 (static, fixed)", q(name("static"), dns.TypeA), positive(staticA...)},
		{"default TTL 300", q(name("mail"), dns.TypeA), positive(mailA...)},
		{"ns1 A", q(name("ns1"), dns.TypeA), positive("ns1.lb.example.test. 300 IN A 192.0.2.53")},
		{"ns2 AAAA", q(name("ns2"), dns.TypeAAAA), positive("ns2.lb.example.test. 300 IN AAAA 2001:db8::53")},
		{"SRV", q(name("_imaps._tcp"), dns.TypeSRV), positive(imapsSRV...)},

		// Negative answers (RFC 2308): SOA in authority, TTL 60.
		{"NXDOMAIN with SOA", q(name("nope"), dns.TypeA), negative(dns.RcodeNameError)},
		{"NXDOMAIN several labels down", q("a.b.nope."+origin, dns.TypeAAAA), negative(dns.RcodeNameError)},
		{"NODATA with SOA (www MX)", q(name("www"), dns.TypeMX), negative(dns.RcodeSuccess)},
		{"NODATA with SOA (mail AAAA)", q(name("mail"), dns.TypeAAAA), negative(dns.RcodeSuccess)},
		{"NODATA for type absent at apex", q(origin, dns.TypeSRV), negative(dns.RcodeSuccess)},
		// RFC 8020 / RFC 4592 2.2.2: an empty non-terminal exists.
		{"empty non-terminal _tcp is NODATA", q(name("_tcp"), dns.TypeA), negative(dns.RcodeSuccess)},
		{"empty non-terminal apps is NODATA", q(name("apps"), dns.TypeA), negative(dns.RcodeSuccess)},

		// Names outside every zone (RFC 2136-style policy; issue 3).
		{"REFUSED outside zones", q("www.example.org.", dns.TypeA), refused},
		{"REFUSED for the parent of the zone", q("example.test.", dns.TypeSOA), refused},
		{"REFUSED for the root", q(".", dns.TypeNS), refused},
		{"REFUSED for a name that only ends like the zone", q("xlb.example.test.", dns.TypeA), refused},

		// CNAME chased inside the zone, whole final RRset present.
		{"CNAME chased to pool (A)", q(name("docs"), dns.TypeA), cnameFirst(append([]string{docsCNAME}, wwwA...)...)},
		{"CNAME chased to pool (AAAA)", q(name("docs"), dns.TypeAAAA), cnameFirst(append([]string{docsCNAME}, wwwAAAA...)...)},
		{"CNAME query returns only the CNAME", q(name("docs"), dns.TypeCNAME), positive(docsCNAME)},
		// RFC 2308 2.2: NODATA after a CNAME keeps the CNAME in answer.
		{"CNAME chased to NODATA", q(name("docs"), dns.TypeMX), negative(dns.RcodeSuccess, docsCNAME)},

		// Wildcards (RFC 4592).
		{"wildcard synthesises the owner", q(name("x.apps"), dns.TypeA), positive(wildcard(name("x.apps"))...)},
		{"wildcard covers several labels", q(name("a.b.apps"), dns.TypeA), positive(wildcard(name("a.b.apps"))...)},
		{"wildcard matched case-insensitively", q("X.APPS.lb.example.test.", dns.TypeA), positive(wildcard(name("x.apps"))...)},
		{"wildcard NODATA for absent type", q(name("x.apps"), dns.TypeAAAA), negative(dns.RcodeSuccess)},
		{"wildcard owner itself", q(name("*.apps"), dns.TypeA), positive(wildcard(name("*.apps"))...)},
		// RFC 4592 3.3.1: the closest encloser of foo.www is www, and
		// *.www does not exist, so no synthesis.
		{"name below an existing name is not wildcard-matched", q(name("foo.www"), dns.TypeA), negative(dns.RcodeNameError)},
		{"name below mail is not wildcard-matched", q(name("x.mail"), dns.TypeA), negative(dns.RcodeNameError)},

		// Delegation to dev (RFC 1034 4.3.2, RFC 4035 3.1.4).
		{"referral at the cut", q(name("dev"), dns.TypeA), devReferral},
		{"referral below the cut", q(name("host.dev"), dns.TypeA), devReferral},
		{"referral for NS at the cut", q(name("dev"), dns.TypeNS), devReferral},
		{"referral for DS below the cut", q(name("host.dev"), dns.TypeDS), devReferral},
		{"glue never an AA answer", q(name("ns1.dev"), dns.TypeA), devReferral},
		{"DS at the cut answered by the parent", q(name("dev"), dns.TypeDS), func(t *testing.T, r *dns.Msg) {
			t.Helper()
			wantRcode(t, r, dns.RcodeSuccess)
			wantAA(t, r, true)
			if len(r.Answer) == 0 {
				t.Fatalf("no DS in answer: %v", r)
			}
			for _, rr := range r.Answer {
				if rr.Header().Rrtype != dns.TypeDS || !strings.EqualFold(rr.Header().Name, name("dev")) {
					t.Errorf("answer holds %v, want only DS at dev", rr)
				}
			}
			for _, rr := range r.Ns {
				if rr.Header().Rrtype == dns.TypeNS {
					t.Errorf("DS answer carries the child's NS (a referral): %v", r)
				}
			}
		}},
	}
}

// TestAnswers runs every rule over UDP and TCP, on 127.0.0.1 and ::1,
// against the shipped example.
func TestAnswers(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-config", exampleConfig())
	for _, ep := range s.endpoints() {
		t.Run(ep.String(), func(t *testing.T) {
			t.Parallel()
			for _, tc := range answerCases() {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					query := tc.query()
					r := exchange(t, ep.net, ep.addr, query)
					wantEcho(t, query, r)
					tc.check(t, r)
				})
			}
		})
	}
}
