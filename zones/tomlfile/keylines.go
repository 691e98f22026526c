package tomlfile

import (
	"strconv"
	"strings"
)

// keyLines maps TOML key paths (and array elements, as "key\x00[i]") to the
// 1-based line where they appear. BurntSushi/toml keeps key positions
// private and stops at the first bad value, so to report every mistake with
// its line we decode the document generically and locate keys with this
// small scanner. It is meant for documents the real parser accepted, so it
// is lenient about malformed input (syntaxErrors uses it on those only to
// find where a statement starts and ends).
type keyLines map[string]int

func pathKey(path []string) string { return strings.Join(path, "\x00") }

func elemKey(path []string, i int) string {
	return pathKey(path) + "\x00[" + strconv.Itoa(i) + "]"
}

// line returns the line of path, falling back to its closest ancestor.
func (kl keyLines) line(path ...string) int {
	for n := len(path); n > 0; n-- {
		if l, ok := kl[pathKey(path[:n])]; ok {
			return l
		}
	}
	return 0
}

// elemLine returns the line of element i of the array at path.
func (kl keyLines) elemLine(path []string, i int) int {
	if l, ok := kl[elemKey(path, i)]; ok {
		return l
	}
	return kl.line(path...)
}

type tomlScanner struct {
	src   string
	pos   int
	line  int
	lines keyLines
}

func scanKeyLines(src string) keyLines {
	s := &tomlScanner{src: src, line: 1, lines: keyLines{}}
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
	var table []string
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
			table = s.keyPath()
			s.lines[pathKey(table)] = s.line
			// [pool.www] also makes the table pool, which has no line of
			// its own: a misspelt parent is reported at its first header.
			for n := 1; n < len(table); n++ {
				if _, ok := s.lines[pathKey(table[:n])]; !ok {
					s.lines[pathKey(table[:n])] = s.line
				}
			}
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

func (s *tomlScanner) keyValue(table []string) {
	line := s.line
	key := s.keyPath()
	if len(key) == 0 {
		return
	}
	path := append(append([]string(nil), table...), key...)
	// A dotted key also defines its intermediate tables (a.b.c = 1 makes
	// a.b): they sit on this line unless already seen.
	for n := len(table) + 1; n < len(path); n++ {
		if _, ok := s.lines[pathKey(path[:n])]; !ok {
			s.lines[pathKey(path[:n])] = line
		}
	}
	s.lines[pathKey(path)] = line
	s.value(path)
}

// value skips one value, recording the lines of array elements and of keys
// inside inline tables.
func (s *tomlScanner) value(path []string) {
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
			s.lines[elemKey(path, i)] = s.line
			start := s.pos
			s.value(append(path, "["+strconv.Itoa(i)+"]"))
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
			s.keyValue(path)
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
