package dnsrr

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dnsrr/dnsrr/zones"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

const stickyZone = `origin = "st.test."
ns = ["ns1.st.test."]

[soa]
serial = 1
minimum = 60

[records.ns1]
a = ["192.0.2.53"]

[pools.five]
addresses = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "2001:db8::1", "2001:db8::2"]
sticky = "client"

[pools.four]   # five without 192.0.2.3
addresses = ["192.0.2.1", "192.0.2.2", "192.0.2.4", "192.0.2.5"]
sticky = "client"

[pools.two]
addresses = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"]
sticky = "client"
max_answers = 2

[pools.plain]
addresses = ["192.0.2.1", "192.0.2.2"]
`

func stickyServer(t testing.TB) *Server {
	t.Helper()
	return tomlServer(t, "st.test.toml", stickyZone)
}

// tomlServer serves one TOML zone, written to a file named name.
func tomlServer(t testing.TB, name, zone string) *Server {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	snap, err := zones.Load([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	return New(nil, Chaos{}, snap, zerolog.Nop())
}

// ecsQuery asks for name with an ECS option of raw data (nil: none).
func ecsQuery(t testing.TB, name string, qtype uint16, ecs []byte) []byte {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, qtype)
	m.SetEdns0(1232, false)
	if ecs != nil {
		m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: ecs}}
	}
	pkt, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return pkt
}

// addresses answers pkt from client over one path and returns the
// addresses in answer order and the reply's ECS option (raw, nil if none).
func addresses(t testing.TB, s *Server, pkt []byte, client netip.Addr, path string) (addrs []string, ecs []byte, rcode int) {
	t.Helper()
	q := wireQuery{client: client}
	var out []byte
	if path == "full" {
		q.policy = s.policy.Load() // as answerPacket does
		out = s.answerSlow(pkt, make([]byte, 0, 4096), &q, true)
	} else {
		out = s.answerPacket(pkt, make([]byte, 0, 4096), &q, path == "udp")
	}
	m := new(dns.Msg)
	if err := m.Unpack(out); err != nil {
		t.Fatal(err)
	}
	for _, rr := range m.Answer {
		addrs = append(addrs, zones.AddrOf(rr).String())
	}
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_SUBNET); ok {
				ecs = []byte{byte(e.Family >> 8), byte(e.Family), e.SourceNetmask, e.SourceScope}
			}
		}
	}
	return addrs, ecs, m.Rcode
}

func TestStickySameClientSameOrder(t *testing.T) {
	s := stickyServer(t)
	for _, path := range []string{"udp", "tcp", "full"} {
		for c := range 50 {
			client := netip.AddrFrom4([4]byte{198, 51, byte(c), 7})
			pkt := ecsQuery(t, "five.st.test.", dns.TypeA, nil)
			first, _, _ := addresses(t, s, pkt, client, path)
			for range 5 {
				if got, _, _ := addresses(t, s, pkt, client, path); !slices.Equal(got, first) {
					t.Fatalf("%s: client %v got %v then %v", path, client, first, got)
				}
			}
			// Every path gives a client the same order.
			if udp, _, _ := addresses(t, s, pkt, client, "udp"); !slices.Equal(udp, first) {
				t.Fatalf("client %v: %s gives %v, udp %v", client, path, first, udp)
			}
		}
	}
}

// Removing one of N members moves only its clients: those whose first
// member was another keep it, and about 1/N of all clients move.
func TestStickyRemovalMovesOnlyItsClients(t *testing.T) {
	s := stickyServer(t)
	const clients = 4000
	moved := 0
	for c := range clients {
		client := netip.AddrFrom4([4]byte{10, byte(c >> 8), byte(c), 1})
		five, _, _ := addresses(t, s, ecsQuery(t, "five.st.test.", dns.TypeA, nil), client, "udp")
		four, _, _ := addresses(t, s, ecsQuery(t, "four.st.test.", dns.TypeA, nil), client, "udp")
		if five[0] == "192.0.2.3" {
			moved++
			continue
		}
		if four[0] != five[0] {
			t.Fatalf("client %v moved from %s to %s though %s still serves", client, five[0], four[0], five[0])
		}
	}
	// Binomial(4000, 1/5): mean 800, sd 25.3; ±6 sd has a false-alarm
	// rate far below 0.001.
	if moved < 800-152 || moved > 800+152 {
		t.Errorf("%d of %d clients had the removed member first; want about 1/5 (800)", moved, clients)
	}
	t.Logf("%d of %d clients moved (1/5: 800)", moved, clients)
}

func TestStickyECS(t *testing.T) {
	s := stickyServer(t)
	resolver := netip.MustParseAddr("192.0.2.250")
	for _, path := range []string{"udp", "full"} {
		// Two clients of one /24 behind the resolver get the same answer;
		// the reply's scope says /24 (of a /32 asked).
		a, ecs, _ := addresses(t, s, ecsQuery(t, "five.st.test.", dns.TypeA, []byte{0, 1, 32, 0, 203, 0, 113, 7}), resolver, path)
		b, _, _ := addresses(t, s, ecsQuery(t, "five.st.test.", dns.TypeA, []byte{0, 1, 32, 0, 203, 0, 113, 99}), resolver, path)
		if !slices.Equal(a, b) {
			t.Errorf("%s: two clients of one /24: %v and %v", path, a, b)
		}
		if !slices.Equal(ecs, []byte{0, 1, 32, 24}) {
			t.Errorf("%s: ECS echoed as %v; want family 1, source 32, scope 24", path, ecs)
		}
		// Source /16: scope /16.
		if _, ecs, _ := addresses(t, s, ecsQuery(t, "five.st.test.", dns.TypeA, []byte{0, 1, 16, 0, 203, 0}), resolver, path); !slices.Equal(ecs, []byte{0, 1, 16, 16}) {
			t.Errorf("%s: ECS /16 echoed as %v; want scope 16", path, ecs)
		}
		// A pool that is not sticky, or a name that is no pool: scope 0.
		for _, name := range []string{"plain.st.test.", "ns1.st.test.", "nope.st.test."} {
			if _, ecs, _ := addresses(t, s, ecsQuery(t, name, dns.TypeA, []byte{0, 1, 24, 0, 203, 0, 113}), resolver, path); !slices.Equal(ecs, []byte{0, 1, 24, 0}) {
				t.Errorf("%s %s: ECS echoed as %v; want scope 0", path, name, ecs)
			}
		}
		// IPv6 /64 asked: scope /56.
		v6 := []byte{0, 2, 64, 0, 0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4}
		if _, ecs, _ := addresses(t, s, ecsQuery(t, "five.st.test.", dns.TypeAAAA, v6), resolver, path); !slices.Equal(ecs, []byte{0, 2, 64, 56}) {
			t.Errorf("%s: ECS v6 echoed as %v; want scope 56", path, ecs)
		}
	}
	// Clients spread: many /24s reach every member first.
	firsts := map[string]int{}
	for c := range 500 {
		got, _, _ := addresses(t, s, ecsQuery(t, "five.st.test.", dns.TypeA, []byte{0, 1, 24, 0, 100, byte(c >> 8), byte(c)}), resolver, "udp")
		firsts[got[0]]++
	}
	if len(firsts) != 5 {
		t.Errorf("first members over 500 client networks: %v; want all 5", firsts)
	}
}

func TestECSMalformed(t *testing.T) {
	s := stickyServer(t)
	for _, ecs := range [][]byte{
		{0, 1, 33, 0, 1, 2, 3, 4, 5},  // source longer than IPv4
		{0, 1, 24, 8, 203, 0, 113},    // scope set in a query
		{0, 1, 24, 0, 203, 0},         // too few address bytes
		{0, 1, 24, 0, 203, 0, 113, 1}, // too many
		{0, 1, 20, 0, 203, 0, 0x7F},   // bits beyond the prefix
		{0, 3, 0, 0},                  // unknown family
		{0, 1, 24},                    // cut short
	} {
		for _, path := range []string{"udp", "full"} {
			if _, _, rcode := addresses(t, s, ecsQuery(t, "five.st.test.", dns.TypeA, ecs), netip.MustParseAddr("192.0.2.1"), path); rcode != dns.RcodeFormatError {
				t.Errorf("%s: ECS %v: %s; want FORMERR", path, ecs, dns.RcodeToString[rcode])
			}
		}
	}
	// Source 0 (RFC 7871 §7.1.2: the client asks not to be located): fine.
	if _, ecs, rcode := addresses(t, s, ecsQuery(t, "five.st.test.", dns.TypeA, []byte{0, 1, 0, 0}), netip.MustParseAddr("192.0.2.1"), "udp"); rcode != dns.RcodeSuccess || !slices.Equal(ecs, []byte{0, 1, 0, 0}) {
		t.Errorf("ECS source 0: %s, echoed %v; want NOERROR, scope 0", dns.RcodeToString[rcode], ecs)
	}
}

func TestStickyMaxAnswers(t *testing.T) {
	s := stickyServer(t)
	for c := range 20 {
		client := netip.AddrFrom4([4]byte{10, 9, byte(c), 1})
		all, _, _ := addresses(t, s, ecsQuery(t, "five.st.test.", dns.TypeA, nil), client, "udp")
		two, _, _ := addresses(t, s, ecsQuery(t, "two.st.test.", dns.TypeA, nil), client, "full")
		if len(two) != 2 || two[0] != all[0] || two[1] != all[1] {
			t.Errorf("client %v: max_answers 2 gives %v; want the first two of %v", client, two, all)
		}
	}
}

func BenchmarkSticky(b *testing.B) {
	s := stickyServer(b)
	for _, ecs := range [][]byte{nil, {0, 1, 24, 0, 203, 0, 113}} {
		b.Run(fmt.Sprintf("ecs=%v", ecs != nil), func(b *testing.B) {
			pkt := ecsQuery(b, "five.st.test.", dns.TypeA, ecs)
			q := wireQuery{client: netip.MustParseAddr("192.0.2.1")}
			buf := make([]byte, 0, udpReadSize)
			b.ReportAllocs()
			for b.Loop() {
				if s.answerUDP(pkt, buf, &q) == nil {
					b.Fatal("no answer")
				}
			}
		})
	}
}
