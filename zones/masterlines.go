package zones

import (
	"bytes"
	"strconv"
	"strings"
)

// recordLines returns the line each record of an RFC 1035 master file
// starts on, in the order miekg/dns's parser yields them, which does not
// say where a record came from. ok is false when the file holds something
// this scan cannot count; errors then go without a line rather than with
// a wrong one.
func recordLines(src []byte) (lines []int, ok bool) {
	line, depth, inQuote := 1, 0, false
	var tokens [2][]byte // the first two tokens of the current logical record
	ntok := 0
	start := 0     // line where the current logical record started, 0 before its first token
	tokStart := -1 // offset where the current token started, -1 between tokens
	endToken := func(i int) {
		if tokStart >= 0 && ntok < len(tokens) {
			tokens[ntok] = src[tokStart:i]
			ntok++
		}
		tokStart = -1
	}
	endRecord := func(i int) bool {
		endToken(i)
		defer func() { ntok, start = 0, 0 }()
		if start == 0 {
			return true // blank or comment only
		}
		var first []byte
		if ntok > 0 {
			first = tokens[0]
		}
		switch {
		case bytes.EqualFold(first, []byte("$ORIGIN")) || bytes.EqualFold(first, []byte("$TTL")):
			return true
		case bytes.EqualFold(first, []byte("$GENERATE")):
			n, ok := generateCount(tokens[:ntok])
			for range n {
				lines = append(lines, start)
			}
			return ok
		case bytes.HasPrefix(first, []byte("$")):
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
			if tokStart < 0 {
				tokStart = i
			}
			if i+1 < len(src) {
				i++
				if src[i] == '\n' {
					line++
				}
			}
		case c == '"':
			if tokStart < 0 {
				tokStart = i
			}
			inQuote = !inQuote
		case inQuote:
			if c == '\n' {
				line++
			}
		case c == ';':
			endToken(i)
			for i < len(src) && src[i] != '\n' {
				i++
			}
			i-- // let the newline be seen
		case c == '(' || c == ')':
			endToken(i)
			if c == '(' {
				depth++
			} else {
				depth--
			}
		case c == '\n':
			if depth == 0 {
				if !endRecord(i) {
					return nil, false
				}
			} else {
				endToken(i)
			}
			line++
		case c == ' ' || c == '\t' || c == '\r':
			endToken(i)
		default:
			if tokStart < 0 {
				tokStart = i
			}
		}
	}
	if !endRecord(len(src)) {
		return nil, false
	}
	return lines, depth == 0 && !inQuote
}

// generateCount is how many records "$GENERATE start-stop[/step] ..."
// yields.
func generateCount(tokens [][]byte) (int, bool) {
	if len(tokens) < 2 {
		return 0, false
	}
	rng, stepStr, hasStep := strings.Cut(string(tokens[1]), "/")
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
