package tomlfile

import (
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"
)

// TestParseEverySyntaxError: a syntax error no longer hides the next one;
// each is reported once, at its own line, and the blanking that gets past
// one raises no false alarm (a blanked header's keys do not collide with
// the table before it).
func TestParseEverySyntaxError(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"one", "a = 1\nb = \"x\n", []string{
			`f.toml:2: b: strings cannot contain newlines`}},
		{"two independent lines", "a = \nb = 1\nc = tru\n", []string{
			`f.toml:1: a: expected value but found '\n' instead`,
			`f.toml:3: c: expected value but found "tru" instead`}},
		{"unclosed array ends at the next header", "x = [1,\n[t]\ny = 1 2\n", []string{
			`f.toml:2: x: expected value but found "t" instead`,
			`f.toml:3: expected a top-level item to end with a newline, comment, or EOF, but got '2' instead`}},
		{"unclosed header, on its own line", "[a]\nk = 1\n[b\nk = 2\nz = 1 1\n", []string{
			`f.toml:3: expected '.' or ']' to end table name, but got '\n' instead`,
			`f.toml:5: expected a top-level item to end with a newline, comment, or EOF, but got '1' instead`}},
		{"duplicate keys and tables", "a = 1\na = 2\n[t]\nk = 1\n[t]\nk = 2\n", []string{
			`f.toml:2: a: Key 'a' has already been defined.`,
			`f.toml:5: Key 't' has already been defined.`}},
		{"bad element inside a multi-line array", "x = [\n  [1, 2],\n  [3 4],\n  [5, 6],\n]\ny = \n", []string{
			`f.toml:3: x: expected a comma (',') or array terminator (']'), but got '4'`,
			`f.toml:6: y: expected value but found '\n' instead`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.toml", tt.src)
			var got []string
			for _, e := range Flatten(err) {
				if _, ok := e.(*Error); !ok {
					t.Errorf("%q is a %T, not an *Error", e, e)
				}
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestParseSyntaxErrorLimit: a file of garbage costs a bounded number of
// parses and says that it stopped.
func TestParseSyntaxErrorLimit(t *testing.T) {
	var b strings.Builder
	for i := range maxSyntaxErrors + 10 {
		fmt.Fprintf(&b, "k%d = \n", i)
	}
	errs := Flatten(func() error { _, err := Parse("f.toml", b.String()); return err }())
	if len(errs) != maxSyntaxErrors+1 {
		t.Fatalf("%d errors, want %d and a last word", len(errs), maxSyntaxErrors+1)
	}
	want := fmt.Sprintf("f.toml:%d: more syntax errors may follow; only the first %d of a file are reported", maxSyntaxErrors+1, maxSyntaxErrors)
	if got := errs[maxSyntaxErrors].Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestUnquotedDots: a name with unquoted dots is reported with the quoted
// name to write, at the line of its header; a real entry is read on.
func TestUnquotedDots(t *testing.T) {
	src := "[pools.www.eu]\n" + // 1
		"addresses = [\"192.0.2.1\"]\n" + // 2
		"[pools.api]\n" + // 3
		"addresses = [\"192.0.2.2\"]\n" + // 4
		"[pools.api.health]\n" + // 5
		"x = 1\n" // 6
	root, err := Parse("f.toml", src)
	if err != nil {
		t.Fatal(err)
	}
	isKey := func(k string) bool { return k == "addresses" }
	pools, _ := root.Table("pools")
	www, _ := pools.Table("www")
	if !www.UnquotedDots(isKey) {
		t.Error("www holds only the name's further labels, yet UnquotedDots = false")
	}
	api, _ := pools.Table("api")
	if api.UnquotedDots(isKey) {
		t.Error("api has addresses of its own, yet UnquotedDots = true")
	}
	www.Done()
	want := []string{
		`f.toml:1: pools.www.eu: unknown key: if you meant the name "www.eu", quote it: [pools."www.eu"]`,
		`f.toml:5: pools.api.health: unknown key: if you meant the name "api.health", quote it: [pools."api.health"]`,
	}
	var got []string
	for _, e := range root.File().Errs.Sorted() {
		got = append(got, e.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
}

// TestSyntaxErrorsNoEcho: mistakes typed into a real zone file (a stray
// bracket, brace, quote, comma, '=' or '#') are reported at most once each:
// blanking one never makes errors of its own. Deterministic: the same
// mutations on every run.
func TestSyntaxErrorsNoEcho(t *testing.T) {
	src, err := os.ReadFile("../../examples/zones/lb.example.test.toml")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(11))
	const typos = "\"[]{}=,#'"
	for range 300 {
		lines := strings.SplitAfter(string(src), "\n")
		typed := map[int]bool{}
		for range 1 + r.Intn(3) {
			i := r.Intn(len(lines))
			if l := strings.TrimSpace(lines[i]); l == "" || l[0] == '#' {
				continue
			}
			j := r.Intn(len(lines[i]))
			lines[i] = lines[i][:j] + string(typos[r.Intn(len(typos))]) + lines[i][j:]
			typed[i+1] = true
		}
		_, err := Parse("f.toml", strings.Join(lines, ""))
		if errs := Flatten(err); len(errs) > len(typed) {
			t.Errorf("%d errors for typos on %d lines:\n%s", len(errs), len(typed), err)
		}
	}
}

// TestParseSyntaxReparseLimit: a large file is not parsed again and again.
func TestParseSyntaxReparseLimit(t *testing.T) {
	defer func(saved int) { maxSyntaxReparse = saved }(maxSyntaxReparse)
	maxSyntaxReparse = 4 << 20
	pad := strings.Repeat("# "+strings.Repeat("x", 78)+"\n", maxSyntaxReparse/80/2) // half the limit
	errs := Flatten(func() error { _, err := Parse("f.toml", "a = \nb = \nc = \n"+pad); return err }())
	want := []string{
		`f.toml:1: a: expected value but found '\n' instead`,
		"f.toml:2: more syntax errors may follow; a file this large is not parsed again for each (limit: 4 MB in all)",
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
}
