package dnsrr_test

import (
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// TestExampleZone answers from the shipped example, so that the zone a
// newcomer serves first behaves as the README says.
func TestExampleZone(t *testing.T) {
	snap := loadSnapshot(t, "../examples/zones/lb.example.test.toml")
	s := dnsrr.New(nil, dnsrr.Chaos{}, snap, zerolog.Nop())
	const o = "lb.example.test."
	wwwA := []string{"www." + o + " 30 IN A 192.0.2.10", "www." + o + " 30 IN A 192.0.2.11", "www." + o + " 30 IN A 192.0.2.12"}
	runCases(t, s, []answerCase{
		{name: "web pool A", qname: "www." + o, aa: true, answer: wwwA},
		{name: "web pool AAAA", qname: "www." + o, qtype: dns.TypeAAAA, aa: true,
			answer: []string{"www." + o + " 30 IN AAAA 2001:db8::10", "www." + o + " 30 IN AAAA 2001:db8::11"}},
		{name: "CNAME to the web pool", qname: "docs." + o, aa: true,
			answer: append([]string{"docs." + o + " 300 IN CNAME www." + o}, wwwA...)},
		{name: "MX with the mail host in additional", qname: o, qtype: dns.TypeMX, aa: true,
			answer: []string{o + " 300 IN MX 10 mail." + o}, extra: []string{"mail." + o + " 300 IN A 192.0.2.25"}},
		{name: "wildcard pool", qname: "a.b.apps." + o, aa: true,
			answer: []string{"a.b.apps." + o + " 30 IN A 192.0.2.80", "a.b.apps." + o + " 30 IN A 192.0.2.81"}},
		{name: "referral to dev with glue", qname: "x.dev." + o,
			ns: []string{"dev." + o + " 3600 IN NS ns1.dev." + o}, extra: []string{"ns1.dev." + o + " 300 IN A 192.0.2.100"}},
		{name: "DS at the dev cut", qname: "dev." + o, qtype: dns.TypeDS, aa: true,
			answer: []string{"dev." + o + " 300 IN DS 12345 13 2 3F1A6C0E1B9D4A2F8E7C5B3A1D0F9E8C7B6A5D4C3B2A1F0E9D8C7B6A5F4E3D2C"}},
		{name: "NXDOMAIN", qname: "nope." + o, rcode: dns.RcodeNameError, aa: true,
			ns: []string{o + " 60 IN SOA ns1." + o + " hostmaster." + o + " 2026112501 3600 900 1209600 60"}},
	})
}

// TestUDPDropsResponses: the UDP loop answers no response (QR=1) and
// nothing shorter than a header, so it cannot be made to reflect.
func TestUDPDropsResponses(t *testing.T) {
	s := newServer(t, dnsrr.Chaos{})
	q := newQuery(name("www"), dns.TypeA)
	q.Response = true
	wire, _ := q.Pack()
	if out := s.AnswerUDP(wire); out != nil {
		t.Errorf("answered a response: % x", out)
	}
	if out := s.AnswerUDP(wire[:5]); out != nil {
		t.Errorf("answered 5 bytes: % x", out)
	}
}

// TestUDPUnparsable: a query the parser rejects gets a header-only FORMERR
// with the ID, so the client stops waiting (RFC 1035 §4.1.1).
func TestUDPUnparsable(t *testing.T) {
	s := newServer(t, dnsrr.Chaos{})
	q := newQuery(name("www"), dns.TypeA)
	wire, _ := q.Pack()
	wire = append(wire[:12], 5, 'w', 'w') // a label cut short
	out := s.AnswerUDP(wire)
	if out == nil {
		t.Fatal("no reply")
	}
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil {
		t.Fatalf("reply does not unpack: %v", err)
	}
	if r.Id != q.Id || !r.Response || r.Rcode != dns.RcodeFormatError {
		t.Errorf("reply id %#x QR %v rcode %s, want id %#x QR FORMERR", r.Id, r.Response, rcodeName(r.Rcode), q.Id)
	}
}

// panicWriter panics on the handler's Write, standing in for a bug on the
// answer path, and records the reply ServeDNS sends instead.
type panicWriter struct {
	fakeWriter
}

func (w *panicWriter) Write([]byte) (int, error) { panic("test: write exploded") }

// logBuffer collects log output safely.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestPanicGivesServFail: a panic while answering costs one query, which
// gets SERVFAIL, not the server. No zone data makes the handler panic (a
// nil snapshot now panics in New, before any query), so the writer
// panics instead: that exercises the same recover in ServeDNS.
func TestPanicGivesServFail(t *testing.T) {
	for _, tc := range []struct {
		name string
		edns bool
	}{{"plain", false}, {"EDNS keeps one OPT (RFC 6891 §7)", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			s := dnsrr.New(nil, dnsrr.Chaos{}, loadSnapshot(t), zerolog.New(&logs))
			q := newQuery("WwW.rr.test.", dns.TypeA)
			if tc.edns {
				withEDNS(q, 1232).SetDo()
			}
			wire, _ := q.Pack()
			req := new(dns.Msg)
			if err := req.Unpack(wire); err != nil {
				t.Fatal(err)
			}
			w := &panicWriter{}
			s.ServeDNS(w, req) // must not panic
			if len(w.writes) != 1 {
				t.Fatalf("%d replies after the panic, want 1 SERVFAIL", len(w.writes))
			}
			r := new(dns.Msg)
			if err := r.Unpack(w.writes[0]); err != nil {
				t.Fatalf("SERVFAIL does not unpack: %v", err)
			}
			if r.Rcode != dns.RcodeServerFailure {
				t.Errorf("rcode %s, want SERVFAIL", rcodeName(r.Rcode))
			}
			if len(r.Answer)+len(r.Ns) != 0 {
				t.Errorf("SERVFAIL carries data: %v", r)
			}
			checkReply(t, q, r, len(w.writes[0]), false)
			if !strings.Contains(logs.String(), "panicked") {
				t.Errorf("panic not logged; log:\n%s", logs.String())
			}
		})
	}
}

// TestListeners runs the real listeners on a loopback port: odd opcodes
// and question counts get their rcode over both transports, and neither
// answers a response.
func TestListeners(t *testing.T) {
	addr := startTCP(t, dnsrr.TCPLimits{})

	for _, tc := range []struct {
		name  string
		net   string
		mod   func(q *dns.Msg)
		rcode int // -1: no reply
	}{
		{"UDP plain query", "udp", nil, dns.RcodeSuccess},
		{"TCP plain query", "tcp", nil, dns.RcodeSuccess},
		{"TCP UPDATE: NOTIMP", "tcp", func(q *dns.Msg) { q.Opcode = dns.OpcodeUpdate }, dns.RcodeNotImplemented},
		{"UDP UPDATE: NOTIMP", "udp", func(q *dns.Msg) { q.Opcode = dns.OpcodeUpdate }, dns.RcodeNotImplemented},
		{"TCP STATUS with RA/AD/Z set: NOTIMP, flags clear", "tcp", func(q *dns.Msg) {
			q.Opcode, q.RecursionAvailable, q.AuthenticatedData, q.Zero = dns.OpcodeStatus, true, true, true
		}, dns.RcodeNotImplemented},
		{"TCP NOTIFY: REFUSED", "tcp", func(q *dns.Msg) { q.Opcode = dns.OpcodeNotify }, dns.RcodeRefused},
		{"TCP QDCOUNT 0: FORMERR", "tcp", func(q *dns.Msg) { q.Question = nil }, dns.RcodeFormatError},
		{"UDP QDCOUNT 0: FORMERR", "udp", func(q *dns.Msg) { q.Question = nil }, dns.RcodeFormatError},
		{"TCP response dropped", "tcp", func(q *dns.Msg) { q.Response = true }, -1},
		{"UDP response dropped", "udp", func(q *dns.Msg) { q.Response = true }, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newQuery(name("www"), dns.TypeA)
			if tc.mod != nil {
				tc.mod(q)
			}
			c, err := net.Dial(tc.net, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			conn := &dns.Conn{Conn: c}
			if err := conn.WriteMsg(q); err != nil {
				t.Fatal(err)
			}
			wait := 2 * time.Second
			if tc.rcode < 0 {
				wait = 300 * time.Millisecond
			}
			c.SetReadDeadline(time.Now().Add(wait))
			r, err := conn.ReadMsg()
			if tc.rcode < 0 {
				if err == nil {
					t.Errorf("a response was answered:\n%v", r)
				}
				return
			}
			if err != nil {
				t.Fatalf("no reply: %v", err)
			}
			if r.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", rcodeName(r.Rcode), rcodeName(tc.rcode))
			}
			checkReply(t, q, r, 0, true)
		})
	}
}
