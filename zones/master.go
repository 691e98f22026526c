package zones

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dnsrr/dnsrr/zones/tomlfile"
	"github.com/miekg/dns"
)

// loadMaster reads an RFC 1035 master file, as BIND and NSD serve them. Its
// origin is the owner of its SOA record; names before any $ORIGIN are
// relative to the origin guessed from the file name (lb.example.com.zone,
// db.lb.example.com). An RRset of several addresses becomes a pool with the
// default random order.
func loadMaster(path string, errs *tomlfile.List) *source {
	text, err := os.ReadFile(path)
	if err != nil {
		errs.Append(err)
		return nil
	}
	// About one record per line: size the slice once.
	src := &source{file: path, foldDuplicates: true, entries: make([]entry, 0, bytes.Count(text, []byte{'\n'})+1)}
	// Where each record starts, found beside the parser on another core.
	type linesResult struct {
		lines []int
		ok    bool
	}
	scanned := make(chan linesResult, 1)
	go func() {
		lines, ok := recordLines(text)
		scanned <- linesResult{lines, ok}
	}()
	zp := dns.NewZoneParser(bytes.NewReader(text), originFromFileName(path), path)
	zp.SetIncludeAllowed(false) // an $INCLUDE could read any file the server can
	var soaOwner string
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		yieldEvery(len(src.entries))
		if rr.Header().Rrtype == dns.TypeSOA && soaOwner == "" {
			soaOwner = strings.ToLower(rr.Header().Name)
		}
		src.entries = append(src.entries, entry{rr: rr, order: OrderRandom})
	}
	scan := <-scanned
	if err := zp.Err(); err != nil {
		var pe *dns.ParseError
		if errors.As(err, &pe) {
			errs.Append(masterError(path, pe))
		} else {
			errs.Add(path, 0, "", "%v", err)
		}
		return nil
	}
	if scan.ok && len(scan.lines) == len(src.entries) {
		for i := range src.entries {
			src.entries[i].masterLine = scan.lines[i]
		}
	}
	if soaOwner == "" {
		errs.Add(path, 0, "", "no SOA record: the zone's origin is the owner of its SOA")
		return nil
	}
	src.origin = soaOwner
	for _, e := range src.entries {
		if e.rr.Header().Rrtype == dns.TypeSOA {
			line := e.masterLine
			src.line = func() int { return line }
			break
		}
	}
	return src
}

// masterError restates a miekg/dns parse error as file:line: message.
func masterError(path string, pe *dns.ParseError) error {
	msg, line := splitParseError(pe)
	return &tomlfile.Error{File: path, Line: line, Msg: msg}
}

// splitParseError takes apart miekg/dns's `file: dns: msg: "token" at line:
// L:C` into a message that quotes the token, and the line.
func splitParseError(pe *dns.ParseError) (msg string, line int) {
	s := pe.Error()
	if i := strings.Index(s, "dns: "); i >= 0 {
		s = s[i+len("dns: "):]
	}
	rest, pos, _ := strings.Cut(s, " at line: ")
	if lineStr, _, ok := strings.Cut(pos, ":"); ok {
		line, _ = strconv.Atoi(lineStr)
	}
	if m, tok, ok := strings.Cut(rest, ": "); ok && tok != `""` {
		return m + " at " + tok, line
	}
	return strings.TrimSuffix(rest, `: ""`), line
}

// originFromFileName guesses a zone's origin from conventional file names.
func originFromFileName(path string) string {
	base := strings.ToLower(filepath.Base(path))
	for _, suffix := range []string{".zone", ".db", ".rfc1035", ".txt"} {
		base = strings.TrimSuffix(base, suffix)
	}
	base = strings.TrimPrefix(base, "db.")
	if _, ok := dns.IsDomainName(base); !ok || base == "" {
		return "."
	}
	return dns.Fqdn(base)
}
