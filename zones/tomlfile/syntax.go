package tomlfile

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// maxSyntaxErrors bounds the syntax errors reported for one file: finding
// each costs a parse of the whole document.
const maxSyntaxErrors = 20

// decode parses src as TOML into a generic table, the error as an *Error.
func decode(name, src string) (map[string]any, error) {
	m := map[string]any{}
	if _, err := toml.Decode(src, &m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: name, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}
		}
		return nil, &Error{File: name, Msg: err.Error()}
	}
	return m, nil
}

// syntaxErrors finds the syntax errors after first, the one a parse of src
// stopped at: the statement holding each error is blanked out (a table
// header is replaced by one of a table nobody reads, so that its keys do
// not land in the table before it) and the document parsed again, up to
// maxSyntaxErrors times.
//
// Value errors ("ttl: must be an integer", "origin is missing") are not
// looked for once there is a syntax error: the blanked text changes the
// meaning of what follows (a key of a blanked header falls into another
// table, a blanked key is missing), so they would be false alarms as often
// as not. The operator fixes the syntax and runs the check again.
func syntaxErrors(name, src string, first *Error) []error {
	lines := strings.SplitAfter(src, "\n")
	tidySyntaxError(first, lines)
	errs, last := []error{first}, first
	for last.Line > 0 && blankStatement(lines, last.Line, len(errs)) {
		_, err := decode(name, strings.Join(lines, ""))
		var e *Error
		if !errors.As(err, &e) {
			break
		}
		tidySyntaxError(e, lines)
		if *e == *last {
			break // blanking did not get past it
		}
		if len(errs) == maxSyntaxErrors {
			return append(errs, &Error{File: name, Line: e.Line,
				Msg: fmt.Sprintf("more syntax errors may follow; only the first %d of a file are reported", maxSyntaxErrors)})
		}
		errs, last = append(errs, e), e
	}
	return errs
}

// tidySyntaxError corrects what BurntSushi/toml says about where an error
// is: an unclosed table header is noticed on the line after it, and the
// key it names is the last one it read, often in a statement before.
func tidySyntaxError(e *Error, lines []string) {
	if strings.Contains(e.Msg, "to end table name") && strings.HasSuffix(e.Msg, `got '\n' instead`) && e.Line > 1 {
		e.Line--
	}
	if e.Key == "" || e.Line < 1 || e.Line > len(lines) {
		return
	}
	first, _ := statementAt(lines, e.Line)
	if i := strings.LastIndexByte(e.Key, '.'); !strings.Contains(lines[first-1], e.Key[i+1:]) {
		e.Key = ""
	}
}

// statementAt is the first and last line of the statement holding line.
func statementAt(lines []string, line int) (first, last int) {
	first, last = line, line
	s := &tomlScanner{src: strings.Join(lines, ""), line: 1, lines: keyLines{}}
	s.statements(func(f, l int) bool {
		if f > line {
			return false
		}
		if l >= line {
			first, last = f, l
			return false
		}
		return true
	})
	return first, min(last, len(lines))
}

// headerLine is a table header alone on its line, as a statement swallowed
// by an unclosed array or string ends at.
var headerLine = regexp.MustCompile(`^\[\[?[ \t]*[A-Za-z0-9_\-."' \t]+\]\]?[ \t]*(#.*)?\r?\n?$`)

// blankStatement blanks out, in lines (a document split after each
// newline), the statement holding line errLine, keeping the line count. A
// statement the scanner runs past errLine (an unclosed array) ends before
// the next table header in column 0. It reports whether anything changed.
func blankStatement(lines []string, errLine, n int) bool {
	first, last := statementAt(lines, errLine)
	for l := first + 1; l <= last; l++ {
		if headerLine.MatchString(lines[l-1]) {
			last = l - 1
			break
		}
	}
	changed := false
	for l := first; l <= last; l++ {
		text := lines[l-1]
		blank := ""
		if strings.HasSuffix(text, "\n") {
			blank = "\n"
		}
		if l == first && strings.HasPrefix(strings.TrimLeft(text, " \t"), "[") {
			blank = fmt.Sprintf("[\"dnsrr: syntax error %d\"]%s", n, blank)
		}
		if text != blank {
			lines[l-1], changed = blank, true
		}
	}
	return changed
}
