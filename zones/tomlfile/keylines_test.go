package tomlfile

import (
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// tricky is valid TOML written to trip a naive line scanner: quoted keys with
// dots, dotted keys, inline tables, multi-line arrays with comments, and
// multi-line strings whose content looks like headers, keys and comments.
// The numbers in the trailing comments are the line numbers.
const tricky = `# a = "x" [table] in a comment                     1
a = 1                                               # 2
"quoted.key" = 2   # one key holding a dot          3
'lit.key' = 3                                       # 4
dotted.key.path = 4                                 # 5
b = """
[not.a.table]
c = "not a key"
# not a comment
"""
d = '''
[also.not]
e = 5
'''
f = [
  "one",   # comment [x] = y                          16
  "two",                                            # 17
  [3, 4],                                           # 18
  { g = 1, h = "}" },                               # 19
]
q = "a\"b # c = [d]"                                # 21
r = 1 # s = 2                                       # 22
[tbl]                                               # 23
i = { j = 1, "k.l" = 2 }                            # 24
[pools."*.apps"]                                    # 25
addresses = ["192.0.2.1",                           # 26
   "192.0.2.2"]                                     # 27
  [ spaced . "x y" ]                                # 28
u = """\
  escaped \""" quote [x]
  v = 1"""
w = "it's [not] a = key"
[[arr]]                                             # 33
x = 1                                               # 34
[records."ns1.dev"]                                 # 35
a = ["192.0.2.100"]                                 # 36
`

func TestScanKeyLines(t *testing.T) {
	var m map[string]any
	if _, err := toml.Decode(tricky, &m); err != nil {
		t.Fatalf("fixture is not valid TOML: %v", err)
	}
	kl := scanKeyLines(tricky)
	tests := []struct {
		name string
		path []string
		want int
	}{
		{"plain key", []string{"a"}, 2},
		{"quoted key with a dot is one key", []string{"quoted.key"}, 3},
		{"literal key with a dot is one key", []string{"lit.key"}, 4},
		{"dotted key", []string{"dotted", "key", "path"}, 5},
		{"multi-line basic string", []string{"b"}, 6},
		{"multi-line literal string", []string{"d"}, 11},
		{"multi-line array", []string{"f"}, 15},
		{"inline table in array", []string{"f", "[3]", "g"}, 19},
		{"escaped quote and # in a string", []string{"q"}, 21},
		{"key after a comment holding a key", []string{"r"}, 22},
		{"table header", []string{"tbl"}, 23},
		{"key in table", []string{"tbl", "i"}, 24},
		{"inline table key", []string{"tbl", "i", "j"}, 24},
		{"quoted inline table key", []string{"tbl", "i", "k.l"}, 24},
		{"quoted header", []string{"pools", "*.apps"}, 25},
		{"key under quoted header", []string{"pools", "*.apps", "addresses"}, 26},
		{"header with spaces", []string{"spaced", "x y"}, 28},
		{"string with escaped triple quote", []string{"spaced", "x y", "u"}, 29},
		{"literal string with doubled quote", []string{"spaced", "x y", "w"}, 32},
		{"array of tables", []string{"arr"}, 33},
		{"key in array of tables", []string{"arr", "x"}, 34},
		{"quoted dotted owner", []string{"records", "ns1.dev", "a"}, 36},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := kl.line(tt.path...); got != tt.want {
				t.Errorf("line(%q) = %d, want %d", tt.path, got, tt.want)
			}
		})
	}

	// Nothing inside a string may be taken for a key.
	for _, ghost := range [][]string{
		{"not", "a", "table"}, {"c"}, {"also", "not"}, {"e"}, {"s"}, {"v"},
		{"spaced", "x y", "v"}, {"tbl", "s"},
	} {
		if l, ok := kl.get(ghost...); ok {
			t.Errorf("string content %q recorded as a key at line %d", ghost, l)
		}
	}
}

func TestScanKeyLinesElements(t *testing.T) {
	kl := scanKeyLines(tricky)
	tests := []struct {
		name string
		path []string
		i    int
		want int
	}{
		{"first element after a comment-free line", []string{"f"}, 0, 16},
		{"element after a comment with brackets", []string{"f"}, 1, 17},
		{"nested array element", []string{"f"}, 2, 18},
		{"inline table element", []string{"f"}, 3, 19},
		{"element on the key line", []string{"pools", "*.apps", "addresses"}, 0, 26},
		{"element on a continuation line", []string{"pools", "*.apps", "addresses"}, 1, 27},
		{"missing element falls back to the key", []string{"f"}, 9, 15},
		{"missing key falls back to its table", []string{"tbl", "nope"}, 0, 23},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := kl.elemLine(tt.path, tt.i); got != tt.want {
				t.Errorf("elemLine(%q, %d) = %d, want %d", tt.path, tt.i, got, tt.want)
			}
		})
	}
}

// TestScanKeyLinesImplicitTables: a table created by a dotted key or by a
// deeper header has no header of its own; errors about it ("addresses is
// missing") must still point at the line where it first appears.
func TestScanKeyLinesImplicitTables(t *testing.T) {
	src := "origin = \"x.\"\n" + // 1
		"[pools]\n" + // 2
		"www.ttl = 30\n" + // 3
		"www.order = \"fixed\"\n" + // 4
		"[records.mail]\n" + // 5
		"a = \"192.0.2.1\"\n" // 6
	kl := scanKeyLines(src)
	tests := []struct {
		name string
		path []string
		want int
	}{
		{"table made by dotted keys", []string{"pools", "www"}, 3},
		// [records.mail] makes records, which has no header of its own: a
		// misspelt [record.mail] must still be reported at a line.
		{"parent of a header", []string{"records"}, 5},
		{"dotted key itself", []string{"pools", "www", "order"}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := kl.line(tt.path...); got != tt.want {
				t.Errorf("line(%q) = %d, want %d", tt.path, got, tt.want)
			}
		})
	}
}

// TestScanKeyLinesCRLF: files written on Windows count lines the same way.
func TestScanKeyLinesCRLF(t *testing.T) {
	src := "a = 1\r\nb = [\r\n  1,\r\n  2,\r\n]\r\n[t]\r\nc = 3\r\n"
	kl := scanKeyLines(src)
	for path, want := range map[string]int{"a": 1, "b": 2, "t": 6, "t\x00c": 7} {
		if got, _ := kl.get(strings.Split(path, "\x00")...); got != want {
			t.Errorf("%q at line %d, want %d", path, got, want)
		}
	}
	if got := kl.elemLine([]string{"b"}, 1); got != 4 {
		t.Errorf("b[1] at line %d, want 4", got)
	}
}

// FuzzScanKeyLines: the scanner must terminate, not panic, and stay within
// the document on every document the real parser accepts (Parse never hands
// it anything else).
func FuzzScanKeyLines(f *testing.F) {
	f.Add(tricky)
	f.Add("a.b.c = 1\n[d]\ne = \"\"\"\n[f]\n\"\"\"\n")
	f.Add("a = [\n  1,\n  [2, {b = 'c'}],\n]\n")
	f.Fuzz(func(t *testing.T, src string) {
		var m map[string]any
		if _, err := toml.Decode(src, &m); err != nil {
			return
		}
		kl := scanKeyLines(src)
		lines := strings.Count(src, "\n") + 1
		var check func(path string, n *keyNode)
		check = func(path string, n *keyNode) {
			if n.line < 0 || n.line > lines {
				t.Fatalf("key %q at line %d of a %d-line document", path, n.line, lines)
			}
			for k, c := range n.children {
				check(path+"."+k, c)
			}
			for i, e := range n.elems {
				check(path+"["+strconv.Itoa(i)+"]", e)
			}
		}
		check("", &kl.root)
	})
}
