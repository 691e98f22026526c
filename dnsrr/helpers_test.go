package dnsrr_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/zones"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// The test zones. rr.test holds one name per rule of issue 3 ("Answers",
// "Shuffling"); kid.rr.test is a child zone we also serve (DS at its cut is
// answered by the parent, RFC 4035 §3.1.4.1); other.test has an SOA TTL
// below its minimum, so both sides of min(SOA TTL, minimum) are tested
// (RFC 2308 §3).
const (
	testOrigin = "rr.test."

	rrTestZone = `
origin = "rr.test."
ttl = 300
ns = ["ns1", "ns2"]
ns_ttl = 3600

[soa]
mname   = "ns1"
rname   = "hostmaster"
serial  = 2026010101
refresh = 3600
retry   = 900
expire  = 1209600
minimum = 60
ttl     = 3600

[pools.www]                 # the 4-address pool of the shuffle tests
addresses = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]
ttl = 30

[pools.dual]
addresses = ["192.0.2.5", "2001:db8::5", "192.0.2.6", "2001:db8::6"]
ttl = 40

[pools.cyc]
addresses = ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"]
ttl = 30
order = "cyclic"

[pools.fix]
addresses = ["198.51.100.11", "198.51.100.12", "198.51.100.13", "198.51.100.14"]
ttl = 30
order = "fixed"

[pools."*.wild"]
addresses = ["192.0.2.80", "192.0.2.81"]
ttl = 30

%s

[records."@"]
mx  = ["10 mail"]
txt = ["v=spf1 -all"]

[records.ns1]
a = ["192.0.2.53"]

[records.ns2]
a    = ["192.0.2.54"]
aaaa = ["2001:db8::54"]

[records.mail]
a = ["192.0.2.25"]

[records.sip]
a = ["192.0.2.60"]

[records."_sip._tcp"]
srv = ["0 1 5060 sip"]

[records.heavy]              # MX whose targets' addresses overflow 512 bytes
mx = ["10 m1", "20 m2"]

[records.alias]
cname = "www"

[records.alias2]
cname = "alias"

[records.nd]
cname = "mail"

[records.dangling]
cname = "missing"

[records.tosub]
cname = "host.sub"

[records.out]
cname = "www.example.org."

[records.loop1]
cname = "loop2"

[records.loop2]
cname = "loop1"

[records."*.cw"]
cname = "www"

[records."host.wild"]
txt = ["exists"]

[records."a.blocked.wild"]
txt = ["deep"]

[records."a.b.ent"]
a = ["192.0.2.99"]

[records.ttlrec]
ttl = 120
txt = ["t"]
a   = { ttl = 7, data = ["192.0.2.7"] }

[records.sub]
ns = ["ns1.sub", "ns2.sub"]

[records."ns1.sub"]
a = ["192.0.2.201"]

[records."ns2.sub"]
aaaa = ["2001:db8::202"]

[records.kid]
ns = ["ns1.kid"]
ds = ["12345 13 2 3F1A6C0E1B9D4A2F8E7C5B3A1D0F9E8C7B6A5D4C3B2A1F0E9D8C7B6A5F4E3D2C"]

[records."ns1.kid"]
a = ["192.0.2.210"]

%s
`

	kidZone = `
origin = "kid.rr.test."
ttl = 300
ns = ["ns1"]

[soa]
serial  = 7
minimum = 60

[records."@"]
txt = ["child"]

[records.ns1]
a = ["192.0.2.210"]
`

	otherZone = `
origin = "other.test."
ttl = 300
ns = ["ns.rr.test."]

[soa]
mname   = "ns.rr.test."
serial  = 1
minimum = 600
ttl     = 30

[records.www]
a = ["192.0.2.100"]
`
)

// Large data for the size rules, generated so the zone text stays short:
// mid (12 addresses, ~220 bytes: fits 512), big (40, ~700 bytes: needs
// EDNS), huge (100, ~1650 bytes: needs TCP), m1/m2 (16 each: the MX
// additional section of heavy) and fat, a delegation to 16 name servers
// whose glue cannot fit 512 bytes.
const (
	midSize  = 12
	bigSize  = 40
	hugeSize = 100
	mxSize   = 16
	fatNS    = 16
)

func poolTOML(name string, n int, addr func(i int) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[pools.%s]\nttl = 30\naddresses = [\n", name)
	for i := range n {
		fmt.Fprintf(&b, "  %q,\n", addr(i))
	}
	b.WriteString("]\n\n")
	return b.String()
}

func v4(a, b int) func(int) string {
	return func(i int) string { return fmt.Sprintf("10.%d.%d.%d", a, b+i/250, 1+i%250) }
}

func generatedPools() string {
	return poolTOML("mid", midSize, v4(1, 0)) +
		poolTOML("big", bigSize, v4(2, 0)) +
		poolTOML("huge", hugeSize, v4(3, 0)) +
		poolTOML("m1", mxSize, v4(4, 0)) +
		poolTOML("m2", mxSize, v4(5, 0))
}

func generatedRecords() string {
	var b strings.Builder
	b.WriteString("[records.fat]\nns = [")
	for i := range fatNS {
		fmt.Fprintf(&b, "%q, ", fmt.Sprintf("ns%02d.fat", i))
	}
	b.WriteString("]\n\n")
	for i := range fatNS {
		fmt.Fprintf(&b, "[records.\"ns%02d.fat\"]\na = [\"10.6.0.%d\"]\n\n", i, i+1)
	}
	return b.String()
}

// addrs returns the presentation form of a generated pool's records.
func addrs(owner string, n int, addr func(int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s 30 IN A %s", owner, addr(i))
	}
	return out
}

// writeZones writes the test zones to a fresh directory and returns their
// files.
func writeZones(tb testing.TB) []string {
	tb.Helper()
	dir := tb.TempDir()
	files := map[string]string{
		"rr.test.toml":     fmt.Sprintf(rrTestZone, generatedPools(), generatedRecords()),
		"kid.rr.test.toml": kidZone,
		"other.test.toml":  otherZone,
	}
	var out []string
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			tb.Fatal(err)
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// loadSnapshot loads the test zones (or the given files).
func loadSnapshot(tb testing.TB, files ...string) *zones.Snapshot {
	tb.Helper()
	if len(files) == 0 {
		files = writeZones(tb)
	}
	snap, err := zones.Load(files)
	if err != nil {
		tb.Fatalf("load zones: %v", err)
	}
	return snap
}

// testChaos is the CH-class configuration of servers that answer it.
var testChaos = dnsrr.Chaos{Version: "dnsrr-test-1.0", ID: "test-host-1"}

// newServer builds a server for the test zones. It never listens: tests
// call ServeDNS directly. Each call gets its own snapshot, so cyclic pool
// counters do not leak between tests.
func newServer(tb testing.TB, chaos dnsrr.Chaos) *dnsrr.Server {
	tb.Helper()
	return dnsrr.New(nil, chaos, loadSnapshot(tb), zerolog.Nop())
}

// fakeWriter is a dns.ResponseWriter that records what the handler
// writes. Its LocalAddr type is what ServeDNS looks at to choose UDP
// (size-limited) or TCP (complete) behaviour.
type fakeWriter struct {
	tcp    bool
	writes [][]byte
}

var (
	serverUDP = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
	serverTCP = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
	clientUDP = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 40000}
	clientTCP = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 40000}
)

func (w *fakeWriter) LocalAddr() net.Addr {
	if w.tcp {
		return serverTCP
	}
	return serverUDP
}

func (w *fakeWriter) RemoteAddr() net.Addr {
	if w.tcp {
		return clientTCP
	}
	return clientUDP
}

func (w *fakeWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func (w *fakeWriter) Write(b []byte) (int, error) {
	w.writes = append(w.writes, slices.Clone(b))
	return len(b), nil
}

func (w *fakeWriter) Close() error        { return nil }
func (w *fakeWriter) TsigStatus() error   { return nil }
func (w *fakeWriter) TsigTimersOnly(bool) {}
func (w *fakeWriter) Hijack()             {}

// serveRaw hands wire bytes to ServeDNS the way miekg/dns does (unpack,
// then call the handler) and returns what was written.
func serveRaw(s *dnsrr.Server, wire []byte, tcp bool) ([][]byte, error) {
	req := new(dns.Msg)
	if err := req.Unpack(wire); err != nil {
		return nil, fmt.Errorf("unpack query: %w", err)
	}
	w := &fakeWriter{tcp: tcp}
	s.ServeDNS(w, req)
	return w.writes, nil
}

// transport is a way a query reaches the server.
type transport int

const (
	// udpWire is the production UDP path: the UDP workers hand the raw
	// datagram to answerUDP (fast path, then the full path).
	udpWire transport = iota
	// udpHandler is ServeDNS with a UDP writer: the full path with UDP
	// size limits, as any dns.Handler caller would use it.
	udpHandler
	// tcpHandler is ServeDNS with a TCP writer, as any dns.Handler caller
	// on TCP would use it: no size limit below 64 KiB.
	tcpHandler
	// udpFast is the UDP fast path alone: no reply when it declines a
	// query, so a test over it proves the fast path answered.
	udpFast
	// tcpWire is the production TCP path: the connection loop hands each
	// framed query to the same code as UDP (fast path, then the full
	// path) with TCP's 64 KiB size.
	tcpWire
)

var allTransports = []transport{udpWire, udpHandler, tcpHandler, tcpWire}

func (tr transport) String() string {
	return [...]string{"udp", "udp-handler", "tcp", "udp-fast", "tcp-wire"}[tr]
}

func (tr transport) tcp() bool { return tr == tcpHandler || tr == tcpWire }

// exchange sends q through the wire format to s over tr and returns the one
// reply and its size on the wire.
func exchange(tb testing.TB, s *dnsrr.Server, q *dns.Msg, tr transport) (*dns.Msg, int) {
	tb.Helper()
	r, n, err := tryExchange(s, q, tr)
	if err != nil {
		tb.Fatal(err)
	}
	return r, n
}

// tryExchange is exchange for goroutines other than the test's, which
// must not call Fatal.
func tryExchange(s *dnsrr.Server, q *dns.Msg, tr transport) (*dns.Msg, int, error) {
	wire, err := q.Pack()
	if err != nil {
		return nil, 0, fmt.Errorf("pack query: %w", err)
	}
	var out []byte
	switch tr {
	case udpWire:
		if out = s.AnswerUDP(wire); out == nil {
			return nil, 0, fmt.Errorf("no reply over %v", tr)
		}
	case udpFast:
		if out = s.AnswerUDPFast(wire); out == nil {
			return nil, 0, fmt.Errorf("the fast path declined %v", q.Question)
		}
	case tcpWire:
		if out = s.AnswerTCP(wire); out == nil {
			return nil, 0, fmt.Errorf("no reply over %v", tr)
		}
	default:
		writes, err := serveRaw(s, wire, tr.tcp())
		if err != nil {
			return nil, 0, err
		}
		if len(writes) != 1 {
			return nil, 0, fmt.Errorf("handler wrote %d messages over %v, want 1", len(writes), tr)
		}
		out = writes[0]
	}
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil {
		return nil, 0, fmt.Errorf("unpack reply over %v: %w", tr, err)
	}
	return r, len(out), nil
}

// newQuery is what a stub sends: one IN question, RD set, no EDNS.
func newQuery(qname string, qtype uint16) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(qname, qtype)
	q.Id = 0xbeef
	return q
}

// withEDNS adds an OPT with the given payload; flags and options may be
// changed through the returned OPT.
func withEDNS(q *dns.Msg, payload uint16) *dns.OPT {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(payload)
	q.Extra = append(q.Extra, o)
	return o
}

// canon renders rr in presentation form, lower-cased: names compare
// case-insensitively (RFC 4343), and the case a server answers in is its
// own choice (the UDP fast path compresses names into the question, so
// they take the client's case). The test data has no upper-case text.
func canon(rr dns.RR) string {
	return strings.ToLower(rr.String())
}

// canonSection renders a section, OPT left out, sorted: a multiset, so
// comparisons ignore order but not duplicates.
func canonSection(rrs []dns.RR) []string {
	out := []string{}
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, canon(rr))
		}
	}
	slices.Sort(out)
	return out
}

// canonWant parses expected records given in presentation form.
func canonWant(tb testing.TB, want []string) []string {
	tb.Helper()
	out := []string{}
	for _, s := range want {
		rr, err := dns.NewRR(s)
		if err != nil || rr == nil {
			tb.Fatalf("test data %q: %v", s, err)
		}
		out = append(out, canon(rr))
	}
	slices.Sort(out)
	return out
}

// wantSection fails unless the section holds exactly want, in any order.
func wantSection(tb testing.TB, section string, got []dns.RR, want []string) {
	tb.Helper()
	g, w := canonSection(got), canonWant(tb, want)
	if !slices.Equal(g, w) {
		tb.Errorf("%s section:\n got  %s\n want %s", section, strings.Join(g, "\n      "), strings.Join(w, "\n      "))
	}
}

// countOPT counts OPT pseudo-RRs in the additional section.
func countOPT(m *dns.Msg) int {
	n := 0
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			n++
		}
	}
	return n
}

// name qualifies a label in the test zone.
func name(label string) string {
	if label == "" || label == "@" {
		return testOrigin
	}
	return label + "." + testOrigin
}
