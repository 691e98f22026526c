package tomlfile

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dnsrr/dnsrr/internal/safefile"
)

// Limits bound a TOML document before it is decoded. The decoder's memory
// grows with the square of the nesting depth (each level copies the key
// path above it), so depth is checked first, by a pass over the raw bytes
// that costs nothing but the time to read them.
type Limits struct {
	MaxDepth      int    // keys (each part of a dotted key) and array elements, nested
	DepthKey      string // the setting that raises it, named in the error
	MaxLineLength int    // bytes
	LineLengthKey string
	// MaxKeyBytes bounds the full paths of all keys, added up: the decoder
	// keeps each key's path (its table's name and its own) as one string,
	// so 20,000 keys under a table named by a 100 KB string took 2 GB.
	MaxKeyBytes int64
	KeyBytesKey string
}

// DefaultLimits hold a configuration file (whose limits cannot come from
// the configuration itself).
var DefaultLimits = Limits{MaxDepth: 32, MaxLineLength: 1 << 20, MaxKeyBytes: MaxFileSize}

// MaxFileSize is the largest configuration file Read reads.
const MaxFileSize = 4 << 20

// Read parses the file at path, at most MaxFileSize bytes, a regular file
// (see safefile). A syntax error ends reading (the rest of the document
// cannot be trusted) and is returned with its line; otherwise the root
// table is returned and value errors accumulate in File.Errs.
func Read(path string) (*Table, error) {
	src, _, err := safefile.ReadStable(path, MaxFileSize)
	if err != nil {
		return nil, err
	}
	return ParseLimited(path, string(src), DefaultLimits)
}

// ParseLimited is Parse after checking the document against lim.
func ParseLimited(name, src string, lim Limits) (*Table, error) {
	if err := CheckShape(name, src, lim); err != nil {
		return nil, err
	}
	return Parse(name, src)
}

// Line is the line of a key path in the document (0 when unknown).
func (f *File) Line(path ...string) int { return f.keyLines().line(path...) }

// CheckShape measures the nesting depth and line length of src. It reads
// strings and comments as TOML does, so that brackets inside them do not
// count, but is lenient otherwise: malformed input is the decoder's to
// report, and the depth it finds is never less than the decoder's.
func CheckShape(name, src string, lim Limits) error {
	type open struct {
		table bool // '{': keys follow; '[': values
		depth int  // depth of the container itself
		path  int  // bytes of its key path
	}
	var stack []open
	line, lineStart := 1, 0
	tableDepth := 0             // of the current [table] header
	arrays := map[string]bool{} // arrays of tables seen, by path
	inKey, keyStart := false, true
	keyDepth := 0                             // depth of the key being read: its container's plus its segments
	tablePath, keyStartAt, keyPath := 0, 0, 0 // bytes of key paths
	var keyBytes int64                        // all keys' paths, added up
	addKey := func(n int) error {
		keyBytes += int64(n)
		if lim.MaxKeyBytes > 0 && keyBytes > lim.MaxKeyBytes {
			return &Error{File: name, Line: line, Msg: fmt.Sprintf("the full paths of the keys add up to more than %d bytes: "+
				"shorten the table names%s", lim.MaxKeyBytes, setting(lim.KeyBytesKey))}
		}
		return nil
	}
	basePath := func() int {
		if len(stack) > 0 {
			return stack[len(stack)-1].path
		}
		return tablePath
	}
	tooDeep := func(d int) error {
		if lim.MaxDepth > 0 && d > lim.MaxDepth {
			return &Error{File: name, Line: line,
				Msg: fmt.Sprintf("nesting deeper than %d levels%s", lim.MaxDepth, setting(lim.DepthKey))}
		}
		return nil
	}
	base := func() int { // depth of a key or value starting here
		if len(stack) > 0 {
			return stack[len(stack)-1].depth
		}
		return tableDepth
	}
	newline := func(i int) error {
		if lim.MaxLineLength > 0 && i-lineStart > lim.MaxLineLength {
			return &Error{File: name, Line: line,
				Msg: fmt.Sprintf("line is %d bytes long, above the limit of %d%s", i-lineStart, lim.MaxLineLength, setting(lim.LineLengthKey))}
		}
		line, lineStart = line+1, i+1
		return nil
	}
	// skipString skips the string starting at i, returning the index of
	// its last byte; newlines inside multi-line strings are counted.
	skipString := func(i int) (int, error) {
		q := src[i]
		multi := len(src)-i >= 3 && src[i+1] == q && src[i+2] == q
		if multi {
			i += 3
		} else {
			i++
		}
		for ; i < len(src); i++ {
			switch c := src[i]; {
			case c == '\\' && q == '"':
				i++
				if i < len(src) && src[i] == '\n' {
					if err := newline(i); err != nil {
						return i, err
					}
				}
			case c == '\n':
				if !multi {
					return i - 1, nil // unterminated: the decoder says so
				}
				if err := newline(i); err != nil {
					return i, err
				}
			case c == q && !multi:
				return i, nil
			case c == q && len(src)-i >= 3 && src[i+1] == q && src[i+2] == q:
				for i+3 < len(src) && src[i+3] == q { // up to two quotes close the content
					i++
				}
				return i + 2, nil
			}
		}
		return len(src), nil
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\n':
			if err := newline(i); err != nil {
				return err
			}
			if len(stack) == 0 {
				inKey, keyStart = false, true
			}
		case c == ' ' || c == '\t' || c == '\r':
		case c == '#':
			if j := strings.IndexByte(src[i:], '\n'); j >= 0 {
				i += j - 1 // let the newline be seen
			} else {
				i = len(src) - 1
			}
		case keyStart && len(stack) == 0 && c == '[':
			// A table header: one level per segment, and one more for
			// each array of tables it passes through or makes.
			array, j := false, i+1
			if j < len(src) && src[j] == '[' {
				array, j = true, j+1
			}
			var segs []string
			seg := strings.Builder{}
			for ; j < len(src) && src[j] != ']' && src[j] != '\n'; j++ {
				switch c := src[j]; c {
				case '.':
					segs = append(segs, strings.TrimSpace(seg.String()))
					seg.Reset()
					if err := tooDeep(len(segs)); err != nil {
						return err // before joining a long path's prefixes
					}
				case '"', '\'':
					end, err := skipString(j)
					if err != nil {
						return err
					}
					raw := src[j:min(end+1, len(src))]
					if u, err := strconv.Unquote(raw); c == '"' && err == nil {
						raw = u
					} else if len(raw) >= 2 {
						raw = raw[1 : len(raw)-1]
					}
					seg.WriteString(raw)
					j = end
				default:
					seg.WriteByte(c)
				}
			}
			segs = append(segs, strings.TrimSpace(seg.String()))
			d := len(segs)
			for k := 1; k <= len(segs); k++ {
				if arrays[strings.Join(segs[:k], "\x00")] {
					d++
				}
			}
			if array {
				arrays[strings.Join(segs, "\x00")] = true
				d++
			}
			if err := tooDeep(d); err != nil {
				return err
			}
			tablePath = j - i
			if err := addKey(tablePath); err != nil {
				return err
			}
			tableDepth, keyStart, i = d, false, j
		case c == '"' || c == '\'':
			if keyStart {
				inKey, keyStart, keyDepth, keyStartAt = true, false, base()+1, i
			}
			end, err := skipString(i)
			if err != nil {
				return err
			}
			i = end
		case inKey && c == '.':
			keyDepth++
			if err := tooDeep(keyDepth); err != nil {
				return err
			}
		case inKey && c == '=':
			inKey = false
			keyPath = basePath() + i - keyStartAt
			if err := addKey(keyPath); err != nil {
				return err
			}
		case !inKey && !keyStart && (c == '[' || c == '{'):
			// A container sits where its key or array element does; the
			// keys of an inline table and the elements of an array are one
			// level deeper.
			d, path := keyDepth, keyPath
			if len(stack) > 0 && !stack[len(stack)-1].table {
				d, path = stack[len(stack)-1].depth+1, stack[len(stack)-1].path
			}
			if c == '[' {
				if err := tooDeep(d + 1); err != nil {
					return err
				}
			}
			stack = append(stack, open{table: c == '{', depth: d, path: path})
			keyStart = c == '{'
		case !inKey && (c == ']' || c == '}'):
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case !inKey && c == ',':
			keyStart = len(stack) > 0 && stack[len(stack)-1].table
		case keyStart:
			inKey, keyStart, keyDepth, keyStartAt = true, false, base()+1, i
			if err := tooDeep(keyDepth); err != nil {
				return err
			}
		}
	}
	return newline(len(src))
}

func setting(key string) string {
	if key == "" {
		return ""
	}
	return " (" + key + ")"
}
