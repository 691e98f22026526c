package tomlfile

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// Finding each syntax error after the first costs a parse of the whole
// document: at most maxSyntaxErrors are reported, and the document is
// parsed again only while that makes at most maxSyntaxReparse bytes (a
// large zone is not parsed twenty more times).
const maxSyntaxErrors = 20

var maxSyntaxReparse = 64 << 20 // a variable for tests

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
// stopped at: the statement holding each error is blanked out (see
// blankStatement) and the document parsed again, at most twice per error
// reported. Errors come in line order, one per statement: an error at or
// above the last one is the same mistake seen again, or an echo of the
// blanking, and only widens what is blanked.
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
	blankAt := first.Line
	// Each round blanks a statement; a few rounds may only widen one.
	for round := 1; round <= 2*maxSyntaxErrors && blankAt > 0; round++ {
		from, changed := blankStatement(lines, blankAt, round)
		if !changed {
			break
		}
		_, err := decode(name, strings.Join(lines, ""))
		var e *Error
		if !errors.As(err, &e) {
			break
		}
		tidySyntaxError(e, lines)
		if e.Line <= last.Line {
			// The same mistake seen again (the statement was wider than
			// it looked), or one the blanking made: blank around it.
			blankAt = from - 1
			continue
		}
		switch {
		case len(errs) == maxSyntaxErrors:
			return append(errs, &Error{File: name, Line: e.Line,
				Msg: fmt.Sprintf("more syntax errors may follow; only the first %d of a file are reported", maxSyntaxErrors)})
		case (round+1)*len(src) > maxSyntaxReparse:
			return append(errs, &Error{File: name, Line: e.Line,
				Msg: fmt.Sprintf("more syntax errors may follow; a file this large is not parsed again for each (limit: %d MB in all)", maxSyntaxReparse>>20)})
		}
		errs, last, blankAt = append(errs, e), e, e.Line
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
	if _, after, ok := strings.Cut(e.Key, blankTable); ok {
		_, e.Key, _ = strings.Cut(after, `".`) // not a table of the file
	}
	if e.Key == "" || e.Line < 1 || e.Line > len(lines) {
		return
	}
	first, _ := badStatement(lines, e.Line)
	if i := strings.LastIndexByte(e.Key, '.'); !strings.Contains(lines[first-1], e.Key[i+1:]) {
		e.Key = ""
	}
}

// badStatement is the first line of the statement a syntax error at
// errLine is in, and its last line as far as the scanner can tell.
func badStatement(lines []string, errLine int) (first, scanned int) {
	// A statement the scanner runs into errLine, which starts one of its
	// own, was left open (an unclosed array): that one is the mistake.
	first, scanned = statementAt(lines, errLine)
	if first == errLine || !startsStatement(lines[errLine-1]) {
		first = statementStart(lines, errLine)
		_, scanned = statementAt(lines, first)
	}
	return first, scanned
}

// statementStart is the line the statement holding line starts on: the
// nearest at or above it that looks like the start of one, as the scanner
// cannot be trusted on broken text.
func statementStart(lines []string, line int) int {
	for ; line > 1; line-- {
		if startsStatement(lines[line-1]) {
			break
		}
	}
	return line
}

func startsStatement(line string) bool {
	return strings.HasPrefix(line, "[") || keyLine.MatchString(line) || hasBareEquals(line)
}

// hasBareEquals reports whether line has an '=' outside quotes and before
// any comment: a key/value, however broken its key.
func hasBareEquals(line string) bool {
	var quote rune
	for _, c := range line {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#':
			return false
		case c == '=':
			return true
		}
	}
	return false
}

// statementAt is the first and last line of the statement holding line.
func statementAt(lines []string, line int) (first, last int) {
	first, last = line, line
	s := &tomlScanner{src: strings.Join(lines, ""), line: 1, lines: &keyLines{}}
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

// blankTable names the tables that replace statements with syntax errors.
const blankTable = "dnsrr: syntax error"

// keyLine starts a key/value; a line starting with '[' starts a table.
// Lines that are neither continue a statement.
var keyLine = regexp.MustCompile(`^[ \t]*` + tomlKey + `([ \t]*\.[ \t]*` + tomlKey + `)*[ \t]*=`)

const tomlKey = `([A-Za-z0-9_\-]+|"([^"\\]|\\.)*"|'[^']*')`

// blankStatement blanks out, in lines (a document split after each
// newline), the statement holding line errLine, keeping the line count.
// The statement runs to the next line that starts a key/value or a table
// (the scanner cannot be trusted on broken text: an unclosed array would
// run to the end, a stray quote would end it early), or, when it opens a
// multi-line string, as far as the scanner says. Its first line becomes
// the header of a table nobody reads, so that the keys after it cannot
// collide with those of the table before. It returns the statement's
// first line and whether anything changed.
func blankStatement(lines []string, errLine, n int) (first int, changed bool) {
	first, scanned := badStatement(lines, errLine)
	last := first
	for l := first + 1; l <= len(lines); l++ {
		if strings.HasPrefix(lines[l-1], "[") { // a table header, however broken
			scanned = min(scanned, l-1)
			break
		}
		if last == l-1 && !keyLine.MatchString(lines[l-1]) {
			last = l
		}
	}
	if opensMultilineString(lines[first-1]) {
		last = max(last, scanned)
	}
	for l := first; l <= last; l++ {
		text := lines[l-1]
		blank := ""
		if strings.HasSuffix(text, "\n") {
			blank = "\n"
		}
		if l == first {
			blank = fmt.Sprintf("[\"%s %d\"]%s", blankTable, n, blank)
		}
		if text != blank {
			lines[l-1], changed = blank, true
		}
	}
	return first, changed
}

func opensMultilineString(line string) bool {
	return (strings.Count(line, `"""`)+strings.Count(line, `'''`))%2 == 1
}
