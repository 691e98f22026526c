package zones

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dnsrr/dnsrr/zones/tomlfile"
	"github.com/miekg/dns"
)

// streamed loads text, named path, by the stream and by the whole-file
// parse, and checks that where the stream takes the file on, it makes what
// the whole-file parse makes: the same zone, or the same problems. It
// reports whether the stream took it on.
func streamed(t *testing.T, path string, text []byte, lim Limits) bool {
	t.Helper()
	lim = lim.WithDefaults()
	origin := originFromFileName(path)
	ms, ok := streamMaster(path, text, origin, lim, foreground())
	if !ok {
		return false
	}
	src, z, built := ms.finish()
	errs := &tomlfile.List{}
	wholeSrc, wholeZ, wholeBuilt := loadMasterWhole(path, text, origin, lim, errs, foreground())
	if wholeBuilt != nil {
		errs.Append(wholeBuilt.Sorted()...)
	}
	if got, want := problems(built), problems(errs); !slices.Equal(got, want) {
		t.Fatalf("%q: problems differ:\nstream: %q\nwhole:  %q", text, got, want)
	}
	if (z == nil) != (wholeZ == nil) {
		t.Fatalf("zone %v by the stream, %v whole", z != nil, wholeZ != nil)
	}
	if (src == nil) != (wholeSrc == nil) || src != nil && (src.origin != wholeSrc.origin || src.originLine() != wholeSrc.originLine()) {
		t.Fatalf("source %+v by the stream, %+v whole", src, wholeSrc)
	}
	if z != nil {
		identicalZones(t, z, wholeZ)
	}
	return true
}

func problems(l *tomlfile.List) []string {
	var out []string
	for _, e := range l.Sorted() {
		out = append(out, e.Error())
	}
	return out
}

// identicalZones checks that two zones are the same, down to the order of
// nodes, sets and records.
func identicalZones(t *testing.T, a, b *Zone) {
	t.Helper()
	if a.Origin != b.Origin || a.Serial != b.Serial || a.Names != b.Names || a.Pools != b.Pools || a.Records != b.Records {
		t.Fatalf("zones differ: %s", cmpSummary(a, b))
	}
	if !slices.Equal(wires(t, a.Negative), wires(t, b.Negative)) {
		t.Errorf("negative SOA %v vs %v", a.Negative, b.Negative)
	}
	if len(a.nodes) != len(b.nodes) {
		t.Fatalf("%d nodes vs %d", len(a.nodes), len(b.nodes))
	}
	for name, na := range a.nodes {
		nb := b.nodes[name]
		if nb == nil {
			t.Fatalf("node %s only in the stream's zone", name)
		}
		if na.ID != nb.ID || na.Cut != nb.Cut || (na.Wildcard == nil) != (nb.Wildcard == nil) || len(na.Sets) != len(nb.Sets) {
			t.Fatalf("%s: ID %d/%d cut %v/%v wildcard %v/%v sets %d/%d", name, na.ID, nb.ID, na.Cut, nb.Cut,
				na.Wildcard != nil, nb.Wildcard != nil, len(na.Sets), len(nb.Sets))
		}
		for i, sa := range na.Sets {
			sb := nb.Sets[i]
			what := name + " " + dns.TypeToString[sa.Type]
			if sa.Type != sb.Type || sa.TTL != sb.TTL || sa.Order != sb.Order || sa.Len() != sb.Len() || (sa.Pool == nil) != (sb.Pool == nil) {
				t.Fatalf("%s: type/TTL/order/records/pool %v/%v %d/%d %v/%v %d/%d %v/%v", what, sa.Type, sb.Type, sa.TTL, sb.TTL,
					sa.Order, sb.Order, sa.Len(), sb.Len(), sa.Pool != nil, sb.Pool != nil)
			}
			if !slices.Equal(wires(t, sa.Records()), wires(t, sb.Records())) {
				t.Errorf("%s: records differ:\n%v\n%v", what, sa.Records(), sb.Records())
			}
			if !slices.Equal(wires(t, sa.Additional), wires(t, sb.Additional)) {
				t.Errorf("%s: additional differs:\n%v\n%v", what, sa.Additional, sb.Additional)
			}
		}
	}
	if len(a.PoolDefs) != len(b.PoolDefs) {
		t.Fatalf("%d pools vs %d", len(a.PoolDefs), len(b.PoolDefs))
	}
	for i, p := range a.PoolDefs {
		if q := b.PoolDefs[i]; p.Name != q.Name || p.ID != q.ID || !slices.Equal(p.Members(), q.Members()) {
			t.Errorf("pool %d: %s %v vs %s %v", i, p.Name, p.Members(), q.Name, q.Members())
		}
	}
}

func cmpSummary(a, b *Zone) string { return a.Summary() + " vs " + b.Summary() }

// streamCases are master files in the forms the stream reads itself and
// those it hands to miekg/dns, mixed, with the state (origin, default TTL,
// previous owner) carried across them.
var streamCases = []struct {
	name, text string
	whole      bool // the stream gives it up: the whole-file parse reads it
}{
	{"plain", "$ORIGIN s.test.\n$TTL 300\n@ IN SOA ns1 h 1 2 3 4 5\n@ IN NS ns1\nns1 IN A 192.0.2.1\nwww 30 IN A 192.0.2.10\nwww 30 IN A 192.0.2.11\nwww 30 IN AAAA 2001:db8::1\n", false},
	{"no $TTL: TTLs inherited", "$ORIGIN s.test.\n@ 3600 IN SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\nw 60 A 192.0.2.2\nw A 192.0.2.3\nx IN MX 10 w\ny A 192.0.2.4\n", false},
	{"blank owners across runs", "$ORIGIN s.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n NS ns1\n A 192.0.2.9\nns1 A 192.0.2.1\n AAAA 2001:db8::53\n MX 10 ns1\n A 192.0.2.2\n TXT \"x\"\n A 192.0.2.3\n", false},
	{"class and TTL in both orders", "$ORIGIN s.test.\n@ IN 300 SOA ns1 h 1 2 3 4 5\n@ 300 IN NS ns1\nns1 IN 60 A 192.0.2.1\nns1 60 IN A 192.0.2.2\nns1 in a 192.0.2.3\nns1 60 a 192.0.2.4\nns1 A 192.0.2.5\n", false},
	{"case, CRLF, comments", "$ORIGIN S.Test.\r\n$TTL 60\r\n@ SOA NS1 h 1 2 3 4 5 ; the SOA\r\n@ NS ns1\r\nNS1 A 192.0.2.1;glued\r\nWWW.s.test. 30 In Aaaa 2001:DB8::A ; x\r\n\t; only a comment\r\n   \r\nwww 30 a 192.0.2.7\t\r\n", false},
	{"$ORIGIN and @", "$ORIGIN s.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n$ORIGIN sub\n@ A 192.0.2.2\nx A 192.0.2.3\n$ORIGIN s.test.\ny A 192.0.2.4\n$ORIGIN b.s.test.\n@ A 192.0.2.5\n", false},
	{"$TTL then own TTLs", "$ORIGIN s.test.\n$TTL 100\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\na 5 A 192.0.2.2\nb A 192.0.2.3\nc 7 MX 1 a\nd MX 2 a\ne A 192.0.2.4\n$TTL 200\nf A 192.0.2.5\n", false},
	{"TTL units and a multi-line SOA", "$ORIGIN s.test.\n$TTL 1h\n@ SOA ns1 h (\n 1 ; serial\n 2 3 4 5 )\n@ NS ns1\nns1 1m A 192.0.2.1\nns1 60 A 192.0.2.2\nw 2m A 192.0.2.3\nw A 192.0.2.4\n", false},
	{"records before the SOA", "$ORIGIN s.test.\n$TTL 60\nw A 192.0.2.1\nw A 192.0.2.2\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.3\n", false},
	{"v4-mapped, wildcard, underscores", "$ORIGIN s.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n* AAAA ::ffff:192.0.2.9\n*.w A 192.0.2.8\n_x._tcp A 192.0.2.7\nabs.s.test. A 192.0.2.6\n", false},
	{"duplicates folded", "$ORIGIN s.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\nw A 192.0.2.2\nw A 192.0.2.2\nw 60 IN A 192.0.2.2\nv AAAA 2001:db8::1\nv AAAA 2001:db8:0::1\n", false},
	{"a set written in two places", "$ORIGIN s.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\nw A 192.0.2.2\nx A 192.0.2.3\nw A 192.0.2.4\nw MX 1 x\nw A 192.0.2.5\n", false},
	{"zone problems", "$ORIGIN s.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\nw A 192.0.2.2\nw 30 A 192.0.2.3\nother.test. A 192.0.2.4\na.*.b A 192.0.2.5\nc CH A 192.0.2.6\nd 2147483648 A 192.0.2.7\nc CNAME w\nc A 192.0.2.8\n@ SOA ns2 h 2 2 3 4 5\n", false},
	{"no SOA", "$ORIGIN s.test.\n$TTL 60\nw A 192.0.2.2\nw MX 1 w\n", false},
	{"no owner yet", " A 192.0.2.1\n$ORIGIN s.test.\n@ 60 SOA ns1 h 1 2 3 4 5\n", true},
	{"no TTL yet", "$ORIGIN s.test.\n@ SOA ns1 h 1 2 3 4 5\nns1 A 192.0.2.1\n@ 60 NS ns1\n", true},
	{"syntax errors", "$ORIGIN s.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.01\nw A 256.0.0.1\nv AAAA fe80::1%eth0\nu AAAA 192.0.2.1\nt A ::1\n", true},
	{"$GENERATE", "$ORIGIN s.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\n$GENERATE 1-3 h$ A 192.0.2.$\nns1 A 192.0.2.1\n", true},
	{"$ORIGIN a type", "$ORIGIN s.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n$ORIGIN a\n", true},
	{"no newline at the end", "$ORIGIN s.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1", false},
	{"cut short", "$ORIGIN s.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\nwww IN A ", false},
	{"glue and delegations", "$ORIGIN s.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\nd NS ns.d\nns.d A 192.0.2.2\nns.d A 192.0.2.3\nx.d A 192.0.2.4\nm MX 1 ns1\n", false},
}

func TestStreamMatchesWholeParse(t *testing.T) {
	for _, c := range streamCases {
		t.Run(c.name, func(t *testing.T) {
			took := streamed(t, "s.test.zone", []byte(c.text), Limits{})
			if took == c.whole {
				t.Errorf("stream took the file on: %v, want %v", took, !c.whole)
			}
		})
	}
}

// Every master file the tests load, the stream reads as the whole-file
// parse does (or gives it up).
func TestStreamMatchesWholeParseOnTestdata(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/*.zone")
	files = append(files, exampleMaster, "../examples/master/lb.example.test.zone")
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(f, func(t *testing.T) { streamed(t, f, text, Limits{}) })
	}
}

// The record and name limits hold on the stream too.
func TestStreamLimits(t *testing.T) {
	head := "$ORIGIN s.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"
	var b strings.Builder
	b.WriteString(head)
	for i := range 12 {
		fmt.Fprintf(&b, "w%d A 192.0.2.%d\nw%d MX 1 ns1\n", i%5, i, i%5)
	}
	for _, lim := range []Limits{{MaxRecords: 20}, {MaxNames: 4}, {MaxRRsetRecords: 2}} {
		if !streamed(t, "s.test.zone", []byte(b.String()), lim) {
			t.Errorf("%+v: the stream gave the file up", lim)
		}
	}
}

// samePlain checks that the plain-line reader reads line as miekg/dns
// does, if it reads it, and that it reads it when want says so.
func samePlain(t *testing.T, line string, want bool) {
	t.Helper()
	var pl plainLine
	ours := readPlain([]byte(line), &pl)
	rr, err := dns.NewRR(line)
	switch {
	case ours && (err != nil || rr == nil):
		t.Errorf("%q: read, but miekg/dns: %v", line, err)
	case ours && (pl.ttl != rr.Header().Ttl || packedAddrString(rr) != netip.AddrFrom16(toV6(pl)).String()):
		t.Errorf("%q: TTL %d address %v, miekg/dns %v", line, pl.ttl, pl.addr, rr)
	case !ours && want:
		t.Errorf("%q: not read", line)
	}
}

// The plain-line reader takes an address exactly when miekg/dns does.
func TestReadPlainAddresses(t *testing.T) {
	for _, tok := range []string{"192.0.2.1", "0.0.0.0", "255.255.255.255", "01.2.3.4", "1.2.3", "1.2.3.4.5", "256.1.1.1",
		"1.2.3.4 ", "1..2.3", "::1", "2001:db8::1", "::ffff:1.2.3.4", "fe80::1%eth0", "1:2:3:4:5:6:7:8:9", "0x1.2.3.4", "1.2.3.-4"} {
		for _, typ := range []string{"A", "AAAA"} {
			line := "w 60 IN " + typ + " " + tok
			_, err := dns.NewRR(line)
			samePlain(t, line, err == nil)
		}
	}
}

// The plain-line reader takes a TTL exactly when miekg/dns does.
func TestReadPlainTTLs(t *testing.T) {
	for _, tok := range []string{"0", "010", "300", "4294967295", "1h", "1H30m", "2w", "1d1s"} {
		samePlain(t, "w "+tok+" IN A 192.0.2.1", true)
	}
	// Left to miekg/dns: not TTLs, or not in the forms read here.
	for _, tok := range []string{"4294967296", "99999999999", "1x", "h", "1.5"} {
		samePlain(t, "w "+tok+" IN A 192.0.2.1", false)
	}
}

func toV6(pl plainLine) [16]byte {
	if pl.typ == dns.TypeA {
		return netip.AddrFrom4([4]byte(pl.addr[:4])).As16()
	}
	return pl.addr
}

func packedAddrString(rr dns.RR) string {
	b, _ := packedAddr(rr)
	return netip.AddrFrom16([16]byte(net.IP(b).To16())).String()
}

// FuzzMasterStream: go test -run=^$ -fuzz=FuzzMasterStream ./zones/
// Whatever the stream takes on, it reads as the whole-file parse does.
func FuzzMasterStream(f *testing.F) {
	addSeeds(f, exampleMaster, "testdata/twins/*.zone", "testdata/bad/*.zone")
	for _, c := range streamCases {
		f.Add([]byte(c.text))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		streamed(t, "s.test.zone", data, fuzzLimits)
	})
}
