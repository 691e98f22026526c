package zones

import (
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// sameZone checks that two zones hold the same data as a resolver sees it:
// the same nodes (empty non-terminals included), cuts and wildcards, and
// per type the same TTL, records, additional data and negative SOA,
// compared order-insensitively on the wire. Master files carry no pool
// order, so Order is compared only where the TOML zone (a) asks for the
// default, random.
func sameZone(t *testing.T, a, b *Zone) {
	t.Helper()
	if a.Origin != b.Origin || a.Serial != b.Serial {
		t.Errorf("origin/serial %s %d vs %s %d", a.Origin, a.Serial, b.Origin, b.Serial)
	}
	if a.Names != b.Names || a.Pools != b.Pools || a.Records != b.Records {
		t.Errorf("counts names/pools/records %d/%d/%d vs %d/%d/%d", a.Names, a.Pools, a.Records, b.Names, b.Pools, b.Records)
	}
	if got, want := wires(t, b.Negative), wires(t, a.Negative); !equalStrings(got, want) {
		t.Errorf("negative SOA %v vs %v", a.Negative, b.Negative)
	}
	names := func(z *Zone) []string {
		var out []string
		for n := range z.nodes {
			out = append(out, n)
		}
		sort.Strings(out)
		return out
	}
	if an, bn := names(a), names(b); !equalStrings(an, bn) {
		t.Fatalf("nodes differ:\n%q\n%q", an, bn)
	}
	for _, name := range names(a) {
		na, nb := a.Node(name), b.Node(name)
		if na.Cut != nb.Cut || (na.Wildcard == nil) != (nb.Wildcard == nil) {
			t.Errorf("%s: cut %v/%v wildcard %v/%v", name, na.Cut, nb.Cut, na.Wildcard != nil, nb.Wildcard != nil)
		}
		if setTypes(na) != setTypes(nb) {
			t.Errorf("%s: types %q vs %q", name, setTypes(na), setTypes(nb))
			continue
		}
		for _, sa := range na.Sets {
			sb := nb.Get(sa.Type)
			what := name + " " + dns.TypeToString[sa.Type]
			if sa.TTL != sb.TTL {
				t.Errorf("%s: TTL %d vs %d", what, sa.TTL, sb.TTL)
			}
			if !equalStrings(wires(t, sa.Records()), wires(t, sb.Records())) {
				t.Errorf("%s: records differ:\n%v\n%v", what, sa.Records(), sb.Records())
			}
			if !equalStrings(wires(t, sa.Additional), wires(t, sb.Additional)) {
				t.Errorf("%s: additional differs:\n%v\n%v", what, sa.Additional, sb.Additional)
			}
			if sa.Order == OrderRandom && sb.Order != OrderRandom {
				t.Errorf("%s: order %v vs %v", what, sa.Order, sb.Order)
			}
			if sa.Shuffled() != sb.Shuffled() && sa.Order == OrderRandom {
				t.Errorf("%s: shuffled %v vs %v", what, sa.Shuffled(), sb.Shuffled())
			}
		}
	}
}

// TestTwinFormats: both formats load the same data into the same snapshot.
func TestTwinFormats(t *testing.T) {
	tests := []struct {
		name, toml, master, origin string
	}{
		{"example", exampleTOML, exampleMaster, exampleOrigin},
		{"escapes", "testdata/twins/escapes.toml", "testdata/twins/escapes.zone", "twin.test."},
		// HINFO, LOC, URI, RP, DNAME, RFC 3597 generic data, TXT
		// character-strings with escapes, escaped owner names.
		{"rdata", "testdata/twins/rdata.toml", "testdata/twins/rdata.zone", "rdata.test."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := zoneOf(t, mustLoad(t, tt.toml), tt.origin)
			b := zoneOf(t, mustLoad(t, tt.master), tt.origin)
			sameZone(t, a, b)
		})
	}
}

// TestExampleMasterOrders: a master file has no order, so every pool of
// the twin is random, cdn and static included.
func TestExampleMasterOrders(t *testing.T) {
	z := zoneOf(t, mustLoad(t, exampleMaster), exampleOrigin)
	for _, n := range []string{"@", "www", "api", "cdn", "static", "*.apps"} {
		name := exampleOrigin
		if n != "@" {
			name = n + "." + exampleOrigin
		}
		if s := rrset(t, z, name, dns.TypeA); s.Order != OrderRandom || !s.Shuffled() {
			t.Errorf("%s: order %v", name, s.Order)
		}
	}
	if z.File != exampleMaster {
		t.Errorf("File = %q", z.File)
	}
}

// TestMasterFiles covers what the master loader adds to miekg/dns's parser:
// the origin is the SOA owner, duplicates are folded as BIND and NSD do,
// address RRsets become random pools.
func TestMasterFiles(t *testing.T) {
	const soa = "@ IN SOA ns.other.test. hostmaster 1 3600 900 1209600 60\n@ IN NS ns.other.test.\n"
	tests := []struct {
		name, file, src, origin string
		check                   func(t *testing.T, z *Zone)
	}{
		{"origin from the file name when there is no $ORIGIN", "m.test.zone", "$TTL 60\n" + soa + "www IN A 192.0.2.1\n", "m.test.",
			func(t *testing.T, z *Zone) {
				wantSet(t, z, "www.m.test.", dns.TypeA, 60, "192.0.2.1")
			}},
		{"origin from db.NAME", "db.m.test", "$TTL 60\n" + soa, "m.test.", nil},
		{"origin is the SOA owner, not the file name", "other.zone", "$ORIGIN m.test.\n$TTL 60\n" + soa, "m.test.", nil},
		{"upper-case owners are folded", "m.zone", "$ORIGIN M.Test.\n$TTL 60\n" + soa + "WWW IN A 192.0.2.1\n", "m.test.",
			func(t *testing.T, z *Zone) {
				wantSet(t, z, "www.m.test.", dns.TypeA, 60, "192.0.2.1")
			}},
		{"duplicates are folded", "m.zone", "$ORIGIN m.test.\n$TTL 60\n" + soa + soa +
			"www IN A 192.0.2.1\nwww IN A 192.0.2.2\nwww 60 IN A 192.0.2.1\n", "m.test.",
			func(t *testing.T, z *Zone) {
				wantSet(t, z, "www.m.test.", dns.TypeA, 60, "192.0.2.1", "192.0.2.2")
				if z.Records != 4 {
					t.Errorf("Records = %d, want 4 (SOA, NS, 2 A)", z.Records)
				}
			}},
		{"an address RRset is a random pool", "m.zone", "$ORIGIN m.test.\n$TTL 60\n" + soa +
			"www IN A 192.0.2.1\nwww IN A 192.0.2.2\nwww IN AAAA 2001:db8::1\nwww IN AAAA 2001:db8::2\n", "m.test.",
			func(t *testing.T, z *Zone) {
				a := wantSet(t, z, "www.m.test.", dns.TypeA, 60, "192.0.2.1", "192.0.2.2")
				aaaa := wantSet(t, z, "www.m.test.", dns.TypeAAAA, 60, "2001:db8::1", "2001:db8::2")
				if a.Order != OrderRandom || aaaa.Order != OrderRandom || z.Pools != 1 {
					t.Errorf("orders %v %v pools %d", a.Order, aaaa.Order, z.Pools)
				}
			}},
		{"multi-line records in parentheses", "m.zone", "$ORIGIN m.test.\n$TTL 60\n@ IN SOA ns.other.test. hostmaster (\n  7 ; serial\n  3600 900 1209600\n  30 )\n@ IN NS ns.other.test.\n", "m.test.",
			func(t *testing.T, z *Zone) {
				if z.Serial != 7 || z.Negative[0].Header().Ttl != 30 {
					t.Errorf("serial %d negative TTL %d", z.Serial, z.Negative[0].Header().Ttl)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := zoneOf(t, mustLoad(t, writeFile(t, tt.file, tt.src)), tt.origin)
			if tt.check != nil {
				tt.check(t, z)
			}
		})
	}
}

// TestMasterParseErrorLine: a parse error carries the line of the bad
// record, however far down the file it is.
func TestMasterParseErrorLine(t *testing.T) {
	var b strings.Builder
	b.WriteString("$ORIGIN m.test.\n$TTL 60\n@ IN SOA ns.other.test. hostmaster 1 3600 900 1209600 60\n@ IN NS ns.other.test.\n")
	for i := 0; i < 95; i++ {
		b.WriteString("www IN A 192.0.2.1\n")
	}
	b.WriteString("mail IN MX ten mail\n") // line 100
	p := writeFile(t, "m.zone", b.String())
	_, err := Load([]string{p})
	got := errorStrings(err)
	if len(got) != 1 || !strings.HasPrefix(got[0], p+":100: ") || !strings.Contains(got[0], `"ten"`) {
		t.Errorf("errors %q, want one at %s:100 quoting the bad token", got, p)
	}
}
