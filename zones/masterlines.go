package zones

import (
	"bytes"
	"math"
	"strings"
)

// recordLines returns the line each record of an RFC 1035 master file
// starts on, in the order miekg/dns's parser yields them, which does not
// say where a record came from. ok is false when the file holds something
// this scan cannot count; errors then go without a line rather than with
// a wrong one.
func recordLines(src []byte) (lines []int, ok bool) {
	sc := scanMaster(src, 0, "")
	return sc.lines, sc.ok
}

// masterScan is what one pass over a master file finds: where each record
// starts, and where the file may be cut into parts that parse on their own.
type masterScan struct {
	lines []int
	ok    bool
	// tooMany: the file holds more than maxRecords records; the scan
	// stopped there.
	tooMany bool
	// parts start at records with an explicit owner, with the $ORIGIN and
	// $TTL in force there; nil when the file cannot be cut safely (no $TTL
	// before the first record, $GENERATE).
	parts []masterPart
}

type masterPart struct {
	offset int    // byte offset where the part starts
	prefix string // $ORIGIN and $TTL to set before it
}

// scanMaster scans src; with parts > 1 it also cuts it into about that
// many pieces of similar size. origin is the parser's initial origin.
func scanMaster(src []byte, parts int, origin string) masterScan {
	return scanMasterLimited(src, parts, origin, DefaultLimits().MaxRecords)
}

// scanMasterLimited is scanMaster that stops at more than maxRecords
// records ($GENERATE lines count for all theirs), before it has counted
// them one by one.
func scanMasterLimited(src []byte, parts int, origin string, maxRecords int) (sc masterScan) {
	line, depth, inQuote := 1, 0, false
	var tokens [2][]byte // the first two tokens of the current logical record
	ntok := 0
	start := 0        // line where the current logical record started, 0 before its first token
	startOff := 0     // its byte offset
	ownerSet := false // the record began in column 0: its owner is explicit
	tokStart := -1    // offset where the current token started, -1 between tokens
	ttl, seenRecord, cuttable := "", false, parts > 1
	nextCut := len(src) / max(parts, 1)
	var lines []int
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
		case bytes.EqualFold(first, []byte("$ORIGIN")):
			if ntok > 1 {
				origin = string(tokens[1])
			}
			return true
		case bytes.EqualFold(first, []byte("$TTL")):
			if ntok > 1 {
				ttl = string(tokens[1])
			}
			return true
		case bytes.EqualFold(first, []byte("$GENERATE")):
			cuttable = false
			n, ok := generateCount(tokens[:ntok])
			if n > maxRecords-len(lines) {
				sc.tooMany = true
				return false
			}
			for range n {
				lines = append(lines, start)
			}
			return ok
		case bytes.HasPrefix(first, []byte("$")):
			return false
		}
		if !seenRecord && ttl == "" {
			cuttable = false // records inherit the previous record's TTL
		}
		seenRecord = true
		if len(lines) == maxRecords {
			sc.tooMany = true
			return false
		}
		if cuttable && ownerSet && startOff >= nextCut && strings.HasSuffix(origin, ".") {
			sc.parts = append(sc.parts, masterPart{offset: startOff, prefix: "$ORIGIN " + origin + "\n$TTL " + ttl + "\n"})
			nextCut = startOff + len(src)/parts
		}
		lines = append(lines, start)
		return true
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if start == 0 && c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ';' {
			start, startOff = line, i
			ownerSet = i == 0 || src[i-1] == '\n'
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
					return sc
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
		return sc
	}
	sc.lines, sc.ok = lines, depth == 0 && !inQuote
	if !cuttable || !sc.ok {
		sc.parts = nil
	}
	return sc
}

// generateCount is how many records "$GENERATE start-stop[/step] ..."
// yields (at most MaxInt).
func generateCount(tokens [][]byte) (int, bool) {
	if len(tokens) < 2 {
		return 0, false
	}
	n, ok := generateRange(string(tokens[1]))
	return int(min(n, math.MaxInt)), ok
}
