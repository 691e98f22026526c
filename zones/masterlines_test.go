package zones

import (
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
