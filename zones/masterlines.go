package zones

import (
	"strconv"
	"strings"
)

// recordLines returns the line each record of an RFC 1035 master file
// starts on, in the order miekg/dns's parser yields them, which does not
// say where a record came from. ok is false when the file holds something
// this scan cannot count; errors then go without a line rather than with
// a wrong one.
func recordLines(src string) (lines []int, ok bool) {
	line, depth, inQuote := 1, 0, false
	var tokens []string // tokens of the current logical record, up to three
	start := 0          // line where the current logical record started, 0 before its first token
	var tok strings.Builder
	endToken := func() {
		if tok.Len() > 0 && len(tokens) < 3 {
			tokens = append(tokens, tok.String())
		}
		tok.Reset()
	}
	endRecord := func() bool {
		endToken()
		defer func() { tokens, start = tokens[:0], 0 }()
		if start == 0 {
			return true // blank or comment only
		}
		first := ""
		if len(tokens) > 0 {
			first = strings.ToUpper(tokens[0])
		}
		switch first {
		case "$ORIGIN", "$TTL":
			return true
		case "$GENERATE":
			n, ok := generateCount(tokens)
			for range n {
				lines = append(lines, start)
			}
			return ok
		}
		if len(tokens) > 0 && strings.HasPrefix(tokens[0], "$") {
			return false
		}
		lines = append(lines, start)
		return true
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if start == 0 && c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ';' {
			start = line
		}
		switch {
		case c == '\\':
			tok.WriteByte(c)
			if i+1 < len(src) {
				i++
				tok.WriteByte(src[i])
				if src[i] == '\n' {
					line++
				}
			}
		case c == '"':
			inQuote = !inQuote
			tok.WriteByte(c)
		case inQuote:
			tok.WriteByte(c)
			if c == '\n' {
				line++
			}
		case c == ';':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			i-- // let the newline be seen
		case c == '(':
			endToken()
			depth++
		case c == ')':
			endToken()
			depth--
		case c == '\n':
			if depth == 0 {
				if !endRecord() {
					return nil, false
				}
			} else {
				endToken()
			}
			line++
		case c == ' ' || c == '\t' || c == '\r':
			endToken()
		default:
			tok.WriteByte(c)
		}
	}
	if !endRecord() {
		return nil, false
	}
	return lines, depth == 0 && !inQuote
}

// generateCount is how many records "$GENERATE start-stop[/step] ..."
// yields.
func generateCount(tokens []string) (int, bool) {
	if len(tokens) < 2 {
		return 0, false
	}
	rng, stepStr, hasStep := strings.Cut(tokens[1], "/")
	from, to, ok := strings.Cut(rng, "-")
	a, err1 := strconv.Atoi(from)
	b, err2 := strconv.Atoi(to)
	step := 1
	var err3 error
	if hasStep {
		step, err3 = strconv.Atoi(stepStr)
	}
	if !ok || err1 != nil || err2 != nil || err3 != nil || step <= 0 || b < a {
		return 0, false
	}
	return (b-a)/step + 1, true
}
