package zones

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dnsrr/dnsrr/zones/tomlfile"
)

// TestMasterResumeKeepsState: after a bad record, parsing resumes with the
// origin, $TTL, owner and TTL a clean parse has there. Each case is a file
// written twice, "fixed||broken" on the lines that differ: the broken file
// must yield the fixed file's records but those of its broken lines, and
// one error on each broken line.
func TestMasterResumeKeepsState(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
	}{
		{"owner carries past a bad record", []string{
			"$TTL 300",
			"www IN A 192.0.2.9||www IN A 192.0.2.300",
			"    IN AAAA 2001:db8::1",
			"    60 IN TXT \"still www\"",
		}},
		{"TTL carries without $TTL", []string{
			"a 60 IN A 192.0.2.1",
			"b 120 IN A 192.0.2.2||b 120 IN A 192.0.2",
			"c IN A 192.0.2.3",
			"  IN AAAA 2001:db8::3",
		}},
		{"TTL carries past a good record", []string{
			"a 60 IN A 192.0.2.1",
			"b IN A 192.0.2.2",
			"c 90 IN MX 10 mail||c 90 IN MX ten mail",
			"d IN A 192.0.2.4",
		}},
		{"$TTL wins over a record's TTL", []string{
			"$TTL 300",
			"a 60 IN A 192.0.2.1||a 60 IN A x",
			"  IN AAAA 2001:db8::1",
		}},
		{"$ORIGIN before and after", []string{
			"$TTL 300",
			"$ORIGIN sub.bad.test.",
			"x IN A 192.0.2.1||x IN A 192.0.2.",
			"$ORIGIN deeper",
			"y IN A 192.0.2.2",
			"z IN CNAME y||z IN CNAME y..",
			"w IN CNAME z",
		}},
		{"bad record over several lines", []string{
			"$TTL 300",
			"m IN MX ( 10\n  mail.other.test. )||m IN MX ( ten\n  mail.other.test. )",
			"   IN TXT \"m again\"",
			"n IN TXT ( \"a;b\" ; comment (\n  \"c)\" )||n IN TXT ( \"a;b\" ; comment (\n  \"c)\" ) )",
			"   IN A 192.0.2.7",
		}},
		{"consecutive bad records and a bad last one", []string{
			"$TTL 300",
			"a IN A 192.0.2.1||a IN A 192.0.2.1.1",
			"b IN A 192.0.2.2||b IN A",
			"  IN AAAA 2001:db8::2||  IN AAAA 192.0.2.2",
			"  IN TXT \"b\"",
			"c IN A 192.0.2.3||c IN A 192.0.2.3 extra",
		}},
		{"bad owner keeps the previous owner", []string{
			"$TTL 300",
			"a IN A 192.0.2.1",
			"b IN A 192.0.2.2||b..c IN A 192.0.2.2",
			"  IN TXT \"b, or a when b's name is bad\"||",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fixed, broken strings.Builder
			header := "$ORIGIN bad.test.\n"
			fixed.WriteString(header)
			broken.WriteString(header)
			var badLines [][2]int // first and last line of each broken record
			line := strings.Count(header, "\n") + 1
			for _, l := range tt.lines {
				good, bad, differ := strings.Cut(l, "||")
				if !differ {
					bad = good
				}
				if differ {
					badLines = append(badLines, [2]int{line, line + strings.Count(good, "\n")})
				}
				fixed.WriteString(good + "\n")
				broken.WriteString(bad + "\n")
				line += strings.Count(good, "\n") + 1
			}
			want, errs := parseMaster([]byte(fixed.String()), nil, ".", "fixed", foreground())
			if errs != nil {
				t.Fatalf("fixed file: %q", errs)
			}
			lines, ok := recordLines([]byte(fixed.String()))
			if !ok || len(lines) != len(want) {
				t.Fatalf("record lines of the fixed file: %v %v", ok, lines)
			}
			var wantRRs []string
			for i, rr := range want {
				if !slices.ContainsFunc(badLines, func(bad [2]int) bool { return bad[0] == lines[i] }) {
					wantRRs = append(wantRRs, rr.String())
				}
			}
			got, errs := parseMaster([]byte(broken.String()), nil, ".", "broken", foreground())
			var gotRRs []string
			for _, rr := range got {
				gotRRs = append(gotRRs, rr.String())
			}
			if !slices.Equal(gotRRs, wantRRs) {
				t.Errorf("records:\n got %s\nwant %s", strings.Join(gotRRs, "\n     "), strings.Join(wantRRs, "\n     "))
			}
			// The last case's second difference is a line removed: only its
			// owner's error is expected.
			if tt.name == "bad owner keeps the previous owner" {
				badLines = badLines[:1]
			}
			// miekg/dns names the line of the token it choked on, which may
			// be any line of a record in parentheses.
			if len(errs) != len(badLines) {
				t.Fatalf("errors %q, want one on each of the lines %v", errs, badLines)
			}
			for i, e := range errs {
				if l := e.(*tomlfile.Error).Line; l < badLines[i][0] || l > badLines[i][1] {
					t.Errorf("error %q, want it on lines %d-%d", e, badLines[i][0], badLines[i][1])
				}
			}
		})
	}
}

// TestMasterErrorLimit: a file of garbage reports the first
// maxMasterErrors errors and counts the rest in one line.
func TestMasterErrorLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("$TTL 300\n$ORIGIN bad.test.\n")
	const bad = maxMasterErrors + 50
	for i := range bad {
		fmt.Fprintf(&b, "h%d IN A 192.0.2.%d\n", i, 256+i)
	}
	_, errs := parseMaster([]byte(b.String()), nil, ".", "big.zone", foreground())
	if len(errs) != maxMasterErrors+1 {
		t.Fatalf("%d errors, want %d and a count of the rest", len(errs), maxMasterErrors)
	}
	if got, want := errs[maxMasterErrors-1].Error(), fmt.Sprintf(`big.zone:%d: bad A A at "192.0.2.%d"`, maxMasterErrors+2, 256+maxMasterErrors-1); got != want {
		t.Errorf("last error reported %q, want %q", got, want)
	}
	want := fmt.Sprintf("big.zone:%d: 50 more errors from here on; only the first %d of a file are reported", maxMasterErrors+3, maxMasterErrors)
	if got := errs[maxMasterErrors].Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
