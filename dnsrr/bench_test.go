package dnsrr_test

import (
	"fmt"
	"net"
	"testing"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/miekg/dns"
)

// Benchmarks: a baseline for the performance issue, no assertions on time.
// Each case runs over the production UDP path (raw datagram in, bytes out)
// and through ServeDNS (the full path: UDP-size and TCP writers).

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures the server, not the recorder.
type discardWriter struct {
	local net.Addr
	n     int
}

func (w *discardWriter) LocalAddr() net.Addr  { return w.local }
func (w *discardWriter) RemoteAddr() net.Addr { return clientUDP }
func (w *discardWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	w.n = len(b)
	return err
}
func (w *discardWriter) Write(b []byte) (int, error) { w.n = len(b); return len(b), nil }
func (w *discardWriter) Close() error                { return nil }
func (w *discardWriter) TsigStatus() error           { return nil }
func (w *discardWriter) TsigTimersOnly(bool)         {}
func (w *discardWriter) Hijack()                     {}

func BenchmarkServeDNS(b *testing.B) {
	s := newServer(b, dnsrr.Chaos{})
	cases := []struct {
		name  string
		qname string
		qtype uint16
		edns  bool
	}{
		{"pool-A", name("www"), dns.TypeA, true},
		{"nxdomain", name("nope"), dns.TypeA, true},
		{"nodata", name("www"), dns.TypeAAAA, true},
		{"cname-to-pool", name("alias"), dns.TypeA, true},
		{"truncated", name("big"), dns.TypeA, false}, // 700 bytes, no EDNS: TC on UDP
		{"referral", name("x.sub"), dns.TypeA, true},
	}
	for _, c := range cases {
		q := newQuery(c.qname, c.qtype)
		if c.edns {
			withEDNS(q, 1232)
		}
		wire, err := q.Pack()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/udp", func(b *testing.B) {
			a := s.NewUDPAnswerer()
			b.ReportAllocs()
			for b.Loop() {
				if a.Answer(wire) == nil {
					b.Fatal("no answer")
				}
			}
		})
		for _, tr := range []transport{udpHandler, tcpHandler} {
			b.Run(fmt.Sprintf("%s/%v", c.name, tr), func(b *testing.B) {
				req := new(dns.Msg)
				if err := req.Unpack(wire); err != nil {
					b.Fatal(err)
				}
				w := &discardWriter{local: serverUDP}
				if tr.tcp() {
					w.local = serverTCP
				}
				b.ReportAllocs()
				for b.Loop() {
					s.ServeDNS(w, req)
				}
				if w.n == 0 {
					b.Fatal("no answer")
				}
			})
		}
	}
}

func BenchmarkShuffle(b *testing.B) {
	for _, n := range []int{2, 4, 8, 16} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			rrs := make([]dns.RR, n)
			for i := range rrs {
				rrs[i] = &dns.A{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeA, Class: dns.ClassINET}, A: net.IPv4(192, 0, 2, byte(i))}
			}
			b.ReportAllocs()
			for b.Loop() {
				dnsrr.Shuffle(rrs)
			}
		})
	}
}
