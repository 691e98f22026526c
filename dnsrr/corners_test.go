package dnsrr_test

import (
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/miekg/dns"
)

// Protocol corners: signed queries and pseudo-records out of place.

// tsigRR is what a client signing with key name and HMAC-SHA256 appends
// (the MAC does not matter: no key is known).
func tsigRR(name string) *dns.TSIG {
	return &dns.TSIG{
		Hdr:        dns.RR_Header{Name: name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm:  dns.HmacSHA256,
		TimeSigned: uint64(time.Now().Unix()),
		Fudge:      300,
		MACSize:    32,
		MAC:        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
		OrigId:     0x4242,
	}
}

// wantBadKey checks the RFC 8945 §5.2.2 answer to a query signed with a key
// we do not have: NOTAUTH (checked by the case), the question echoed, no
// records but a TSIG, last, unsigned, with error BADKEY and the client's
// key, algorithm, fudge and original ID.
func wantBadKey(keyName string) func(t *testing.T, q, r *dns.Msg) {
	return func(t *testing.T, q, r *dns.Msg) {
		t.Helper()
		if len(r.Answer) != 0 || len(r.Ns) != 0 {
			t.Errorf("answer %v authority %v, want none", r.Answer, r.Ns)
		}
		ts := r.IsTsig()
		if ts == nil {
			t.Fatalf("no TSIG last in the reply: %v", r.Extra)
		}
		qt := q.IsTsig()
		if ts.Hdr.Name != keyName || ts.Hdr.Class != dns.ClassANY || ts.Hdr.Ttl != 0 ||
			ts.Algorithm != qt.Algorithm || ts.Fudge != qt.Fudge || ts.OrigId != qt.OrigId {
			t.Errorf("TSIG %v does not match the query's %v", ts, qt)
		}
		if ts.Error != dns.RcodeBadKey || ts.MACSize != 0 || ts.MAC != "" || ts.OtherLen != 0 {
			t.Errorf("TSIG error %d MAC %d bytes other %d, want BADKEY, no MAC, no other data", ts.Error, ts.MACSize, ts.OtherLen)
		}
		now := uint64(time.Now().Unix())
		if ts.TimeSigned+uint64(ts.Fudge) < now || ts.TimeSigned > now+uint64(ts.Fudge) {
			t.Errorf("time signed %d outside now %d ± fudge %d", ts.TimeSigned, now, ts.Fudge)
		}
	}
}

func TestSignedQueryGetsBadKey(t *testing.T) {
	s := newServer(t, dnsrr.Chaos{})
	signed := func(key string, edns bool) func(*dns.Msg) {
		return func(q *dns.Msg) {
			if edns {
				withEDNS(q, 1232)
			}
			q.Extra = append(q.Extra, tsigRR(key))
		}
	}
	runCases(t, s, []answerCase{
		// genreport "dnswkk": the well-known key ".", HMAC-SHA256.
		{name: "well-known key", qname: name(""), qtype: dns.TypeSOA, mod: signed(".", false),
			rcode: dns.RcodeNotAuth, anySections: true, check: wantBadKey(".")},
		{name: "named key with EDNS", qname: name("www"), mod: signed("key.example.", true),
			rcode: dns.RcodeNotAuth, anySections: true, check: wantBadKey("key.example.")},
		// The key is judged before the name: outside our zones too.
		{name: "name outside our zones", qname: "example.org.", mod: signed("k.", false),
			rcode: dns.RcodeNotAuth, anySections: true, check: wantBadKey("k.")},
		{name: "NOTIFY", qname: name(""), qtype: dns.TypeSOA, mod: func(q *dns.Msg) {
			q.Opcode = dns.OpcodeNotify
			signed("k.", false)(q)
		}, rcode: dns.RcodeNotAuth, anySections: true, check: wantBadKey("k.")},
	})
}

// RFC 6891 §6.1.1 and RFC 8945 §5.2 name where OPT and TSIG may sit; a
// query that puts them elsewhere is malformed (FORMERR, as NSD and Knot
// answer). Ordinary records in a query's other sections are ignored, as
// Knot does.
func TestMisplacedPseudoRecords(t *testing.T) {
	s := newServer(t, dnsrr.Chaos{})
	opt := func() dns.RR {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(1232)
		return o
	}
	a, err := dns.NewRR(name("www") + " 30 IN A 192.0.2.99")
	if err != nil {
		t.Fatal(err)
	}
	noRecords := func(t *testing.T, _, r *dns.Msg) {
		for _, rr := range append(append(r.Answer, r.Ns...), r.Extra...) {
			if rr.Header().Rrtype != dns.TypeOPT {
				t.Errorf("unexpected record %v", rr)
			}
		}
	}
	formerr := func(label string, mod func(*dns.Msg)) answerCase {
		return answerCase{name: label, mod: mod, rcode: dns.RcodeFormatError, anySections: true, check: noRecords}
	}
	runCases(t, s, []answerCase{
		formerr("OPT in answer", func(q *dns.Msg) { q.Answer = []dns.RR{opt()} }),
		formerr("OPT in authority", func(q *dns.Msg) { q.Ns = []dns.RR{opt()} }),
		formerr("OPT in answer and additional", func(q *dns.Msg) { q.Answer = []dns.RR{opt()}; q.Extra = []dns.RR{opt()} }),
		formerr("two OPTs", func(q *dns.Msg) { q.Extra = []dns.RR{opt(), opt()} }),
		formerr("TSIG in answer", func(q *dns.Msg) { q.Answer = []dns.RR{tsigRR(".")} }),
		formerr("TSIG in authority", func(q *dns.Msg) { q.Ns = []dns.RR{tsigRR(".")} }),
		formerr("TSIG before OPT", func(q *dns.Msg) { q.Extra = []dns.RR{tsigRR("."), opt()} }),
		formerr("TSIG before another record", func(q *dns.Msg) { q.Extra = []dns.RR{tsigRR("."), a} }),
		formerr("two TSIGs", func(q *dns.Msg) { q.Extra = []dns.RR{tsigRR("a."), tsigRR("b.")} }),
		formerr("TSIG of class IN", func(q *dns.Msg) {
			ts := tsigRR(".")
			ts.Hdr.Class = dns.ClassINET
			q.Extra = []dns.RR{ts}
		}),
		{name: "A record in answer: ignored", mod: func(q *dns.Msg) { q.Answer = []dns.RR{a} }, aa: true, answer: wwwA},
		{name: "A record in authority: ignored", mod: func(q *dns.Msg) { q.Ns = []dns.RR{a} }, aa: true, answer: wwwA},
		{name: "A record in additional with OPT: ignored", mod: func(q *dns.Msg) { q.Extra = []dns.RR{a}; withEDNS(q, 1232) }, aa: true, answer: wwwA},
	})
}
