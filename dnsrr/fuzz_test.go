package dnsrr_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// errorLog records error-level log lines: the handlers recover from panics
// and log them, so a panic never reaches the fuzzer by itself.
type errorLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *errorLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if bytes.Contains(p, []byte(`"level":"error"`)) {
		l.lines = append(l.lines, string(p))
	}
	return len(p), nil
}

func (l *errorLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

// fuzzSeeds are real queries: plain, EDNS, DO, mixed case, odd flags and
// opcodes, every kind of answer the test zone gives, and malformed ones.
func fuzzSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	add := func(q *dns.Msg) {
		b, err := q.Pack()
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	for _, qn := range []struct {
		name  string
		qtype uint16
	}{
		{name("www"), dns.TypeA}, {"WwW.Rr.TeSt.", dns.TypeA}, {name("www"), dns.TypeAAAA},
		{name("nope"), dns.TypeA}, {name("alias"), dns.TypeA}, {name("loop1"), dns.TypeA},
		{name("dangling"), dns.TypeA}, {name("x.wild"), dns.TypeA}, {name("foo.cw"), dns.TypeA},
		{name("x.sub"), dns.TypeA}, {name("kid"), dns.TypeDS}, {name(""), dns.TypeANY},
		{name(""), dns.TypeNS}, {name("heavy"), dns.TypeMX}, {name("big"), dns.TypeA},
		{name("fat"), dns.TypeA}, {name("cyc"), dns.TypeA}, {name(""), dns.TypeAXFR},
		{name("www"), dns.TypeOPT}, {"example.org.", dns.TypeA}, {".", dns.TypeNS},
	} {
		add(newQuery(qn.name, qn.qtype))
		q := newQuery(qn.name, qn.qtype)
		withEDNS(q, 1232).SetDo()
		add(q)
	}
	q := newQuery(name("www"), dns.TypeA)
	q.AuthenticatedData, q.CheckingDisabled, q.Zero, q.RecursionAvailable, q.Truncated, q.Authoritative = true, true, true, true, true, true
	add(q)
	for _, op := range []int{dns.OpcodeNotify, dns.OpcodeUpdate, dns.OpcodeStatus, 15} {
		q = newQuery(name(""), dns.TypeSOA)
		q.Opcode = op
		withEDNS(q, 512)
		add(q)
	}
	q = newQuery(name("www"), dns.TypeA)
	q.Question = nil
	add(q)
	q = newQuery(name("www"), dns.TypeA)
	q.Question = append(q.Question, q.Question[0])
	add(q)
	q = newQuery("version.bind.", dns.TypeTXT)
	q.Question[0].Qclass = dns.ClassCHAOS
	add(q)
	q = newQuery(name("www"), dns.TypeA)
	withEDNS(q, 4096).SetVersion(1)
	add(q)
	q = newQuery(name("www"), dns.TypeA)
	withEDNS(q, 1232)
	withEDNS(q, 1232)
	add(q)
	q = newQuery(name("www"), dns.TypeA)
	o := withEDNS(q, 100)
	o.Option = append(o.Option, &dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1, 2}}, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
	o.Hdr.Ttl |= 0x7fff
	add(q)
	q = newQuery(name("www"), dns.TypeA)
	q.Response = true
	add(q)
	// Signed (an unknown key), and pseudo-records out of place.
	q = newQuery(name(""), dns.TypeSOA)
	withEDNS(q, 1232)
	q.Extra = append(q.Extra, tsigRR("key.example."))
	add(q)
	q = newQuery(name("www"), dns.TypeA)
	q.Answer = []dns.RR{tsigRR(".")}
	withEDNS(q, 1232)
	q.Ns = q.Extra
	add(q)
	// A compression pointer in the question (to itself) and a short header.
	seeds = append(seeds,
		[]byte{0xbe, 0xef, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1},
		[]byte{0xbe, 0xef, 1, 0, 0, 1},
	)
	return seeds
}

// FuzzServeDNS feeds raw datagrams to the production UDP path and, when
// they unpack, to ServeDNS over UDP and TCP writers. Nothing may panic
// (recovered panics are logged, so the log is watched too), and every reply
// must unpack, carry the query's ID and fit what a UDP client can take.
func FuzzServeDNS(f *testing.F) {
	logs := &errorLog{}
	s := dnsrr.New(nil, testChaos, loadSnapshot(f), zerolog.New(logs))
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		req := new(dns.Msg)
		unpacked := req.Unpack(pkt) == nil

		if out := s.AnswerUDP(pkt); out != nil {
			r := checkWire(t, "udp", pkt, out)
			// RFC 1035 §4.2.1 and RFC 6891 §6.2.5: at most 512 bytes to a
			// client without EDNS, never more than our 1232.
			limit := 1232
			if unpacked && countOPT(req) == 0 {
				limit = 512
			}
			if r != nil && len(out) > limit {
				t.Errorf("UDP reply of %d bytes, limit %d", len(out), limit)
			}
		}
		if unpacked {
			for _, tcp := range []bool{false, true} {
				w := &fakeWriter{tcp: tcp}
				s.ServeDNS(w, req)
				if len(w.writes) > 1 {
					t.Errorf("ServeDNS (tcp %v) wrote %d replies", tcp, len(w.writes))
				}
				for _, out := range w.writes {
					checkWire(t, "handler", pkt, out)
				}
			}
		}
		if errs := logs.take(); len(errs) > 0 {
			t.Fatalf("handler logged errors for % x:\n%s", pkt, strings.Join(errs, ""))
		}
	})
}

// checkWire checks that a reply unpacks and answers the query's ID.
func checkWire(t *testing.T, path string, pkt, out []byte) *dns.Msg {
	t.Helper()
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil {
		t.Errorf("%s reply to % x does not unpack: %v\nreply % x", path, pkt, err, out)
		return nil
	}
	if len(pkt) >= 2 && r.Id != uint16(pkt[0])<<8|uint16(pkt[1]) {
		t.Errorf("%s reply ID %#x, query ID %#x", path, r.Id, uint16(pkt[0])<<8|uint16(pkt[1]))
	}
	if !r.Response {
		t.Errorf("%s reply without QR", path)
	}
	return r
}
