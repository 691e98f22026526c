package tomlfile

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// File is a decoded TOML document whose values are read through typed
// getters. A getter that finds a value of the wrong kind records an error at
// the value's line and reports it as absent, so reading goes on and every
// mistake in the file is reported in one pass.
type File struct {
	Name  string
	Errs  *List
	src   string
	lines *keyLines // located on first use: only errors need lines
}

func (f *File) keyLines() *keyLines {
	if f.lines == nil {
		f.lines = scanKeyLines(f.src)
	}
	return f.lines
}

// Table is one TOML table of a File. Keys that no getter asked for are
// reported by Done as unknown: a misspelt key must never quietly turn into
// a default.
type Table struct {
	f    *File
	path []string
	m    map[string]any
	used map[string]bool
}

// Parse is Read for a document already in memory; name is used in errors.
func Parse(name, src string) (*Table, error) {
	m, err := decode(name, src)
	if err != nil {
		if e := err.(*Error); e.Line > 0 {
			return nil, errors.Join(syntaxErrors(name, src, e)...)
		}
		return nil, err
	}
	f := &File{Name: name, Errs: &List{}, src: src}
	return &Table{f: f, m: m, used: map[string]bool{}}, nil
}

// File returns the document the table belongs to.
func (t *Table) File() *File { return t.f }

// Path is the table's dotted key path.
func (t *Table) Path() string { return joinKey(t.path) }

func joinKey(path []string) string {
	parts := make([]string, len(path))
	for i, p := range path {
		if p == "" || strings.ContainsAny(p, ". \"'@*") {
			parts[i] = strconv.Quote(p)
		} else {
			parts[i] = p
		}
	}
	return strings.Join(parts, ".")
}

// KeyPath is the dotted path of key in this table, as errors name it.
func (t *Table) KeyPath(key string) string {
	if key == "" {
		return t.Path()
	}
	return joinKey(t.sub(key))
}

func (t *Table) sub(key string) []string {
	return append(append([]string(nil), t.path...), key)
}

// Line is the line of key in this table (the table's own line when key is "").
func (t *Table) Line(key string) int {
	if key == "" {
		return t.f.keyLines().line(t.path...)
	}
	return t.f.keyLines().line(t.sub(key)...)
}

// ElemLine is the line of element i of the array at key.
func (t *Table) ElemLine(key string, i int) int { return t.f.keyLines().elemLine(t.sub(key), i) }

// Errorf records a problem with key (the table itself when key is "").
func (t *Table) Errorf(key, format string, args ...any) {
	path := t.path
	if key != "" {
		path = t.sub(key)
	}
	t.f.Errs.Add(t.f.Name, t.Line(key), joinKey(path), format, args...)
}

// ElemErrorf records a problem with element i of the array at key.
func (t *Table) ElemErrorf(key string, i int, format string, args ...any) {
	t.f.Errs.Add(t.f.Name, t.ElemLine(key, i), joinKey(t.sub(key)), format, args...)
}

// HasIn reports whether sub-table table holds key (without marking either
// used): for messages about keys TOML put in an unexpected table.
func (t *Table) HasIn(table, key string) bool {
	m, ok := t.m[table].(map[string]any)
	if !ok {
		return false
	}
	_, ok = m[key]
	return ok
}

// Has reports whether key is present (without marking it used).
func (t *Table) Has(key string) bool { _, ok := t.m[key]; return ok }

// Len is the number of keys in the table.
func (t *Table) Len() int { return len(t.m) }

// Keys lists the table's keys in sorted order, marking none used.
func (t *Table) Keys() []string {
	keys := make([]string, 0, len(t.m))
	for k := range t.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Get returns the raw value at key, marking it used.
func (t *Table) Get(key string) (any, bool) { return t.get(key) }

func (t *Table) get(key string) (any, bool) {
	v, ok := t.m[key]
	if ok {
		t.used[key] = true
	}
	return v, ok
}

func kind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

// String returns the string at key.
func (t *Table) String(key string) (string, bool) {
	v, ok := t.get(key)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		t.Errorf(key, "must be a string, not %s", kind(v))
	}
	return s, ok
}

// Bool returns the boolean at key.
func (t *Table) Bool(key string) (bool, bool) {
	v, ok := t.get(key)
	if !ok {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		t.Errorf(key, "must be true or false, not %s", kind(v))
	}
	return b, ok
}

// Int returns the integer at key, checked against [lo, hi].
func (t *Table) Int(key string, lo, hi int64) (int64, bool) {
	v, ok := t.get(key)
	if !ok {
		return 0, false
	}
	n, ok := v.(int64)
	if !ok {
		t.Errorf(key, "must be an integer, not %s", kind(v))
		return 0, false
	}
	if n < lo || n > hi {
		t.Errorf(key, "%d is out of range %d..%d", n, lo, hi)
		return 0, false
	}
	return n, true
}

// Strings returns the string or array of strings at key. Elements of the
// wrong kind are reported and left out; element lines come from ElemLine.
func (t *Table) Strings(key string) ([]string, bool) {
	v, ok := t.get(key)
	if !ok {
		return nil, false
	}
	switch v := v.(type) {
	case string:
		return []string{v}, true
	case []any:
		out := make([]string, 0, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				t.ElemErrorf(key, i, "element %d must be a string, not %s", i+1, kind(e))
				continue
			}
			out = append(out, s)
		}
		return out, true
	}
	t.Errorf(key, "must be a string or an array of strings, not %s", kind(v))
	return nil, false
}

// Item is one element of a value read by Items: a string, or an array
// of strings (List set).
type Item struct {
	Index  int // the element's index in the array, for ElemErrorf
	Text   string
	List   []string
	IsList bool
}

// Items is Strings that also takes arrays of strings as elements, for
// values where a nested array means one thing made of parts (a TXT
// record's character-strings).
func (t *Table) Items(key string) ([]Item, bool) {
	v, ok := t.get(key)
	if !ok {
		return nil, false
	}
	switch v := v.(type) {
	case string:
		return []Item{{Text: v}}, true
	case []any:
		out := make([]Item, 0, len(v))
		for i, e := range v {
			switch e := e.(type) {
			case string:
				out = append(out, Item{Index: i, Text: e})
			case []any:
				list := make([]string, 0, len(e))
				for j, part := range e {
					s, ok := part.(string)
					if !ok {
						t.ElemErrorf(key, i, "element %d, part %d must be a string, not %s", i+1, j+1, kind(part))
						list = nil
						break
					}
					list = append(list, s)
				}
				if list != nil {
					out = append(out, Item{Index: i, List: list, IsList: true})
				}
			default:
				t.ElemErrorf(key, i, "element %d must be a string or an array of strings, not %s", i+1, kind(e))
			}
		}
		return out, true
	}
	t.Errorf(key, "must be a string or an array of strings, not %s", kind(v))
	return nil, false
}

// Table returns the sub-table at key.
func (t *Table) Table(key string) (*Table, bool) {
	v, ok := t.get(key)
	if !ok {
		return nil, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Errorf(key, "must be a table, not %s", kind(v))
		return nil, false
	}
	return &Table{f: t.f, path: t.sub(key), m: m, used: map[string]bool{}}, true
}

// IsTable reports whether key holds a table (inline or not).
func (t *Table) IsTable(key string) bool {
	_, ok := t.m[key].(map[string]any)
	return ok
}

// Done reports every key of the table that no getter read.
func (t *Table) Done() {
	for _, k := range t.Keys() {
		if !t.used[k] {
			t.Errorf(k, "unknown key")
		}
	}
}

// UnquotedDots reports the sub-tables of t, an entry of a table of names
// (pools.www, records.www, checks.web), whose keys are none of the entry's
// own (isKey): TOML splits [pools.www.eu] at every dot, so the name
// "www.eu" must be quoted, and "unknown key" alone would not say so. Each
// is reported with the quoted name to write and marked read. It returns
// true when t holds nothing else: t is not an entry but such a name's
// first labels, and the caller reads no further.
func (t *Table) UnquotedDots(isKey func(key string) bool) (onlyDots bool) {
	onlyDots = len(t.m) > 0
	for _, k := range t.Keys() {
		sub, ok := t.m[k].(map[string]any)
		if !ok || isKey(k) {
			onlyDots = false
			continue
		}
		t.used[k] = true
		name := append(append([]string(nil), t.path[1:]...), k)
		t.dottedNames(name, sub, isKey)
	}
	return onlyDots
}

// dottedNames reports the name written as the key path name (holding m),
// following tables that still hold only unknown tables ([pools.a.b.c]).
func (t *Table) dottedNames(name []string, m map[string]any, isKey func(string) bool) {
	deeper := len(m) > 0
	for k, v := range m {
		if _, ok := v.(map[string]any); !ok || isKey(k) {
			deeper = false
		}
	}
	if deeper {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			t.dottedNames(append(name[:len(name):len(name)], k), m[k].(map[string]any), isKey)
		}
		return
	}
	path := append([]string{t.path[0]}, name...)
	quoted := joinKey([]string{t.path[0], strings.Join(name, ".")})
	t.f.Errs.Add(t.f.Name, t.f.keyLines().line(path...), joinKey(path),
		"unknown key: if you meant the name %q, quote it: [%s]", strings.Join(name, "."), quoted)
}
