package zones

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// rdataBytes is the data of rr as it goes on the wire.
func rdataBytes(t *testing.T, rr dns.RR) []byte {
	t.Helper()
	buf := make([]byte, dns.MaxMsgSize)
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		t.Fatalf("pack %v: %v", rr, err)
	}
	_, off, err := dns.UnpackDomainName(buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	return buf[off+10 : n] // past the owner, type, class, TTL and length
}

// charStrings splits TXT data into its character-strings.
func charStrings(t *testing.T, data []byte) []string {
	t.Helper()
	var out []string
	for len(data) > 0 {
		n := int(data[0])
		if 1+n > len(data) {
			t.Fatalf("character-string runs past the data: %x", data)
		}
		out = append(out, string(data[1:1+n]))
		data = data[1+n:]
	}
	return out
}

// TestTOMLExplicitTXT: an array element of txt is one record whose
// strings go on the wire as written, after RFC 1035 escapes, never split.
func TestTOMLExplicitTXT(t *testing.T) {
	s255 := strings.Repeat("y", 255)
	tests := []struct {
		name, value string
		want        []string
	}{
		{"several strings, one empty", `[["v=DKIM1; k=rsa", "p=MIGf", ""]]`, []string{"v=DKIM1; k=rsa", "p=MIGf", ""}},
		{"escapes: quote, backslash, \\DDD, \\X", `[['say \"hi\" \\ \059\065\x']]`, []string{`say "hi" \ ;Ax`}},
		{"bytes above 127, escaped and raw UTF-8", `[['\128\200\255', "é"]]`, []string{"\x80\xc8\xff", "\xc3\xa9"}},
		{"NUL and control bytes", `[['\000\001\010\127']]`, []string{"\x00\x01\x0a\x7f"}},
		{"a 255-byte string is one string", `[["` + s255 + `"]]`, []string{s255}},
		{"literal and explicit side by side", `["a \\# 3 b;c", ["a", "b"]]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := mustTOMLString(t, "[records.t]\ntxt = "+tt.value+"\n")
			set := rrset(t, z, "t.z.test.", dns.TypeTXT)
			if tt.want == nil {
				got := map[string]bool{}
				for _, rr := range set.Records() {
					got[strings.Join(charStrings(t, rdataBytes(t, rr)), "|")] = true
				}
				// The literal form keeps backslashes and \# as text.
				if len(got) != 2 || !got[`a \# 3 b;c`] || !got["a|b"] {
					t.Errorf("records %v", got)
				}
				return
			}
			if len(set.Records()) != 1 {
				t.Fatalf("%d records, want 1", len(set.Records()))
			}
			if got := charStrings(t, rdataBytes(t, set.Records()[0])); !equalStrings(got, tt.want) {
				t.Errorf("strings on the wire %q, want %q", got, tt.want)
			}
		})
	}
}

// TestTOMLGeneric: RFC 3597's generic form serves an unknown type's bytes
// as they are, and turns a known type's bytes into that type's record.
func TestTOMLGeneric(t *testing.T) {
	z := mustTOMLString(t, `[records.g]
type65280 = ['\# 5 0a0b 0C0d0e', '\# 0']
a = ['\# 4 c0000201', "192.0.2.2"]
type1 = ["192.0.2.3"]
caa = ['\# 14 000569737375656c652e74657374']
srv = ['\# 11 0001 0002 0035 03 6e7331 00']
`)
	got := map[string]bool{}
	for _, rr := range rrset(t, z, "g.z.test.", 65280).Records() {
		if _, ok := rr.(*dns.RFC3597); !ok {
			t.Errorf("%v is a %T, want a generic record", rr, rr)
		}
		got[string(rdataBytes(t, rr))] = true
	}
	if len(got) != 2 || !got["\x0a\x0b\x0c\x0d\x0e"] || !got[""] {
		t.Errorf("TYPE65280 data %v", got)
	}
	// One A set from three spellings: typed records, validated like any.
	wantSet(t, z, "g.z.test.", dns.TypeA, 3600, "192.0.2.1", "192.0.2.2", "192.0.2.3")
	wantSet(t, z, "g.z.test.", dns.TypeCAA, 3600, `0 issue "le.test"`)
	wantSet(t, z, "g.z.test.", dns.TypeSRV, 3600, "1 2 53 ns1.")
}

// TestEscapedOwnerNames: owners are stored as a query for them unpacks,
// lower-cased, in both formats: \065 is "a", a\.b is one label with a dot.
func TestEscapedOwnerNames(t *testing.T) {
	toml := mustTOMLString(t, `[records.'a\.b']
txt = "dot"
[records.'\065\066c.x']
cname = '\065\066c'
[records.'\097bc']
txt = "abc"
[records.'caf\195\169']
txt = "utf-8"
[records."x@y"]
txt = "bare @"
`)
	master := zoneOf(t, mustLoad(t, writeFile(t, "z.test.zone", `$ORIGIN z.test.
$TTL 3600
@ IN SOA ns.other.test. hostmaster 1 3600 900 1209600 300
@ IN NS ns.other.test.
a\.b IN TXT "dot"
\065\066c.x IN CNAME \065\066c
\097bc IN TXT "abc"
caf\195\169 IN TXT "utf-8"
x\@y IN TXT "bare @"
`)), "z.test.")
	for _, z := range []*Zone{toml, master} {
		for _, q := range []string{`a\.b.z.test.`, "ABC.x.z.test.", "abc.z.test.", `caf\195\169.z.test.`, `x\@y.z.test.`} {
			// The name a query for q carries, as the server reads it.
			m := new(dns.Msg).SetQuestion(q, dns.TypeTXT)
			wire, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Unpack(wire); err != nil {
				t.Fatal(err)
			}
			if n := z.Node(strings.ToLower(m.Question[0].Name)); n == nil || len(n.Sets) == 0 {
				t.Errorf("%s: no data at %q, the name a query for %s looks up", z.File, strings.ToLower(m.Question[0].Name), q)
			}
		}
		// The CNAME's target is spelt so that following it finds "abc".
		c := rrset(t, z, "abc.x.z.test.", dns.TypeCNAME).Records()[0].(*dns.CNAME)
		if n := z.Node(strings.ToLower(c.Target)); n == nil {
			t.Errorf("%s: CNAME target %q is not a node", z.File, c.Target)
		}
		// a\.b is one label under the origin, not a node "b".
		if n := z.Node("b.z.test."); n != nil {
			t.Errorf("%s: a\\.b made a node b.z.test.", z.File)
		}
	}
	sameZone(t, toml, master)
}

// TestEscapedGlueNames: glue is found by the name its NS record gives,
// spelt as the glue's owner is (found by FuzzFastPathMatchesFullPath: an
// NS target with an escape did not name its glue).
func TestEscapedGlueNames(t *testing.T) {
	z := zoneOf(t, mustLoad(t, writeFile(t, "g.test.zone", `$ORIGIN g.test.
$TTL 3600
@ IN SOA ns.other.test. hostmaster 1 3600 900 1209600 300
@ IN NS ns.other.test.
sp\032ce IN NS ns1.sp\032ce
ns1.sp\032ce IN A 192.0.2.1
\065b IN NS ns1.\097b
ns1.ab IN A 192.0.2.2
`)), "g.test.")
	for _, cut := range []string{`sp\ ce.g.test.`, "ab.g.test."} {
		ns := rrset(t, z, cut, dns.TypeNS)
		if len(ns.Additional) != 1 {
			t.Errorf("%s: glue %v, want the one address", cut, ns.Additional)
		}
	}
}

// TestCanonicalName covers the spellings one name may have.
func TestCanonicalName(t *testing.T) {
	for in, want := range map[string]string{
		"www.Example.":       "www.example.",
		`\087ww.example.`:    "www.example.",
		`a\.b.example.`:      `a\.b.example.`,
		`a\046b.example.`:    `a\.b.example.`,
		`x\@y.example.`:      `x\@y.example.`,
		`caf\195\169.test.`:  `caf\195\169.test.`,
		"0/26.2.0.192.arpa.": "0/26.2.0.192.arpa.",
	} {
		if got := canonicalName(in); got != want {
			t.Errorf("canonicalName(%q) = %q, want %q", in, got, want)
		}
	}
	for _, s := range []string{`\256.test.`, `\999.test.`, `a\25.test.`} {
		if !badEscape(s) {
			t.Errorf("badEscape(%q) = false", s)
		}
	}
	for _, s := range []string{`\255.test.`, `a\.b.`, `\000x.`, "plain."} {
		if badEscape(s) {
			t.Errorf("badEscape(%q) = true", s)
		}
	}
	if !bytes.Equal([]byte(presentTXT([]byte{0, '"', '\\', 'a', 200})), []byte(`\000\"\\a\200`)) {
		t.Errorf("presentTXT = %q", presentTXT([]byte{0, '"', '\\', 'a', 200}))
	}
}

// FuzzRecordText holds the text readers of the new forms to: no panics;
// an explicit character-string goes on the wire as exactly the bytes it
// decodes to; generic data that is accepted packs back into those bytes.
// go test -run=^$ -fuzz=FuzzRecordText ./zones/
func FuzzRecordText(f *testing.F) {
	for _, s := range []string{`a\"b\\c\255\000`, `\25x`, `\`, "caf\xc3\xa9", `4 c0000201`, `8 000a 046d61696c 00`,
		`3 0a0b0c`, `5 c000020101`, `65535`, "x IN A \\# 4 c0000201 ; c\n", "  IN MX ( \\# 3\n 000a00 )"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if b, err := decodeCharString(s); err == nil && len(b) <= maxCharString {
			rr := &dns.TXT{Hdr: dns.RR_Header{Name: "t.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{presentTXT(b)}}
			if got := rdataBytes(t, rr); !bytes.Equal(got, append([]byte{byte(len(b))}, b...)) {
				t.Fatalf("%q decodes to %q but goes on the wire as %q", s, b, got)
			}
		}
		for _, typ := range []uint16{dns.TypeA, dns.TypeMX, dns.TypeTXT, dns.TypeSVCB, 65280} {
			hdr := dns.RR_Header{Name: "g.", Rrtype: typ, Class: dns.ClassINET}
			rr, err := genericRR(hdr, s)
			if err != nil {
				continue
			}
			fields := strings.Fields(s)
			want := strings.ToLower(strings.Join(fields[1:], ""))
			buf := make([]byte, dns.MaxMsgSize)
			if _, err := dns.PackRR(rr, buf, 0, nil, false); err == nil && typ == 65280 {
				if got := fmt.Sprintf("%x", rdataBytes(t, rr)); got != want {
					t.Fatalf("generic %q packs as %s", s, got)
				}
			}
		}
		toks := recordTokens([]byte(s), 0)
		genericText(toks, dns.TypeA)
	})
}
