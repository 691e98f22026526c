package zones

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// recordLines must agree with miekg/dns on how many records a file holds,
// record by record, or master-file errors would name the wrong lines.
func TestRecordLines(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []int
	}{
		{"plain", "$ORIGIN x.test.\n$TTL 300\n@ IN SOA ns h 1 2 3 4 5\n@ IN NS ns\nns IN A 192.0.2.1\n", []int{3, 4, 5}},
		{"blank owner and comments", "; head\n@ IN NS ns\n\n   IN NS ns2 ; same owner\nns IN A 192.0.2.1\n", []int{2, 4, 5}},
		{"parentheses span lines", "@ IN SOA ns h (\n  1 ; serial\n  2 3 4 5 )\nns IN A 192.0.2.1\n", []int{1, 4}},
		{"quotes hold ; ( and newlines", "a IN TXT \"x ; ( y\"\nb IN TXT \"p\\\"q\"\nc IN A 192.0.2.1\n", []int{1, 2, 3}},
		{"generate", "$GENERATE 1-3 h$ A 192.0.2.$\nz IN A 192.0.2.9\n", []int{1, 1, 1, 2}},
		{"generate with step", "$GENERATE 0-10/5 h$ A 192.0.2.$\n", []int{1, 1, 1}},
		{"no final newline", "a IN A 192.0.2.1", []int{1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := recordLines([]byte(c.src))
			if !ok || !slices.Equal(got, c.want) {
				t.Fatalf("recordLines = %v, %v; want %v", got, ok, c.want)
			}
			zp := dns.NewZoneParser(strings.NewReader(c.src), "x.test.", "")
			n := 0
			for _, ok := zp.Next(); ok; _, ok = zp.Next() {
				n++
			}
			if zp.Err() != nil || n != len(c.want) {
				t.Fatalf("miekg/dns yields %d records (err %v); the case expects %d", n, zp.Err(), len(c.want))
			}
		})
	}
	if _, ok := recordLines([]byte("$INCLUDE other.zone\n")); ok {
		t.Error("$INCLUDE counted: it must make the scan give up")
	}
}

// Parsing a master file in pieces must give exactly what one sequential
// parse gives, record for record: $ORIGIN and $TTL changing along the way,
// owners left blank, records spanning lines, relative names, comments.
func TestParallelParseMatchesSequential(t *testing.T) {
	var b strings.Builder
	b.WriteString("$TTL 300\n$ORIGIN big.test.\n@ IN SOA ns1 h 1 2 3 4 5\n@ IN NS ns1\n")
	for i := range 40000 {
		switch i % 1000 {
		case 250:
			fmt.Fprintf(&b, "$ORIGIN sub%d.big.test.\n", i)
		case 500:
			fmt.Fprintf(&b, "$TTL %d\n", 60+i%7)
		case 750:
			b.WriteString("$ORIGIN big.test.\n")
		}
		fmt.Fprintf(&b, "h%d IN A 10.0.%d.%d ; host %d\n", i, i/256%256, i%256, i)
		fmt.Fprintf(&b, "   120 IN AAAA 2001:db8::%x\n", i)
		if i%97 == 0 {
			fmt.Fprintf(&b, "t%d IN TXT ( \"a;b\"\n   \"c(d\" )\nm%d IN MX 10 h%d\n", i, i, i)
		}
	}
	text := []byte(b.String())
	sc := scanMaster(text, 4, "big.test.")
	if !sc.ok || len(sc.parts) < 2 {
		t.Fatalf("scan ok %v, %d parts", sc.ok, len(sc.parts))
	}
	parallel, errs := parseMaster(text, sc.parts, "big.test.", "p", foreground())
	if errs != nil {
		t.Fatal(errs)
	}
	sequential, errs := parseMaster(text, nil, "big.test.", "s", foreground())
	if errs != nil {
		t.Fatal(errs)
	}
	if len(parallel) != len(sequential) || len(sc.lines) != len(sequential) {
		t.Fatalf("%d records in parallel, %d sequential, %d lines", len(parallel), len(sequential), len(sc.lines))
	}
	for i := range sequential {
		if p, s := parallel[i].String(), sequential[i].String(); p != s {
			t.Fatalf("record %d: parallel %q, sequential %q", i, p, s)
		}
	}
	// Without a $TTL before the first record, TTLs carry over from record
	// to record: such a file is parsed whole.
	if sc := scanMaster([]byte(strings.Replace(string(text), "$TTL 300\n", "", 1)), 4, "big.test."); sc.parts != nil {
		t.Errorf("cut a file whose records inherit TTLs: %d parts", len(sc.parts))
	}
}

// An error in any piece is reported as a whole-file parse reports it,
// with the file's own line number.
func TestParallelParseErrorLine(t *testing.T) {
	var b strings.Builder
	b.WriteString("$TTL 300\n$ORIGIN big.test.\n@ IN SOA ns1 h 1 2 3 4 5\n")
	for i := range 30000 {
		fmt.Fprintf(&b, "h%d IN A 10.0.%d.%d\n", i, i/256%256, i%256)
	}
	b.WriteString("bad IN A 300.1.2.3\n") // line 30004
	text := []byte(b.String())
	sc := scanMaster(text, 4, "big.test.")
	_, errs := parseMaster(text, sc.parts, "big.test.", "big.zone", foreground())
	want := `big.zone:30004: bad A A at "300.1.2.3"`
	if len(sc.parts) < 2 || len(errs) != 1 || errs[0].Error() != want {
		t.Fatalf("%d parts, errors %q, want [%q]", len(sc.parts), errs, want)
	}
}
