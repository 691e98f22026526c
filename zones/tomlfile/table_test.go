package tomlfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// errStrings renders every problem recorded for the file, in order.
func errStrings(t *testing.T, tb *Table) []string {
	t.Helper()
	var out []string
	for _, e := range Flatten(tb.File().Errs.Err()) {
		out = append(out, e.Error())
	}
	return out
}

func mustParse(t *testing.T, src string) *Table {
	t.Helper()
	tb, err := Parse("f.toml", src)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return tb
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{"full", Error{File: "z.toml", Line: 3, Key: "soa.serial", Msg: "bad"}, "z.toml:3: soa.serial: bad"},
		{"no line", Error{File: "z.toml", Key: "soa", Msg: "bad"}, "z.toml: soa: bad"},
		{"no key", Error{File: "z.toml", Line: 7, Msg: "bad"}, "z.toml:7: bad"},
		{"file only", Error{File: "z.toml", Msg: "bad"}, "z.toml: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestListAndFlatten(t *testing.T) {
	var l List
	if l.Err() != nil || l.Len() != 0 {
		t.Fatal("empty list must have no error")
	}
	l.Add("a", 1, "k", "one %d", 1)
	l.Append(nil, errors.New("two"), nil)
	l.Add("a", 3, "", "three")
	// A caller may join the list again with its own errors: Flatten still
	// yields the individual problems in order.
	joined := errors.Join(l.Err(), errors.New("four"))
	var got []string
	for _, e := range Flatten(joined) {
		got = append(got, e.Error())
	}
	want := []string{"a:1: k: one 1", "two", "a:3: three", "four"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Flatten = %q, want %q", got, want)
	}
	if l.Len() != 3 {
		t.Errorf("Len = %d, want 3 (nil errors are not problems)", l.Len())
	}
	if Flatten(nil) != nil {
		t.Error("Flatten(nil) must be empty")
	}
	var e *Error
	if !errors.As(Flatten(l.Err())[0], &e) || e.Line != 1 || e.Key != "k" {
		t.Errorf("first problem is not an *Error with line and key: %#v", e)
	}
}

// TestGetterKinds: a value of the wrong kind is reported at its own line,
// with its full key path, and reading goes on.
func TestGetterKinds(t *testing.T) {
	src := `s = 1
b = "yes"
i = "10"
f = 1.5
r = 99
a = [
  "ok",
  7,
  true,
]
n = { x = 1 }
[t]
deep = [1]
`
	tests := []struct {
		name string
		get  func(tb *Table) bool
		want []string
	}{
		{"String of an integer", func(tb *Table) bool { _, ok := tb.String("s"); return ok },
			[]string{"f.toml:1: s: must be a string, not an integer"}},
		{"Bool of a string", func(tb *Table) bool { _, ok := tb.Bool("b"); return ok },
			[]string{"f.toml:2: b: must be true or false, not a string"}},
		{"Int of a string", func(tb *Table) bool { _, ok := tb.Int("i", 0, 100); return ok },
			[]string{"f.toml:3: i: must be an integer, not a string"}},
		{"Int of a float", func(tb *Table) bool { _, ok := tb.Int("f", 0, 100); return ok },
			[]string{"f.toml:4: f: must be an integer, not a float"}},
		{"Int out of range", func(tb *Table) bool { _, ok := tb.Int("r", 0, 10); return ok },
			[]string{"f.toml:5: r: 99 is out of range 0..10"}},
		{"Strings with bad elements at their own lines", func(tb *Table) bool { _, ok := tb.Strings("a"); return !ok },
			[]string{
				"f.toml:8: a: element 2 must be a string, not an integer",
				"f.toml:9: a: element 3 must be a string, not a boolean",
			}},
		{"Strings of a table", func(tb *Table) bool { _, ok := tb.Strings("n"); return ok },
			[]string{"f.toml:11: n: must be a string or an array of strings, not a table"}},
		{"Table of an array", func(tb *Table) bool { _, ok := tb.Table("a"); return ok },
			[]string{"f.toml:6: a: must be a table, not an array"}},
		{"nested key", func(tb *Table) bool {
			sub, ok := tb.Table("t")
			if !ok {
				return true
			}
			_, ok = sub.String("deep")
			return ok
		}, []string{"f.toml:13: t.deep: must be a string, not an array"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := mustParse(t, src)
			if tt.get(tb) {
				t.Error("getter reported a wrong value as present")
			}
			if got := errStrings(t, tb); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestGetterValues(t *testing.T) {
	tb := mustParse(t, `s = "x"
b = true
i = 42
one = "only"
many = ["a", "b"]
none = []
[t]
k = 1
`)
	if v, ok := tb.String("s"); !ok || v != "x" {
		t.Errorf("String = %q, %v", v, ok)
	}
	if v, ok := tb.Bool("b"); !ok || !v {
		t.Errorf("Bool = %v, %v", v, ok)
	}
	if v, ok := tb.Int("i", 42, 42); !ok || v != 42 {
		t.Errorf("Int at both bounds = %d, %v", v, ok)
	}
	// A single string stands for a one-element list: `cname = "www"`.
	if v, ok := tb.Strings("one"); !ok || !reflect.DeepEqual(v, []string{"only"}) {
		t.Errorf("Strings(one) = %q, %v", v, ok)
	}
	if v, ok := tb.Strings("many"); !ok || !reflect.DeepEqual(v, []string{"a", "b"}) {
		t.Errorf("Strings(many) = %q, %v", v, ok)
	}
	if v, ok := tb.Strings("none"); !ok || len(v) != 0 {
		t.Errorf("Strings(none) = %q, %v", v, ok)
	}
	if _, ok := tb.String("absent"); ok {
		t.Error("absent key reported present")
	}
	if !tb.IsTable("t") || tb.IsTable("s") || tb.IsTable("absent") {
		t.Error("IsTable wrong")
	}
	sub, ok := tb.Table("t")
	if !ok || sub.Path() != "t" || sub.Line("") != 7 || sub.Line("k") != 8 {
		t.Errorf("Table(t): ok=%v path=%q line=%d k at %d", ok, sub.Path(), sub.Line(""), sub.Line("k"))
	}
	if got := errStrings(t, tb); got != nil {
		t.Errorf("unexpected errors %q", got)
	}
}

// TestDone: a misspelt key must never quietly become a default, so every
// key that no getter read is reported with its full path and line; keys
// merely looked at with Has are not "read".
func TestDone(t *testing.T) {
	src := `origin = "x."
tll = 300
[pools."*.apps"]
addresses = ["192.0.2.1"]
adresses = ["192.0.2.2"]
[records."ns1.dev"]
a = "192.0.2.3"
"odd key" = 1
`
	tb := mustParse(t, src)
	tb.String("origin")
	tb.Has("tll")
	pools, _ := tb.Table("pools")
	for _, name := range pools.Keys() {
		p, _ := pools.Table(name)
		p.Strings("addresses")
		p.Done()
	}
	pools.Done()
	recs, _ := tb.Table("records")
	r, _ := recs.Table("ns1.dev")
	r.Strings("a")
	r.Done()
	recs.Done()
	tb.Done()
	want := []string{
		`f.toml:5: pools."*.apps".adresses: unknown key`,
		`f.toml:8: records."ns1.dev"."odd key": unknown key`,
		`f.toml:2: tll: unknown key`,
	}
	if got := errStrings(t, tb); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
}

func TestKeysSorted(t *testing.T) {
	tb := mustParse(t, "zz = 1\naa = 2\n[mm]\n[bb]\n")
	if got := tb.Keys(); !reflect.DeepEqual(got, []string{"aa", "bb", "mm", "zz"}) {
		t.Errorf("Keys = %q", got)
	}
}

func TestErrorfElemErrorf(t *testing.T) {
	tb := mustParse(t, "[soa]\nserial = 1\nlist = [\n  1,\n  2,\n]\n")
	soa, _ := tb.Table("soa")
	soa.Errorf("", "table %s", "problem")
	soa.Errorf("serial", "key problem")
	soa.Errorf("absent", "falls back to the table")
	soa.ElemErrorf("list", 1, "elem problem")
	want := []string{
		"f.toml:1: soa: table problem",
		"f.toml:2: soa.serial: key problem",
		"f.toml:1: soa.absent: falls back to the table",
		"f.toml:5: soa.list: elem problem",
	}
	if got := errStrings(t, tb); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
}

// TestParseSyntaxError: a syntax error ends reading and carries its line.
func TestParseSyntaxError(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int
	}{
		{"unterminated string", "a = 1\nb = \"x\n", 2},
		{"missing value", "a = 1\n\n[t]\nb =\n", 4},
		{"duplicate key", "a = 1\nb = 2\na = 3\n", 3},
		{"unclosed array", "a = [\n  1,\n  2\nb = 3\n", 4},
		{"bare word", "a = 1\nhello\n", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.toml", tt.src)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse error %v (%T) is not an *Error", err, err)
			}
			if e.File != "f.toml" || e.Line != tt.line {
				t.Errorf("error %q at %s:%d, want f.toml:%d", e, e.File, e.Line, tt.line)
			}
			if !strings.HasPrefix(e.Error(), fmt.Sprintf("f.toml:%d: ", tt.line)) {
				t.Errorf("error %q does not start with file:line", e)
			}
		})
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "z.toml")
	if err := os.WriteFile(p, []byte("a = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tb, err := Read(p)
	if err != nil || tb.File().Name != p {
		t.Fatalf("Read = %v, %v", tb, err)
	}
	if _, err := Read(filepath.Join(dir, "missing.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Read of a missing file: %v, want not-exist", err)
	}
}

// TestListSorted: problems come out in the order an operator fixes them,
// the same on every run (line, then text; line-less ones first).
func TestListSorted(t *testing.T) {
	var l List
	l.Add("f", 9, "k", "nine")
	l.Add("f", 2, "k", "two b")
	l.Append(errors.New("plain"))
	l.Add("f", 2, "k", "two a")
	l.Add("f", 0, "", "whole file")
	var got []string
	for _, e := range l.Sorted() {
		got = append(got, e.Error())
	}
	want := []string{"f: whole file", "plain", "f:2: k: two a", "f:2: k: two b", "f:9: k: nine"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Sorted = %q, want %q", got, want)
	}
}
