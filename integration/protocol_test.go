package integration

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startExample starts the server on the shipped example with free ports.
func startExample(t *testing.T) *server {
	t.Helper()
	return startServer(t, "-config", exampleConfig())
}

// TestTCPConnection covers DNS over TCP as RFC 7766 requires it: several
// queries per connection (6.2.1), pipelining with replies matched by ID
// (6.2.1.1, they may come out of order) and messages that arrive in
// pieces (8: a server must not assume a whole frame per read).
func TestTCPConnection(t *testing.T) {
	t.Parallel()
	s := startExample(t)
	for _, addr := range s.addrs {
		t.Run(addr, func(t *testing.T) {
			t.Parallel()

			t.Run("several queries on one connection", func(t *testing.T) {
				t.Parallel()
				co := dialTCP(t, addr)
				steps := []struct {
					qname string
					qtype uint16
					check func(*testing.T, *dns.Msg)
				}{
					{name("www"), dns.TypeA, positive(wwwA...)},
					{name("nope"), dns.TypeA, negative(dns.RcodeNameError)},
					{name("mail"), dns.TypeA, positive(mailA...)},
					{name("docs"), dns.TypeAAAA, cnameFirst(append([]string{docsCNAME}, wwwAAAA...)...)},
					{name("dev"), dns.TypeA, devReferral},
					{name("api"), dns.TypeA, positive(apiA...)},
				}
				for _, st := range steps {
					m := newQuery(st.qname, st.qtype)
					r := exchangeConn(t, co, m)
					wantEcho(t, m, r)
					st.check(t, r)
				}
			})

			t.Run("pipelined queries matched by ID", func(t *testing.T) {
				t.Parallel()
				c, err := net.DialTimeout("tcp", addr, queryTimeout)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				queries := map[uint16]*dns.Msg{}
				checks := map[uint16]func(*testing.T, *dns.Msg){}
				var frames []byte
				for i, st := range []struct {
					qname string
					check func(*testing.T, *dns.Msg)
				}{
					{name("www"), positive(wwwA...)},
					{name("mail"), positive(mailA...)},
					{name("nope"), negative(dns.RcodeNameError)},
				} {
					m := newQuery(st.qname, dns.TypeA)
					m.Id = uint16(0x1000 + i)
					queries[m.Id], checks[m.Id] = m, st.check
					frames = append(frames, tcpFrame(pack(t, m))...)
				}
				// All three frames leave in one write before any read.
				if _, err := c.Write(frames); err != nil {
					t.Fatal(err)
				}
				for range len(queries) {
					b, err := readFrame(c, queryTimeout)
					if err != nil {
						t.Fatalf("reading pipelined replies: %v (missing %d)", err, len(queries))
					}
					r := new(dns.Msg)
					if err := r.Unpack(b); err != nil {
						t.Fatal(err)
					}
					m, ok := queries[r.Id]
					if !ok {
						t.Fatalf("reply with unknown or repeated ID %#x", r.Id)
					}
					delete(queries, r.Id)
					wantEcho(t, m, r)
					checks[r.Id](t, r)
				}
			})

			t.Run("frame written one byte at a time", func(t *testing.T) {
				t.Parallel()
				c, err := net.DialTimeout("tcp", addr, queryTimeout)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetNoDelay(true) // each byte its own segment
				}
				m := newEDNSQuery(name("www"), dns.TypeAAAA, 1232)
				for _, b := range tcpFrame(pack(t, m)) {
					if _, err := c.Write([]byte{b}); err != nil {
						t.Fatal(err)
					}
					time.Sleep(2 * time.Millisecond) // let the server see a short read
				}
				b, err := readFrame(c, queryTimeout)
				if err != nil {
					t.Fatal(err)
				}
				r := new(dns.Msg)
				if err := r.Unpack(b); err != nil {
					t.Fatal(err)
				}
				wantEcho(t, m, r)
				positive(wwwAAAA...)(t, r)
			})
		})
	}
}

// TestOpcodes: only QUERY is implemented; others get NOTIMP (RFC 1035
// 4.1.1), except NOTIFY, which an authoritative-only server without
// secondaries refuses (RFC 1996 3.10 leaves it to policy; issue 3).
func TestOpcodes(t *testing.T) {
	t.Parallel()
	s := startExample(t)
	cases := []struct {
		name   string
		opcode int
		rcode  int
	}{
		{"IQUERY gets NOTIMP", dns.OpcodeIQuery, dns.RcodeNotImplemented},
		{"STATUS gets NOTIMP", dns.OpcodeStatus, dns.RcodeNotImplemented},
		{"unassigned opcode 3 gets NOTIMP", 3, dns.RcodeNotImplemented},
		{"UPDATE gets NOTIMP", dns.OpcodeUpdate, dns.RcodeNotImplemented},
		{"NOTIFY gets REFUSED", dns.OpcodeNotify, dns.RcodeRefused},
	}
	for _, ep := range s.endpoints() {
		t.Run(ep.String(), func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					m := newQuery(origin, dns.TypeSOA)
					m.Opcode = tc.opcode
					r := rawExchange(t, ep.net, ep.addr, pack(t, m))
					if !r.Response || r.Id != m.Id || r.Opcode != tc.opcode {
						t.Errorf("QR=%v ID=%d opcode=%d, want QR, ID %d, opcode %d echoed", r.Response, r.Id, r.Opcode, m.Id, tc.opcode)
					}
					wantRcode(t, r, tc.rcode)
					if len(r.Answer) != 0 {
						t.Errorf("answers in reply to opcode %d: %v", tc.opcode, r.Answer)
					}
				})
			}
		})
	}
}

// headerOnly builds a 12-byte message header with the given counts.
func headerOnly(id uint16, flags uint16, qd, an, ns, ar uint16) []byte {
	b := make([]byte, 12)
	for i, v := range []uint16{id, flags, qd, an, ns, ar} {
		binary.BigEndian.PutUint16(b[2*i:], v)
	}
	return b
}

// TestMalformed: packets a server must reject or ignore (RFC 1035 4.1.1,
// RFC 5452 / RFC 1034 against answering responses).
func TestMalformed(t *testing.T) {
	t.Parallel()
	s := startExample(t)
	for _, ep := range s.endpoints() {
		t.Run(ep.String(), func(t *testing.T) {
			t.Parallel()

			formerr := []struct {
				name string
				pkt  func(t *testing.T) []byte
			}{
				{"qdcount 0 gets FORMERR", func(t *testing.T) []byte {
					return headerOnly(0x4242, 0, 0, 0, 0, 0)
				}},
				{"qdcount 2 gets FORMERR", func(t *testing.T) []byte {
					m := newQuery(name("www"), dns.TypeA)
					m.Id = 0x4242
					m.Question = append(m.Question, dns.Question{Name: name("mail"), Qtype: dns.TypeA, Qclass: dns.ClassINET})
					return pack(t, m)
				}},
			}
			for _, tc := range formerr {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					r := rawExchange(t, ep.net, ep.addr, tc.pkt(t))
					if !r.Response || r.Id != 0x4242 {
						t.Errorf("QR=%v ID=%#x, want QR and ID 0x4242", r.Response, r.Id)
					}
					wantRcode(t, r, dns.RcodeFormatError)
				})
			}

			// A message with QR=1 is a response; answering it invites
			// reflection loops between servers, so it is dropped.
			t.Run("QR=1 gets no reply", func(t *testing.T) {
				t.Parallel()
				m := newQuery(name("www"), dns.TypeA)
				m.Response = true
				dropped := m.Id
				if ep.net == "udp" {
					if b, err := rawUDP(t, ep.addr, pack(t, m), silenceWait); !errors.Is(err, errNoReply) {
						t.Errorf("reply to a QR=1 packet: %x (err %v)", b, err)
					}
				} else {
					c, err := net.DialTimeout("tcp", ep.addr, queryTimeout)
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					if _, err := c.Write(tcpFrame(pack(t, m))); err != nil {
						t.Fatal(err)
					}
					b, err := readFrame(c, silenceWait)
					switch {
					case errors.Is(err, errNoReply), errors.Is(err, io.EOF):
						// Ignored, or the connection closed: both fine.
					case err != nil:
						t.Logf("read after QR=1 frame: %v", err)
					default:
						r := new(dns.Msg)
						if r.Unpack(b) == nil && r.Id == dropped {
							t.Errorf("reply to a QR=1 frame: %v", r)
						}
					}
				}
				// The server is still there for real queries.
				query := newQuery(name("www"), dns.TypeA)
				positive(wwwA...)(t, exchange(t, ep.net, ep.addr, query))
			})
		})
	}
}

// TestClasses: only IN is served; CH TXT version.bind and friends are
// answered only when [chaos] is configured (the de facto convention
// BIND, NSD and Knot follow), everything else outside IN is REFUSED.
func TestClasses(t *testing.T) {
	t.Parallel()
	chq := func(qname string, qclass uint16) *dns.Msg {
		m := newQuery(qname, dns.TypeTXT)
		m.Question[0].Qclass = qclass
		return m
	}
	t.Run("without chaos", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, "-config", exampleCopy(t, ""))
		for _, ep := range s.endpoints() {
			for _, tc := range []struct {
				name string
				m    *dns.Msg
			}{
				{"CH version.bind REFUSED", chq("version.bind.", dns.ClassCHAOS)},
				{"CH id.server REFUSED", chq("id.server.", dns.ClassCHAOS)},
				{"CH in-zone name REFUSED", chq(name("www"), dns.ClassCHAOS)},
				{"HS in-zone name REFUSED", chq(name("www"), dns.ClassHESIOD)},
			} {
				t.Run(ep.String()+"/"+tc.name, func(t *testing.T) {
					t.Parallel()
					r := exchange(t, ep.net, ep.addr, tc.m)
					wantEcho(t, tc.m, r)
					refused(t, r)
				})
			}
		}
	})
	t.Run("with chaos", func(t *testing.T) {
		t.Parallel()
		cfg := exampleCopy(t, "\n[chaos]\nversion = \"dnsrr-itest\"\nid = \"itest-ns\"\n")
		s := startServer(t, "-config", cfg)
		for _, ep := range s.endpoints() {
			for _, tc := range []struct {
				qname, want string
			}{
				{"version.bind.", "dnsrr-itest"},
				{"VERSION.Bind.", "dnsrr-itest"},
				{"version.server.", "dnsrr-itest"},
				{"hostname.bind.", "itest-ns"},
				{"id.server.", "itest-ns"},
			} {
				t.Run(ep.String()+"/CH TXT "+tc.qname, func(t *testing.T) {
					t.Parallel()
					m := chq(tc.qname, dns.ClassCHAOS)
					r := exchange(t, ep.net, ep.addr, m)
					wantEcho(t, m, r)
					wantRcode(t, r, dns.RcodeSuccess)
					if len(r.Answer) != 1 {
						t.Fatalf("want one TXT, got %v", r.Answer)
					}
					txt, ok := r.Answer[0].(*dns.TXT)
					if !ok || txt.Hdr.Class != dns.ClassCHAOS || !strings.EqualFold(txt.Hdr.Name, tc.qname) {
						t.Fatalf("answer %v, want CH TXT at %s", r.Answer[0], tc.qname)
					}
					if got := strings.Join(txt.Txt, ""); got != tc.want {
						t.Errorf("TXT %q, want %q", got, tc.want)
					}
				})
			}
			t.Run(ep.String()+"/IN version.bind REFUSED", func(t *testing.T) {
				t.Parallel()
				m := newQuery("version.bind.", dns.TypeTXT)
				r := exchange(t, ep.net, ep.addr, m)
				wantEcho(t, m, r)
				refused(t, r)
			})
		}
	})
}

// exampleCopy writes a config next to a copy of the example zone in a temp
// dir, with extra appended, and returns the config path. Tests that need a
// config variant use it rather than editing the shipped one.
func exampleCopy(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "zones/lb.example.test.toml", readFile(t, exampleZone()))
	return writeFile(t, dir, "dnsrr.toml", "listen = [\"127.0.0.1:0\"]\nzones = [\"zones/*.toml\"]\n"+extra)
}

// TestANY: RFC 8482 lets a server answer ANY with one RRset of the name,
// or a synthesised HINFO, instead of everything it has.
func TestANY(t *testing.T) {
	t.Parallel()
	s := startExample(t)
	for _, ep := range s.endpoints() {
		for _, qname := range []string{origin, name("www"), name("mail"), name("_imaps._tcp")} {
			t.Run(ep.String()+"/"+qname, func(t *testing.T) {
				t.Parallel()
				m := newQuery(qname, dns.TypeANY)
				r := exchange(t, ep.net, ep.addr, m)
				wantEcho(t, m, r)
				wantRcode(t, r, dns.RcodeSuccess)
				wantAA(t, r, true)
				if len(r.Answer) == 0 {
					t.Fatalf("empty answer to ANY for an existing name: %v", r)
				}
				rrtype := r.Answer[0].Header().Rrtype
				for _, rr := range r.Answer {
					if rr.Header().Rrtype != rrtype || !strings.EqualFold(rr.Header().Name, qname) {
						t.Fatalf("ANY answer holds more than one RRset: %v", r.Answer)
					}
				}
				if rrtype == dns.TypeHINFO {
					return
				}
				// A real RRset must be whole: compare with a direct query.
				full := exchange(t, ep.net, ep.addr, newQuery(qname, rrtype))
				if g, w := canonSet(r.Answer), canonSet(full.Answer); strings.Join(g, "\n") != strings.Join(w, "\n") {
					t.Errorf("ANY returned part of the %s RRset:\n got  %q\n want %q", dns.TypeToString[rrtype], g, w)
				}
			})
		}
		t.Run(ep.String()+"/NXDOMAIN", func(t *testing.T) {
			t.Parallel()
			m := newQuery(name("nope"), dns.TypeANY)
			r := exchange(t, ep.net, ep.addr, m)
			wantEcho(t, m, r)
			wantNegative(t, r, dns.RcodeNameError)
		})
	}
}

// TestZoneTransfer: without [transfer], AXFR and IXFR are refused
// on either transport (RFC 5936 allows refusing by policy).
func TestZoneTransfer(t *testing.T) {
	t.Parallel()
	s := startExample(t)
	for _, ep := range s.endpoints() {
		for _, qtype := range []uint16{dns.TypeAXFR, dns.TypeIXFR} {
			t.Run(ep.String()+"/"+dns.TypeToString[qtype], func(t *testing.T) {
				t.Parallel()
				m := newQuery(origin, qtype)
				if qtype == dns.TypeIXFR {
					// RFC 1995 3: the client's SOA in authority.
					soa, _ := dns.NewRR(exampleSOA)
					m.Ns = []dns.RR{soa}
				}
				r := exchange(t, ep.net, ep.addr, m)
				wantEcho(t, m, r)
				refused(t, r)
			})
		}
	}
}
