package tomlfile

import (
	"strconv"
	"strings"
)

// keyLines locates TOML key paths (and array elements, as "[i]" segments)
// at the 1-based line where they appear. BurntSushi/toml keeps key
// positions private and stops at the first bad value, so to report every
// mistake with its line we decode the document generically and locate keys
// with this small scanner. It is meant for documents the real parser
// accepted, so it is lenient about malformed input (syntaxErrors uses
// it on those only to find where a statement starts and ends).
//
// Keys are kept as a tree, each node holding one segment: its memory grows
// with the document, where a map keyed by whole paths would hold each
// path's prefix once per key below it (a long table name over many keys
// made that quadratic).
type keyLines struct{ root keyNode }

type keyNode struct {
	line     int // 0: not seen as a key of its own (an ancestor's line stands for it)
	children map[string]*keyNode
	elems    []*keyNode // array elements
}

func (n *keyNode) child(name string) *keyNode {
	c := n.children[name]
	if c == nil {
		if n.children == nil {
			n.children = map[string]*keyNode{}
		}
		c = &keyNode{}
		n.children[name] = c
	}
	return c
}

func (n *keyNode) elem(i int) *keyNode {
	for len(n.elems) <= i {
		n.elems = append(n.elems, &keyNode{})
	}
	return n.elems[i]
}

// next is the node of one path segment below n, nil if never seen.
func (n *keyNode) next(seg string) *keyNode {
	if c := n.children[seg]; c != nil {
		return c
	}
	if len(seg) > 2 && seg[0] == '[' && seg[len(seg)-1] == ']' {
		if i, err := strconv.Atoi(seg[1 : len(seg)-1]); err == nil && i >= 0 && i < len(n.elems) {
			return n.elems[i]
		}
	}
	return nil
}

// walk follows path as far as it was seen: the node reached (nil unless
// the whole path was) and the line of the closest node with one.
func (kl *keyLines) walk(path []string) (*keyNode, int) {
	n, line := &kl.root, 0
	for _, seg := range path {
		if n = n.next(seg); n == nil {
			return nil, line
		}
		if n.line > 0 {
			line = n.line
		}
	}
	return n, line
}

// line returns the line of path, falling back to its closest ancestor.
func (kl *keyLines) line(path ...string) int {
	_, l := kl.walk(path)
	return l
}

// elemLine returns the line of element i of the array at path.
func (kl *keyLines) elemLine(path []string, i int) int {
	n, l := kl.walk(path)
	if n != nil && i < len(n.elems) && n.elems[i].line > 0 {
		return n.elems[i].line
	}
	return l
}

// get returns the line recorded for exactly path.
func (kl *keyLines) get(path ...string) (int, bool) {
	n, _ := kl.walk(path)
	if n == nil || n.line == 0 {
		return 0, false
	}
	return n.line, true
}

type tomlScanner struct {
	src   string
	pos   int
	line  int
	lines *keyLines
}

func scanKeyLines(src string) *keyLines {
	s := &tomlScanner{src: src, line: 1, lines: &keyLines{}}
	s.statements(nil)
	return s.lines
}

// statements scans the document statement by statement (a table header or
// a key/value), recording key lines and, when each is not nil, calling it
// with every statement's first and last line; each returns false to stop.
func (s *tomlScanner) statements(each func(first, last int) bool) {
	defer func() {
		// The scanner is meant for documents the TOML parser accepted;
		// should it trip on one, errors lose their lines, not the process.
		_ = recover()
	}()
	table := &s.lines.root
	for s.pos < len(s.src) {
		s.skipSpace(true)
		if s.pos >= len(s.src) {
			break
		}
		first := s.line
		switch s.src[s.pos] {
		case '[':
			s.pos++
			if s.peek() == '[' {
				s.pos++
			}
			table = &s.lines.root
			for _, seg := range s.keyPath() {
				table = table.child(seg)
				// [pool.www] also makes the table pool, which has no line
				// of its own: a misspelt parent is reported at its first
				// header.
				if table.line == 0 {
					table.line = s.line
				}
			}
			table.line = s.line
			s.skipTo('\n')
		default:
			start := s.pos
			s.keyValue(table)
			if s.pos == start { // not a key: skip the line rather than loop
				s.skipTo('\n')
			}
		}
		if each != nil && !each(first, s.line) {
			return
		}
	}
}

func (s *tomlScanner) peek() byte {
	if s.pos < len(s.src) {
		return s.src[s.pos]
	}
	return 0
}

func (s *tomlScanner) advance() {
	if s.src[s.pos] == '\n' {
		s.line++
	}
	s.pos++
}

// skipSpace skips blanks and comments, and newlines too when multiline.
func (s *tomlScanner) skipSpace(multiline bool) {
	for s.pos < len(s.src) {
		switch c := s.src[s.pos]; {
		case c == ' ' || c == '\t' || c == '\r':
			s.pos++
		case c == '\n' && multiline:
			s.advance()
		case c == '#':
			for s.pos < len(s.src) && s.src[s.pos] != '\n' {
				s.pos++
			}
		default:
			return
		}
	}
}

func (s *tomlScanner) skipTo(c byte) {
	for s.pos < len(s.src) && s.src[s.pos] != c {
		s.advance()
	}
}

// keyPath reads a dotted key up to '=' or ']' (consumed).
func (s *tomlScanner) keyPath() []string {
	var path []string
	for s.pos < len(s.src) {
		s.skipSpace(false)
		switch c := s.peek(); c {
		case '"', '\'':
			start := s.pos
			s.skipString()
			raw := s.src[start:s.pos]
			if c == '"' {
				if u, err := strconv.Unquote(raw); err == nil {
					raw = u
				} else {
					raw = raw[1 : len(raw)-1]
				}
			} else {
				raw = raw[1 : len(raw)-1]
			}
			path = append(path, raw)
		case '.':
			s.pos++
		case '=', ']':
			s.pos++
			if c == ']' && s.peek() == ']' {
				s.pos++
			}
			return path
		case '\n', 0:
			return path
		default:
			start := s.pos
			for s.pos < len(s.src) && isBareKeyChar(s.src[s.pos]) {
				s.pos++
			}
			if s.pos == start {
				return path
			}
			path = append(path, s.src[start:s.pos])
		}
	}
	return path
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func (s *tomlScanner) keyValue(table *keyNode) {
	line := s.line
	key := s.keyPath()
	if len(key) == 0 {
		return
	}
	n := table
	for i, seg := range key {
		n = n.child(seg)
		// A dotted key also defines its intermediate tables (a.b.c = 1
		// makes a.b): they sit on this line unless already seen.
		if i < len(key)-1 && n.line == 0 {
			n.line = line
		}
	}
	n.line = line
	s.value(n)
}

// value skips one value, recording the lines of array elements and of keys
// inside inline tables.
func (s *tomlScanner) value(n *keyNode) {
	s.skipSpace(false)
	switch s.peek() {
	case '"', '\'':
		s.skipString()
	case '[':
		s.pos++
		for i := 0; s.pos < len(s.src); i++ {
			s.skipSpace(true)
			if s.peek() == ']' {
				s.pos++
				return
			}
			e := n.elem(i)
			e.line = s.line
			start := s.pos
			s.value(e)
			s.skipSpace(true)
			if s.peek() == ',' {
				s.pos++
			} else if s.pos == start {
				s.advance() // malformed; make progress
			}
		}
	case '{':
		s.pos++
		for s.pos < len(s.src) {
			s.skipSpace(true)
			switch s.peek() {
			case '}':
				s.pos++
				return
			case ',':
				s.pos++
				continue
			}
			start := s.pos
			s.keyValue(n)
			if s.pos == start {
				s.advance()
			}
		}
	default:
		for s.pos < len(s.src) {
			c := s.src[s.pos]
			if c == ',' || c == ']' || c == '}' || c == '\n' || c == '#' {
				return
			}
			s.pos++
		}
	}
}

// skipString skips a basic, literal or multi-line string.
func (s *tomlScanner) skipString() {
	q := s.src[s.pos]
	if strings.HasPrefix(s.src[s.pos:], strings.Repeat(string(q), 3)) {
		s.pos += 3
		for s.pos < len(s.src) {
			if q == '"' && s.src[s.pos] == '\\' {
				s.pos++
				if s.pos < len(s.src) {
					s.advance()
				}
				continue
			}
			if strings.HasPrefix(s.src[s.pos:], strings.Repeat(string(q), 3)) {
				s.pos += 3
				for s.peek() == q { // up to two quotes may close the content
					s.pos++
				}
				return
			}
			s.advance()
		}
		return
	}
	s.pos++
	for s.pos < len(s.src) && s.src[s.pos] != '\n' {
		c := s.src[s.pos]
		s.pos++
		if q == '"' && c == '\\' && s.pos < len(s.src) {
			s.pos++
			continue
		}
		if c == q {
			return
		}
	}
}
