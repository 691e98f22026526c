package tomlfile

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

var testLimits = Limits{MaxDepth: 8, DepthKey: "depth_key", MaxLineLength: 200, LineLengthKey: "line_key"}

func TestCheckShapeDepth(t *testing.T) {
	deep := func(open, mid, close string, n int) string {
		return strings.Repeat(open, n) + mid + strings.Repeat(close, n)
	}
	tests := []struct {
		name, src string
		line      int // 0: accepted
	}{
		{"inline tables", "x = " + deep("{a=", "1", "}", 8000), 1},
		{"arrays", "\n\nx = " + deep("[", "1", "]", 100000), 3},
		{"dotted key", strings.Repeat("a.", 20000) + "a = 1", 1},
		{"table header", "[" + strings.Repeat("a.", 20) + "a]\n", 1},
		{"array of tables", "[[a.b.c.d.e.f.g.h]]\n", 1},
		{"keys in a deep table", "[a.b.c.d.e.f]\ng.h.i = 1\n", 2},
		{"arrays in inline tables", "x = {a = [{b = [[1]]}]}\ny = [[[[[[[[[1]]]]]]]]]\n", 2},
		{"at the limit", "[a.b.c]\nd.e = {f = [[1]]}\n", 0},
		{"sibling dotted keys do not add up", "x = {" + strings.Repeat("a.b.c.d = 1, ", 1) + "e.f.g.h = 2}\n", 0},
		{"brackets in strings and comments", "x = \"[[[[[[[[[[\" # {{{{{{{{{{{\ny = '''\n[[[[[[[[[[[\n'''\n", 0},
		{"a dnsrr zone", "origin = \"x.\"\n[records.\"*.a\"]\nns = { ttl = 1, data = [\"ns1\"] }\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckShape("f.toml", tt.src, testLimits)
			if tt.line == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			e, ok := err.(*Error)
			if !ok || e.Line != tt.line || !strings.Contains(e.Msg, "nesting deeper than 8 levels (depth_key)") {
				t.Fatalf("error %v, want nesting too deep at line %d", err, tt.line)
			}
		})
	}
}

func TestCheckShapeLineLength(t *testing.T) {
	src := "a = 1\nb = \"" + strings.Repeat("x", 300) + "\"\n"
	err := CheckShape("f.toml", src, testLimits)
	if e, ok := err.(*Error); !ok || e.Line != 2 || !strings.Contains(e.Msg, "line is 306 bytes long, above the limit of 200 (line_key)") {
		t.Fatalf("error %v, want line 2 too long", err)
	}
	// Multi-line strings and comments count their own lines.
	ok := "a = \"\"\"\n" + strings.Repeat(strings.Repeat("x", 150)+"\n", 5) + "\"\"\"\n# " + strings.Repeat("y", 150) + "\n"
	if err := CheckShape("f.toml", ok, testLimits); err != nil {
		t.Fatal(err)
	}
}

// TestReadRefusesSpecialAndLarge: the configuration goes through the same
// reader as zones.
func TestReadRefusesSpecialAndLarge(t *testing.T) {
	if _, err := Read(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	big := filepath.Join(t.TempDir(), "big.toml")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(big); err == nil || !strings.Contains(err.Error(), "above the limit") {
		t.Errorf("large file: %v", err)
	}
}

// depthOf is the nesting depth of a decoded value: how many keys and
// array elements lead to its deepest value (empty tables and arrays hold
// none).
func depthOf(v any) int {
	d := 0
	switch v := v.(type) {
	case map[string]any:
		for _, c := range v {
			d = max(d, depthOf(c)+1)
		}
	case []map[string]any:
		for _, c := range v {
			d = max(d, depthOf(c)+1)
		}
	case []any:
		for _, c := range v {
			d = max(d, depthOf(c)+1)
		}
	}
	return d
}

// FuzzCheckShape: whatever the pre-scan lets through decodes no deeper
// than the limit (a key of the root table is at depth 1), so it never
// under-counts.
func FuzzCheckShape(f *testing.F) {
	f.Add("[a.b]\nc.d = {e = [1, {f = 2}]}\n")
	f.Add("x = \"\"\"\n[[[\"\"\"\ny = [[[1]]]\n")
	f.Add("[[a]]\nb = 1\n[[a.c]]\nd = [ # ]\n 1 ]\n")
	f.Fuzz(func(t *testing.T, src string) {
		lim := Limits{MaxDepth: 4, MaxLineLength: 1 << 16}
		if CheckShape("f", src, lim) != nil {
			return
		}
		var m map[string]any
		if _, err := toml.Decode(src, &m); err != nil {
			return
		}
		if d := depthOf(m); d > lim.MaxDepth {
			t.Fatalf("accepted at depth %d, limit %d", d, lim.MaxDepth)
		}
	})
}

// TestCheckShapeKeyBytes: a long table name over many keys is refused
// before the decoder stores its name once per key.
func TestCheckShapeKeyBytes(t *testing.T) {
	lim := Limits{MaxKeyBytes: 100_000, KeyBytesKey: "key_bytes"}
	var b strings.Builder
	b.WriteString("[\"" + strings.Repeat("A", 10000) + "\"]\n")
	for i := range 20 {
		b.WriteString("x" + strconv.Itoa(i) + " = {y = 1}\n")
	}
	err := CheckShape("f.toml", b.String(), lim)
	if e, ok := err.(*Error); !ok || e.Line != 6 || !strings.Contains(e.Msg, "add up to more than 100000 bytes") || !strings.Contains(e.Msg, "(key_bytes)") {
		t.Fatalf("error %v, want the key paths refused at line 6 (each inline key counts its table too)", err)
	}
	// The same keys under a short name are fine.
	if err := CheckShape("f.toml", strings.Replace(b.String(), strings.Repeat("A", 10000), "a", 1), lim); err != nil {
		t.Fatal(err)
	}
}

// TestListKeepsTheFirstProblems: a file with a mistake on every line
// reports the first MaxProblems and counts the rest; long keys are cut.
func TestListKeepsTheFirstProblems(t *testing.T) {
	l := &List{}
	for i := range MaxProblems + 500 {
		l.Add("f", i+1, strings.Repeat("k", 1000), "unknown key")
	}
	errs := Flatten(l.Err())
	if len(errs) != MaxProblems+1 || l.Len() != MaxProblems+500 {
		t.Fatalf("%d problems kept, Len %d", len(errs), l.Len())
	}
	if last := errs[len(errs)-1].Error(); last != "f:1001: 500 more problems from here on; only the first 1000 are reported" {
		t.Errorf("last problem %q", last)
	}
	if e := errs[0].(*Error); len(e.Key) > maxKey+len("…") {
		t.Errorf("key of %d bytes kept", len(e.Key))
	}
}
