package zones

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/dnsrr/dnsrr/zones/tomlfile"
	"github.com/miekg/dns"
)

// maxMasterErrors is how many syntax errors of one master file are
// reported; the rest are counted in one last line. A file of garbage would
// otherwise print a line per line of it.
const maxMasterErrors = 100

// parseMasterResuming parses a master file from start to end, reporting
// every syntax error rather than the first: miekg/dns's parser stops at an
// error, so a fresh one resumes at the next logical record, in the state a
// clean parse has there (origin, $TTL, the previous owner and TTL). A bad
// record is skipped as if it were right: its owner and TTL, when they can
// be read, are inherited by the records after it, so one mistake is one
// error and moves no later record. Errors are file:line: message.
func parseMasterResuming(text []byte, origin, path string, p pace, maxRecords int) (rrs []dns.RR, errs []error) {
	st := masterState{origin: origin}
	off, line := 0, 1
	more, moreLine := 0, 0 // errors past maxMasterErrors
	rrs = make([]dns.RR, 0, min(bytes.Count(text, []byte{'\n'})+1, maxRecords+1))
	for {
		prefix, dummy := st.prefix(text[off:])
		var r io.Reader = bytes.NewReader(text[off:]) // read as before when whole
		if prefix != "" {
			r = io.MultiReader(strings.NewReader(prefix), r)
		}
		zp := dns.NewZoneParser(r, st.origin, path)
		zp.SetIncludeAllowed(false) // an $INCLUDE could read any file the server can
		n := len(rrs)
		for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
			if dummy {
				dummy = false
				continue
			}
			if !p.yield(len(rrs)) {
				return rrs, errs // Loader.Stop: the load is thrown away
			}
			rrs = append(rrs, rr)
			if len(rrs) > maxRecords {
				return rrs, errs // [limits] max_records: the caller says so
			}
		}
		err := zp.Err()
		if err == nil {
			break
		}
		// The parser counts lines from the start of what it was fed.
		fed := strings.Count(prefix, "\n")
		msg, errLine := err.Error(), 0
		var pe *dns.ParseError
		if errors.As(err, &pe) {
			msg, errLine = splitParseError(pe)
			errLine = max(errLine-fed, 1) + line - 1
		}
		if len(rrs) > n {
			st.follow(rrs[len(rrs)-1])
		}
		failed, next, ok := st.skipFailed(text, off, line, errLine)
		if len(errs) < maxMasterErrors {
			errs = append(errs, &tomlfile.Error{File: path, Line: errLine, Msg: explainParseError(msg, failed)})
		} else if more++; more == 1 {
			moreLine = errLine
		}
		if !ok || errLine == 0 {
			break
		}
		off, line = next.offset, next.first
	}
	if more > 0 {
		errs = append(errs, &tomlfile.Error{File: path, Line: moreLine,
			Msg: fmt.Sprintf("%d more errors from here on; only the first %d of a file are reported", more, maxMasterErrors)})
	}
	return rrs, errs
}

// masterState is what the records after a point of a master file depend
// on, as miekg/dns's parser keeps it.
type masterState struct {
	origin  string // absolute
	ttl     string // the $TTL in force, "" when none
	lastTTL string // the previous record's TTL, inherited when there is no $TTL
	owner   string // the previous record's owner, inherited by a record starting with a blank
}

// prefix is the text to feed the parser before rest (which starts a line)
// so that it parses in this state. With dummy set, the first record it
// yields is the prefix's own and must be dropped.
func (st masterState) prefix(rest []byte) (prefix string, dummy bool) {
	var b strings.Builder
	switch {
	case st.ttl != "":
		b.WriteString("$TTL " + st.ttl + "\n")
	case st.lastTTL != "":
		// Only a record with a TTL of its own sets the TTL later records
		// inherit ($TTL would also stop them changing it).
		b.WriteString("@ " + st.lastTTL + " IN TXT \"\"\n")
		dummy = true
	}
	if st.owner != "" && len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		b.WriteString(st.owner) // before the first record's leading blank: its owner
	}
	return b.String(), dummy
}

// follow takes the owner and TTL of a record that parsed.
func (st *masterState) follow(rr dns.RR) {
	st.owner = rr.Header().Name
	st.lastTTL = strconv.FormatUint(uint64(rr.Header().Ttl), 10)
}

// skipFailed walks the records from off (on line) to the one holding
// errLine, taking the directives before it and what the failed record's
// header says, and returns it and the record after it.
func (st *masterState) skipFailed(text []byte, off, line, errLine int) (failed, next masterRecord, ok bool) {
	rec, ok := nextMasterRecord(text, off, line, true)
	for ok {
		next, ok = nextMasterRecord(text, rec.end, rec.last+1, true)
		if rec.last >= errLine || !ok || next.first > errLine {
			st.takeHeader(rec)
			return rec, next, ok
		}
		st.takeDirective(rec)
		rec = next
	}
	return rec, next, false
}

// explainParseError rewords the miekg/dns messages that mislead: a record
// type it does not know, or a directive, is "not a TTL" to it.
func explainParseError(msg string, failed masterRecord) string {
	if msg == `unexpected newline at "\n"` {
		return "the record ends before its data"
	}
	if strings.HasSuffix(msg, ` at "\n"`) {
		msg = strings.TrimSuffix(msg, ` at "\n"`) + " at the end of the record"
	}
	tok, isNotTTL := strings.CutPrefix(msg, "not a TTL at ")
	if !isNotTTL {
		return msg
	}
	if failed.owned && len(failed.tokens) > 0 && strings.HasPrefix(failed.tokens[0], "$") {
		return fmt.Sprintf("unknown directive %s: only $ORIGIN, $TTL and $GENERATE are read", failed.tokens[0])
	}
	if t, err := strconv.Unquote(tok); err == nil && t != "" && !isTTL(t) && (t[0] < '0' || t[0] > '9') {
		return fmt.Sprintf("unknown record type %q (or a misplaced TTL or class)", t)
	}
	return msg
}

// takeDirective follows a $ORIGIN or $TTL that parsed.
func (st *masterState) takeDirective(rec masterRecord) {
	if !rec.owned || len(rec.tokens) < 2 {
		return
	}
	switch strings.ToUpper(rec.tokens[0]) {
	case "$ORIGIN":
		if o, ok := absoluteName(rec.tokens[1], st.origin); ok {
			st.origin = o
		}
	case "$TTL":
		st.ttl = rec.tokens[1]
	}
}

// takeHeader takes the owner and TTL of a record that failed to parse, as
// far as they are valid, as the parser had before it hit the mistake.
func (st *masterState) takeHeader(rec masterRecord) {
	tokens := rec.tokens
	if rec.owned {
		if len(tokens) == 0 || strings.HasPrefix(tokens[0], "$") {
			return // a bad directive changes nothing
		}
		owner, ok := absoluteName(tokens[0], st.origin)
		if !ok {
			return
		}
		st.owner, tokens = owner, tokens[1:]
	}
	for _, tok := range tokens {
		upper := strings.ToUpper(tok)
		if _, isClass := dns.StringToClass[upper]; isClass || strings.HasPrefix(upper, "CLASS") {
			continue
		}
		if _, isType := dns.StringToType[upper]; isType || strings.HasPrefix(upper, "TYPE") {
			return
		}
		if !isTTL(tok) {
			return
		}
		if st.ttl == "" {
			st.lastTTL = tok
		}
	}
}

// isTTL reports whether miekg/dns reads s as a TTL: digits with optional
// BIND units (1h30m).
func isTTL(s string) bool {
	_, ok := parseTTL([]byte(s))
	return ok
}

// absoluteName resolves a name as written in a master file against origin.
func absoluteName(name, origin string) (string, bool) {
	if name == "@" {
		return origin, origin != ""
	}
	if _, ok := dns.IsDomainName(name); !ok {
		return "", false
	}
	switch {
	case dns.IsFqdn(name):
		return name, true
	case origin == ".":
		return name + ".", true
	}
	return name + "." + origin, true
}

// masterRecord is one logical record or directive of a master file: its
// lines up to the newline that ends it outside parentheses.
type masterRecord struct {
	offset, end int      // where its first line starts; just past its last newline
	first, last int      // its first and last line
	owned       bool     // it starts in column 0: its first token is an owner or a directive
	tokens      []string // its first few tokens: owner or directive, TTL, class, type
	open        bool     // the text ends inside its quotes or parentheses
}

// nextMasterRecord returns the first record at or after off, a line start
// on line line, skipping blank and comment lines; its first tokens when
// withTokens is set.
func nextMasterRecord(text []byte, off, line int, withTokens bool) (rec masterRecord, ok bool) {
	depth, quoted, tokStart := 0, false, -1
	rec.offset, rec.first = -1, line
	endToken := func(i int) {
		if withTokens && tokStart >= 0 && len(rec.tokens) < 4 {
			rec.tokens = append(rec.tokens, string(text[tokStart:i]))
		}
		tokStart = -1
	}
	lineStart := off
	for i := off; i < len(text); i++ {
		c := text[i]
		if rec.offset < 0 && c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != ';' {
			rec.offset, rec.first, rec.owned = lineStart, line, i == lineStart
		}
		switch {
		case c == '\n':
			line++
			if quoted {
				continue
			}
			endToken(i)
			lineStart = i + 1
			if depth == 0 && rec.offset >= 0 {
				rec.end, rec.last = i+1, line-1
				return rec, true
			}
		case quoted:
			if c == '\\' && i+1 < len(text) && text[i+1] != '\n' {
				i++
			} else if c == '"' {
				quoted = false
			}
		case c == '\\':
			if tokStart < 0 {
				tokStart = i
			}
			if i+1 < len(text) {
				i++
				if text[i] == '\n' {
					line++
					lineStart = i + 1
				}
			}
		case c == '"':
			if tokStart < 0 {
				tokStart = i
			}
			quoted = true
		case c == ';':
			endToken(i)
			for i+1 < len(text) && text[i+1] != '\n' {
				i++
			}
		case c == '(' || c == ')':
			endToken(i)
			if c == '(' {
				depth++
			} else if depth > 0 {
				depth--
			}
		case c == ' ' || c == '\t' || c == '\r':
			endToken(i)
		default:
			if tokStart < 0 {
				tokStart = i
			}
		}
	}
	endToken(len(text))
	rec.end, rec.last, rec.open = len(text), line, depth > 0 || quoted
	return rec, rec.offset >= 0
}
