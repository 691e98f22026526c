package zones

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// wantSet checks one RRset: its TTL and its data in any order.
func wantSet(t *testing.T, z *Zone, name string, typ uint16, ttl uint32, data ...string) *RRset {
	t.Helper()
	s := rrset(t, z, name, typ)
	if s.TTL != ttl {
		t.Errorf("%s %s TTL = %d, want %d", name, dns.TypeToString[typ], s.TTL, ttl)
	}
	for _, rr := range s.Records() {
		if rr.Header().Ttl != s.TTL {
			t.Errorf("%s %s: record TTL %d differs from the set's %d", name, dns.TypeToString[typ], rr.Header().Ttl, s.TTL)
		}
	}
	want := append([]string(nil), data...)
	sortStrings(want)
	if got := rdatas(s.Records()); !equalStrings(got, want) {
		t.Errorf("%s %s data:\n got %q\nwant %q", name, dns.TypeToString[typ], got, want)
	}
	return s
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func soaOf(t *testing.T, z *Zone) *dns.SOA {
	t.Helper()
	if z.SOA == nil || len(z.SOA.Records()) != 1 {
		t.Fatalf("zone %s has no single SOA", z.Origin)
	}
	return z.SOA.Records()[0].(*dns.SOA)
}

// TestTOMLTopLevelKeys covers origin, ttl, ns, ns_ttl and every soa key,
// with their defaults.
func TestTOMLTopLevelKeys(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(t *testing.T, z *Zone)
	}{
		{"defaults", `origin = "z.test."
ns = ["ns1.other.test.", "ns2.other.test."]
[soa]
serial = 7
[records.www]
a = "192.0.2.1"
`, func(t *testing.T, z *Zone) {
			soa := soaOf(t, z)
			// The first NS is the primary; the mailbox is hostmaster@origin.
			if soa.Ns != "ns1.other.test." || soa.Mbox != "hostmaster.z.test." {
				t.Errorf("mname %q rname %q", soa.Ns, soa.Mbox)
			}
			if soa.Serial != 7 || z.Serial != 7 || soa.Refresh != 3600 || soa.Retry != 900 || soa.Expire != 1209600 || soa.Minttl != 300 {
				t.Errorf("SOA timers: %v", soa)
			}
			if soa.Hdr.Ttl != 3600 {
				t.Errorf("SOA TTL %d, want the default zone TTL 3600", soa.Hdr.Ttl)
			}
			wantSet(t, z, "z.test.", dns.TypeNS, 3600, "ns1.other.test.", "ns2.other.test.")
			wantSet(t, z, "www.z.test.", dns.TypeA, 3600, "192.0.2.1")
		}},
		{"every key set", `origin = "z.test."
ttl = 120
ns = ["ns1", "ns2.other.test."]
ns_ttl = 86400
[soa]
mname = "primary.other.test."
rname = "dns-admin.other.test."
serial = 4294967295
refresh = 1
retry = 2
expire = 3
minimum = 4
ttl = 5
[records.ns1]
a = "192.0.2.53"
`, func(t *testing.T, z *Zone) {
			soa := soaOf(t, z)
			if soa.Ns != "primary.other.test." || soa.Mbox != "dns-admin.other.test." {
				t.Errorf("mname %q rname %q", soa.Ns, soa.Mbox)
			}
			if soa.Serial != 4294967295 || soa.Refresh != 1 || soa.Retry != 2 || soa.Expire != 3 || soa.Minttl != 4 || soa.Hdr.Ttl != 5 {
				t.Errorf("SOA: %v", soa)
			}
			wantSet(t, z, "z.test.", dns.TypeNS, 86400, "ns1.z.test.", "ns2.other.test.")
			wantSet(t, z, "ns1.z.test.", dns.TypeA, 120, "192.0.2.53")
		}},
		{"origin without trailing dot, in upper case", `origin = "Z.Test"
ns = "ns.other.test."
[soa]
serial = 0
`, func(t *testing.T, z *Zone) {
			if z.Origin != "z.test." || z.Apex.Name != "z.test." {
				t.Errorf("origin %q apex %q", z.Origin, z.Apex.Name)
			}
			wantSet(t, z, "z.test.", dns.TypeNS, 3600, "ns.other.test.")
		}},
		{"rname in mail form", zoneHead[:len(zoneHead)-len("serial = 1\n")] + `serial = 1
rname = "hostmaster@example.test"
`, func(t *testing.T, z *Zone) {
			if got := soaOf(t, z).Mbox; got != "hostmaster.example.test." {
				t.Errorf("rname = %q", got)
			}
		}},
		{"rname in mail form with a dot in the local part", zoneHead + `rname = "first.last@example.test."
`, func(t *testing.T, z *Zone) {
			// RFC 1035 §8: a dot in the local part is escaped in the
			// mailbox name, so the first label is "first.last".
			if got := soaOf(t, z).Mbox; got != `first\.last.example.test.` {
				t.Errorf("rname = %q, want %q", got, `first\.last.example.test.`)
			}
		}},
		{"relative rname", zoneHead + `rname = "admin"
`, func(t *testing.T, z *Zone) {
			if got := soaOf(t, z).Mbox; got != "admin.z.test." {
				t.Errorf("rname = %q", got)
			}
		}},
		{"relative mname", zoneHead + `mname = "ns0"
`, func(t *testing.T, z *Zone) {
			if got := soaOf(t, z).Ns; got != "ns0.z.test." {
				t.Errorf("mname = %q", got)
			}
		}},
		{"negative TTL is the SOA TTL when smaller", zoneHead + `ttl = 60
minimum = 600
`, func(t *testing.T, z *Zone) {
			// RFC 2308 §3: min(SOA TTL, SOA MINIMUM).
			if n := z.Negative; len(n) != 1 || n[0].Header().Ttl != 60 || n[0].Header().Rrtype != dns.TypeSOA {
				t.Errorf("Negative = %v", n)
			}
			if soaOf(t, z).Hdr.Ttl != 60 {
				t.Error("the served SOA must keep its own TTL")
			}
		}},
		{"negative TTL is the minimum when smaller", zoneHead + `ttl = 600
minimum = 60
`, func(t *testing.T, z *Zone) {
			if n := z.Negative; len(n) != 1 || n[0].Header().Ttl != 60 {
				t.Errorf("Negative = %v", n)
			}
			if soaOf(t, z).Hdr.Ttl != 600 {
				t.Error("Negative must be a copy: the SOA itself keeps TTL 600")
			}
		}},
		{"zone TTL 0 and maximum", `origin = "z.test."
ttl = 0
ns = ["ns.other.test."]
ns_ttl = 2147483647
[soa]
serial = 1
[records.www]
a = "192.0.2.1"
`, func(t *testing.T, z *Zone) {
			wantSet(t, z, "www.z.test.", dns.TypeA, 0, "192.0.2.1")
			wantSet(t, z, "z.test.", dns.TypeNS, 2147483647, "ns.other.test.")
		}},
		{"root zone", `origin = "."
ns = ["a.root-servers.test."]
[soa]
serial = 1
[records."a.root-servers.test."]
a = "192.0.2.53"
[records.www]
a = "192.0.2.1"
`, func(t *testing.T, z *Zone) {
			wantSet(t, z, "www.", dns.TypeA, 3600, "192.0.2.1")
			if got := soaOf(t, z).Mbox; got != "hostmaster." {
				t.Errorf("rname = %q", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			origin := "z.test."
			if strings.HasPrefix(tt.src, `origin = "."`) {
				origin = "."
			}
			snap := mustLoad(t, writeFile(t, "zone.toml", tt.src))
			tt.check(t, zoneOf(t, snap, origin))
		})
	}
}

// TestTOMLPools covers every pool key: addresses (A and AAAA mixed), ttl,
// order, and owner names written as "@", relative or absolute.
func TestTOMLPools(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, z *Zone)
	}{
		{"mixed families, defaults", `[pools.www]
addresses = ["192.0.2.1", "2001:db8::1", "192.0.2.2", "2001:DB8::2"]
`, func(t *testing.T, z *Zone) {
			a := wantSet(t, z, "www.z.test.", dns.TypeA, 3600, "192.0.2.1", "192.0.2.2")
			aaaa := wantSet(t, z, "www.z.test.", dns.TypeAAAA, 3600, "2001:db8::1", "2001:db8::2")
			if a.Order != OrderRandom || aaaa.Order != OrderRandom || !a.Shuffled() || !aaaa.Shuffled() {
				t.Errorf("default order: A %v AAAA %v", a.Order, aaaa.Order)
			}
			// File order is kept in RRs: cyclic and fixed rotate from it.
			if got := a.Records()[0].(*dns.A).A.String(); got != "192.0.2.1" {
				t.Errorf("first A = %s", got)
			}
			if z.Pools != 1 {
				t.Errorf("Pools = %d, want 1", z.Pools)
			}
		}},
		{"ttl and order per pool", `[pools.c]
addresses = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
ttl = 30
order = "cyclic"
[pools.f]
addresses = ["192.0.2.3", "192.0.2.1"]
order = "fixed"
[pools.r]
addresses = ["192.0.2.1", "192.0.2.2"]
order = "random"
`, func(t *testing.T, z *Zone) {
			c := wantSet(t, z, "c.z.test.", dns.TypeA, 30, "192.0.2.1", "192.0.2.2", "192.0.2.3")
			f := wantSet(t, z, "f.z.test.", dns.TypeA, 3600, "192.0.2.1", "192.0.2.3")
			r := wantSet(t, z, "r.z.test.", dns.TypeA, 3600, "192.0.2.1", "192.0.2.2")
			if c.Order != OrderCyclic || f.Order != OrderFixed || r.Order != OrderRandom {
				t.Errorf("orders %v %v %v", c.Order, f.Order, r.Order)
			}
			if f.Shuffled() || !c.Shuffled() || !r.Shuffled() {
				t.Error("Shuffled: fixed must not be, cyclic and random must")
			}
			if got := f.Records()[0].(*dns.A).A.String(); got != "192.0.2.3" {
				t.Errorf("fixed pool lost file order: first is %s", got)
			}
			// Each response of a cyclic pool moves one step.
			for i, want := range []int{0, 1, 2, 0, 1} {
				if got := c.NextRotation(); got != want {
					t.Errorf("rotation %d = %d, want %d", i, got, want)
				}
			}
			if c.Order.String() != "cyclic" || f.Order.String() != "fixed" || r.Order.String() != "random" {
				t.Error("Order.String")
			}
			if z.Pools != 3 {
				t.Errorf("Pools = %d, want 3", z.Pools)
			}
		}},
		{"apex, absolute, upper-case and wildcard owners", `[pools."@"]
addresses = ["192.0.2.1", "192.0.2.2"]
[pools."abs.z.test."]
addresses = "192.0.2.3"
[pools.UPPER]
addresses = ["192.0.2.4"]
[pools."*.apps"]
addresses = ["192.0.2.5", "192.0.2.6"]
`, func(t *testing.T, z *Zone) {
			wantSet(t, z, "z.test.", dns.TypeA, 3600, "192.0.2.1", "192.0.2.2")
			one := wantSet(t, z, "abs.z.test.", dns.TypeA, 3600, "192.0.2.3")
			if one.Shuffled() {
				t.Error("a one-address pool has nothing to shuffle")
			}
			wantSet(t, z, "upper.z.test.", dns.TypeA, 3600, "192.0.2.4")
			wantSet(t, z, "*.apps.z.test.", dns.TypeA, 3600, "192.0.2.5", "192.0.2.6")
			apps := z.Node("apps.z.test.")
			if apps == nil || len(apps.Sets) != 0 {
				t.Fatalf("apps.z.test. must be an empty non-terminal node, got %+v", apps)
			}
			if apps.Wildcard == nil || apps.Wildcard.Name != "*.apps.z.test." {
				t.Errorf("apps Wildcard = %+v", apps.Wildcard)
			}
			if z.Apex.Wildcard != nil {
				t.Error("the apex has no wildcard child")
			}
			if z.Pools != 2 {
				t.Errorf("Pools = %d, want 2 (apex and *.apps)", z.Pools)
			}
		}},
		{"IPv4-mapped IPv6 is served as A", `[pools.m]
addresses = ["::ffff:192.0.2.7", "192.0.2.8"]
`, func(t *testing.T, z *Zone) {
			wantSet(t, z, "m.z.test.", dns.TypeA, 3600, "192.0.2.7", "192.0.2.8")
		}},
		{"pool and records at one name: other types beside the pool", `[pools.www]
addresses = ["192.0.2.1", "192.0.2.2"]
ttl = 30
[records.www]
ttl = 30
txt = "hello"
`, func(t *testing.T, z *Zone) {
			s := wantSet(t, z, "www.z.test.", dns.TypeA, 30, "192.0.2.1", "192.0.2.2")
			if s.Order != OrderRandom || s.Pool == nil {
				t.Errorf("order %v, pool %v", s.Order, s.Pool)
			}
			wantSet(t, z, "www.z.test.", dns.TypeTXT, 30, `"hello"`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustTOMLString(t, tt.body))
		})
	}
}

// TestTOMLRecordTypes loads one record of every type the README's table
// names and checks the data as miekg/dns prints it.
func TestTOMLRecordTypes(t *testing.T) {
	tests := []struct {
		key   string
		typ   uint16
		value string
		want  string
	}{
		{"a", dns.TypeA, "192.0.2.1", "192.0.2.1"},
		{"aaaa", dns.TypeAAAA, "2001:db8::1", "2001:db8::1"},
		{"cname", dns.TypeCNAME, "target", "target.z.test."},
		{"dname", dns.TypeDNAME, "other.test.", "other.test."},
		{"mx", dns.TypeMX, "10 mail.other.test.", "10 mail.other.test."},
		{"txt", dns.TypeTXT, "v=spf1 -all", `"v=spf1 -all"`},
		{"srv", dns.TypeSRV, "0 5 443 web.other.test.", "0 5 443 web.other.test."},
		{"caa", dns.TypeCAA, `0 issue "letsencrypt.org"`, `0 issue "letsencrypt.org"`},
		{"ptr", dns.TypePTR, "host.other.test.", "host.other.test."},
		{"sshfp", dns.TypeSSHFP, "4 2 " + strings.Repeat("0123456789abcdef", 4),
			"4 2 " + strings.Repeat("0123456789ABCDEF", 4)},
		{"tlsa", dns.TypeTLSA, "3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			"3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		{"naptr", dns.TypeNAPTR, `100 10 "S" "SIP+D2U" "" _sip._udp.other.test.`,
			`100 10 "S" "SIP+D2U" "" _sip._udp.other.test.`},
		{"https", dns.TypeHTTPS, `1 . alpn="h2,h3"`, `1 . alpn="h2,h3"`},
		{"svcb", dns.TypeSVCB, "1 svc.other.test. port=8443", `1 svc.other.test. port="8443"`},
		{"hinfo", dns.TypeHINFO, `"PC Intel" Linux`, `"PC Intel" "Linux"`},
		{"loc", dns.TypeLOC, "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
			"52 22 23.000 N 04 53 32.000 E -2m 0.00m 10000m 10m"},
		{"uri", dns.TypeURI, `10 1 "https://www.example.test/"`, `10 1 "https://www.example.test/"`},
		{"rp", dns.TypeRP, "admin.other.test. info", "admin.other.test. info.z.test."},
		{"spf", dns.TypeSPF, `"v=spf1 -all"`, `"v=spf1 -all"`},
		{"type65280", 65280, `\# 3 0a0b0c`, `\# 3 0a0b0c`},
		{"type1", dns.TypeA, "192.0.2.7", "192.0.2.7"},
	}
	covered := map[string]bool{"ns": true, "ds": true} // in TestTOMLDelegation
	for _, tt := range tests {
		covered[tt.key] = true
		t.Run(tt.key, func(t *testing.T) {
			z := mustTOMLString(t, "[records.x]\n"+tt.key+" = ['"+tt.value+"']\n")
			wantSet(t, z, "x.z.test.", tt.typ, 3600, tt.want)
		})
	}
	for _, key := range []string{"a", "aaaa", "cname", "dname", "mx", "ns", "txt", "srv", "caa", "ds",
		"ptr", "sshfp", "tlsa", "naptr", "https", "svcb", "hinfo", "loc", "uri", "rp"} {
		if !covered[key] {
			t.Errorf("record type %q has no test case", key)
		}
	}
}

// TestTOMLRecordValues covers the shapes a records value may take and how
// names inside data are qualified.
func TestTOMLRecordValues(t *testing.T) {
	long := strings.Repeat("0123456789", 60) // 600 bytes
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, z *Zone)
	}{
		{"owner ttl and per-set { ttl, data }", `[records.x]
ttl = 60
a = ["192.0.2.1", "192.0.2.2"]
txt = { ttl = 10, data = ["one", "two"] }
mx = { data = ["10 mx1", "20 mx2.other.test."] }
[records.mx1]
a = "192.0.2.25"
`, func(t *testing.T, z *Zone) {
			wantSet(t, z, "x.z.test.", dns.TypeA, 60, "192.0.2.1", "192.0.2.2")
			wantSet(t, z, "x.z.test.", dns.TypeTXT, 10, `"one"`, `"two"`)
			wantSet(t, z, "x.z.test.", dns.TypeMX, 60, "10 mx1.z.test.", "20 mx2.other.test.")
			wantSet(t, z, "mx1.z.test.", dns.TypeA, 3600, "192.0.2.25")
		}},
		{"@ and absolute owners, @ in data", `[records."@"]
mx = "0 @"
[records."abs.z.test."]
cname = "@"
[records."Mixed.Case"]
txt = "Keep Case"
`, func(t *testing.T, z *Zone) {
			wantSet(t, z, "z.test.", dns.TypeMX, 3600, "0 z.test.")
			wantSet(t, z, "abs.z.test.", dns.TypeCNAME, 3600, "z.test.")
			wantSet(t, z, "mixed.case.z.test.", dns.TypeTXT, 3600, `"Keep Case"`)
		}},
		{"TXT longer than 255 bytes is split", "[records.long]\ntxt = \"" + long + "\"\n", func(t *testing.T, z *Zone) {
			// RFC 1035 §3.3.14: a character-string is at most 255 bytes,
			// so a long value becomes several strings of one record.
			s := rrset(t, z, "long.z.test.", dns.TypeTXT)
			if len(s.Records()) != 1 {
				t.Fatalf("%d records, want 1", len(s.Records()))
			}
			txt := s.Records()[0].(*dns.TXT).Txt
			if len(txt) != 3 || len(txt[0]) != 255 || len(txt[1]) != 255 || len(txt[2]) != 90 || strings.Join(txt, "") != long {
				t.Errorf("split into %d strings", len(txt))
			}
			wires(t, s.Records()) // packs
		}},
		{"TXT of exactly 255 bytes is one string", "[records.t]\ntxt = \"" + long[:255] + "\"\n", func(t *testing.T, z *Zone) {
			if txt := rrset(t, z, "t.z.test.", dns.TypeTXT).Records()[0].(*dns.TXT).Txt; len(txt) != 1 {
				t.Errorf("split into %d strings", len(txt))
			}
		}},
		{"TXT is literal: quotes, backslashes, semicolons", `[records.t]
txt = ['say "hi"; \100 \', "", "é"]
`, func(t *testing.T, z *Zone) {
			s := rrset(t, z, "t.z.test.", dns.TypeTXT)
			// What goes on the wire is exactly the bytes written.
			want := map[string]bool{`say "hi"; \100 \`: true, "": true, "é": true}
			for _, rr := range s.Records() {
				buf := make([]byte, 512)
				n, err := dns.PackRR(rr, buf, 0, nil, false)
				if err != nil {
					t.Fatal(err)
				}
				rd := buf[len(rr.Header().Name)+1+10 : n] // after owner, type, class, TTL, length
				got := string(rd[1 : 1+int(rd[0])])
				if !want[got] {
					t.Errorf("TXT on the wire %q not among those written", got)
				}
				delete(want, got)
			}
			if len(want) != 0 {
				t.Errorf("missing %v", want)
			}
		}},
		{"MX and SRV carry in-zone target addresses as additional data", `[records."@"]
mx = ["10 mail", "20 mail.other.test."]
[records.mail]
a = "192.0.2.25"
aaaa = "2001:db8::25"
[records."_sip._tcp"]
srv = "0 0 5060 mail"
[records.ptr]
ptr = "mail"
`, func(t *testing.T, z *Zone) {
			mx := rrset(t, z, "z.test.", dns.TypeMX)
			if got := rdatas(mx.Additional); !equalStrings(got, []string{"192.0.2.25", "2001:db8::25"}) {
				t.Errorf("MX additional %q", got)
			}
			srv := rrset(t, z, "_sip._tcp.z.test.", dns.TypeSRV)
			if got := rdatas(srv.Additional); !equalStrings(got, []string{"192.0.2.25", "2001:db8::25"}) {
				t.Errorf("SRV additional %q", got)
			}
			if ptr := rrset(t, z, "ptr.z.test.", dns.TypePTR); len(ptr.Additional) != 0 {
				t.Errorf("PTR additional %v: only NS, MX and SRV get any", ptr.Additional)
			}
			if n := z.Node("_tcp.z.test."); n == nil || len(n.Sets) != 0 {
				t.Errorf("_tcp.z.test. must be an empty non-terminal, got %+v", n)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustTOMLString(t, tt.body))
		})
	}
}

// TestTOMLRecordValuesWithSpecials: presentation-form values may contain
// characters that are special in zone files when they are quoted, as real
// CAA and NAPTR records do.
func TestTOMLRecordValuesWithSpecials(t *testing.T) {
	tests := []struct {
		name  string
		key   string
		typ   uint16
		value string
	}{
		// RFC 8659 §4.2: issuer parameters are separated by ";".
		{"CAA with parameters", "caa", dns.TypeCAA,
			`0 issue "letsencrypt.org; validationmethods=dns-01"`},
		// RFC 3403 §4.1: the regexp field is an ERE with groups and anchors.
		{"NAPTR with a regexp", "naptr", dns.TypeNAPTR,
			`100 10 "u" "E2U+sip" "!^(.*)$!sip:\\1@example.test!" .`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z, err := loadTOMLString(t, "[records.x]\n"+tt.key+" = ['"+tt.value+"']\n")
			if err != nil {
				t.Fatalf("rejected a valid %s record:\n%s", tt.key, strings.Join(errorStrings(err), "\n"))
			}
			// The data must be what the same text means in a master file.
			rr, err := dns.NewRR("x.z.test. 3600 IN " + dns.TypeToString[tt.typ] + " " + tt.value)
			if err != nil {
				t.Fatalf("test value is not valid presentation form: %v", err)
			}
			wantSet(t, z, "x.z.test.", tt.typ, 3600, rdata(rr))
		})
	}
}

// TestTOMLDelegation covers NS below the apex (a cut), DS at the cut, glue,
// and the additional data of NS sets (RFC 1034 §4.2.1, RFC 4035 §2.4).
func TestTOMLDelegation(t *testing.T) {
	z := mustTOMLString(t, `[records."@"]
mx = "10 ns1.dev"
[records.dev]
ns = { ttl = 7200, data = ["ns1.dev", "ns2.dev", "ns.other.test."] }
ds = "12345 13 2 3F1A6C0E1B9D4A2F8E7C5B3A1D0F9E8C7B6A5D4C3B2A1F0E9D8C7B6A5F4E3D2C"
[records."ns1.dev"]
a = "192.0.2.1"
[records."ns2.dev"]
aaaa = "2001:db8::2"
[records."ns2.dev.z.test."]
a = "192.0.2.2"
`)
	dev := z.Node("dev.z.test.")
	if dev == nil || !dev.Cut {
		t.Fatalf("dev.z.test. must be a delegation point: %+v", dev)
	}
	ns := wantSet(t, z, "dev.z.test.", dns.TypeNS, 7200, "ns1.dev.z.test.", "ns2.dev.z.test.", "ns.other.test.")
	wantSet(t, z, "dev.z.test.", dns.TypeDS, 3600, "12345 13 2 3F1A6C0E1B9D4A2F8E7C5B3A1D0F9E8C7B6A5D4C3B2A1F0E9D8C7B6A5F4E3D2C")
	// Glue for a referral: every in-zone NS target's addresses.
	if got := rdatas(ns.Additional); !equalStrings(got, []string{"192.0.2.1", "192.0.2.2", "2001:db8::2"}) {
		t.Errorf("NS additional %q", got)
	}
	// An MX target below a cut is occluded: it is not ours to give out.
	if mx := rrset(t, z, "z.test.", dns.TypeMX); len(mx.Additional) != 0 {
		t.Errorf("MX additional %v holds occluded data", mx.Additional)
	}
	if z.Apex.Cut {
		t.Error("the apex is not a cut")
	}
	if d := z.Delegation("a.b.ns1.dev.z.test."); d != dev {
		t.Errorf("Delegation below the cut = %+v", d)
	}
	if d := z.Delegation("www.z.test."); d != nil {
		t.Errorf("Delegation of an authoritative name = %+v", d)
	}
	if d := z.Delegation("z.test."); d != nil {
		t.Errorf("Delegation of the apex = %+v", d)
	}
}

// TestTOMLApexNSAdditional: the apex NS set carries its in-zone addresses.
func TestTOMLApexNSAdditional(t *testing.T) {
	snap := mustLoad(t, writeFile(t, "z.toml", `origin = "z.test."
ns = ["ns1", "ns2", "ns3.other.test."]
[soa]
serial = 1
[records.ns1]
a = "192.0.2.1"
[records.ns2]
a = "192.0.2.2"
aaaa = "2001:db8::2"
`))
	z := zoneOf(t, snap, "z.test.")
	ns := rrset(t, z, "z.test.", dns.TypeNS)
	if got := rdatas(ns.Additional); !equalStrings(got, []string{"192.0.2.1", "192.0.2.2", "2001:db8::2"}) {
		t.Errorf("apex NS additional %q", got)
	}
	if soa := soaOf(t, z); soa.Ns != "ns1.z.test." {
		t.Errorf("mname defaults to the first NS, got %q", soa.Ns)
	}
}

// TestExampleTOML checks the shipped example in detail: what README
// promises a newcomer will see.
func TestExampleTOML(t *testing.T) {
	z := zoneOf(t, mustLoad(t, exampleTOML), exampleOrigin)
	if z.Serial != 2026112501 || z.File != exampleTOML {
		t.Errorf("serial %d file %q", z.Serial, z.File)
	}
	// 13 owner names, 7 names with more than one address (ns2 has an A and
	// an AAAA), 35 records.
	if z.Names != 13 || z.Pools != 6 || z.Records != 35 {
		t.Errorf("Names %d Pools %d Records %d, want 13 6 35 (ns2 has one address per family: not a pool)", z.Names, z.Pools, z.Records)
	}
	if want := "lb.example.test.: serial 2026112501, 13 names, 6 pools, 35 records"; z.Summary() != want {
		t.Errorf("Summary = %q, want %q", z.Summary(), want)
	}
	n := func(s string) string { return s + "." + exampleOrigin }
	wantSet(t, z, exampleOrigin, dns.TypeSOA, 3600, "ns1.lb.example.test. hostmaster.lb.example.test. 2026112501 3600 900 1209600 60")
	if z.Negative[0].Header().Ttl != 60 {
		t.Errorf("negative TTL %d, want min(3600, 60)", z.Negative[0].Header().Ttl)
	}
	wantSet(t, z, exampleOrigin, dns.TypeNS, 3600, n("ns1"), n("ns2"))
	wantSet(t, z, exampleOrigin, dns.TypeA, 30, "192.0.2.10", "192.0.2.11", "192.0.2.12")
	wantSet(t, z, exampleOrigin, dns.TypeMX, 300, "10 "+n("mail"))
	wantSet(t, z, exampleOrigin, dns.TypeTXT, 300, `"v=spf1 mx -all"`)
	wantSet(t, z, exampleOrigin, dns.TypeCAA, 300, `0 issue "letsencrypt.org"`)
	wantSet(t, z, n("www"), dns.TypeA, 30, "192.0.2.10", "192.0.2.11", "192.0.2.12")
	wantSet(t, z, n("www"), dns.TypeAAAA, 30, "2001:db8::10", "2001:db8::11")
	api := wantSet(t, z, n("api"), dns.TypeA, 30, "198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4")
	cdn := wantSet(t, z, n("cdn"), dns.TypeA, 30, "203.0.113.1", "203.0.113.2", "203.0.113.3")
	static := wantSet(t, z, n("static"), dns.TypeA, 30, "203.0.113.10", "203.0.113.11", "203.0.113.12")
	if api.Order != OrderRandom || cdn.Order != OrderCyclic || static.Order != OrderFixed {
		t.Errorf("orders api %v cdn %v static %v", api.Order, cdn.Order, static.Order)
	}
	wantSet(t, z, n("*.apps"), dns.TypeA, 30, "192.0.2.80", "192.0.2.81")
	if apps := z.Node(n("apps")); apps == nil || len(apps.Sets) != 0 || apps.Wildcard == nil {
		t.Errorf("apps must be an empty non-terminal with a wildcard: %+v", apps)
	}
	wantSet(t, z, n("docs"), dns.TypeCNAME, 300, n("www"))
	srv := wantSet(t, z, n("_imaps._tcp"), dns.TypeSRV, 300, "0 1 993 "+n("mail"))
	if got := rdatas(srv.Additional); !equalStrings(got, []string{"192.0.2.25"}) {
		t.Errorf("SRV additional %q", got)
	}
	if got := rdatas(rrset(t, z, exampleOrigin, dns.TypeMX).Additional); !equalStrings(got, []string{"192.0.2.25"}) {
		t.Errorf("MX additional %q", got)
	}
	if got := rdatas(rrset(t, z, exampleOrigin, dns.TypeNS).Additional); !equalStrings(got, []string{"192.0.2.53", "192.0.2.54", "2001:db8::53"}) {
		t.Errorf("NS additional %q", got)
	}
	dev := z.Node(n("dev"))
	if dev == nil || !dev.Cut {
		t.Fatal("dev must be a cut")
	}
	devNS := wantSet(t, z, n("dev"), dns.TypeNS, 3600, n("ns1.dev"))
	if got := rdatas(devNS.Additional); !equalStrings(got, []string{"192.0.2.100"}) {
		t.Errorf("dev glue %q", got)
	}
	wantSet(t, z, n("dev"), dns.TypeDS, 300, "12345 13 2 3F1A6C0E1B9D4A2F8E7C5B3A1D0F9E8C7B6A5D4C3B2A1F0E9D8C7B6A5F4E3D2C")
	if z.Node(n("nope")) != nil {
		t.Error("a name not in the zone has a node")
	}
}

// TestSnapshotFind: the longest origin that is a suffix wins; names outside
// every zone find none.
func TestSnapshotFind(t *testing.T) {
	parent := writeFile(t, "p.toml", `origin = "test."
ns = ["ns.other."]
[soa]
serial = 1
[records.sub]
ns = "ns.other."
`)
	child := writeFile(t, "c.toml", `origin = "sub.test."
ns = ["ns.other."]
[soa]
serial = 2
`)
	snap := mustLoad(t, child, parent)
	if zs := snap.Zones(); len(zs) != 2 || zs[0].Origin != "sub.test." || zs[1].Origin != "test." {
		t.Fatalf("Zones not sorted by origin: %v", zs)
	}
	tests := []struct{ name, want string }{
		{"www.sub.test.", "sub.test."},
		{"sub.test.", "sub.test."},
		{"other.test.", "test."},
		{"test.", "test."},
		{"example.", ""},
		{".", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := snap.Find(tt.name)
			got := ""
			if z != nil {
				got = z.Origin
			}
			if got != tt.want {
				t.Errorf("Find(%s) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestIsTOML(t *testing.T) {
	for name, want := range map[string]bool{
		"a.toml": true, "A.TOML": true, "dir.toml/a.zone": false, "a.zone": false, "db.a": false, "toml": false,
	} {
		if got := IsTOML(name); got != want {
			t.Errorf("IsTOML(%q) = %v, want %v", name, got, want)
		}
	}
}
