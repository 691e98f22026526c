package zones

import (
	"bytes"
	"strings"

	"github.com/dnsrr/dnsrr/zones/tomlfile"
	"github.com/miekg/dns"
)

// A zone path may name, by mistake or through a symbolic link, a file that
// is no zone at all: a key, a password file. Its problems are reported
// without its text, which the logs would otherwise carry to whoever reads
// them. A file counts as a zone once something in it, before or on the
// line of its first error, reads as zone content.

const notAZoneMsg = "not a zone file: nothing up to this line reads as zone content (its text is not shown)"

// redactNotAZone returns the parse errors of a master file, or, when no
// record parsed and nothing up to the first error reads as a zone, one
// error at that line that quotes nothing.
func redactNotAZone(path string, text []byte, rrs []dns.RR, errs []error) []error {
	if len(rrs) > 0 || len(errs) == 0 {
		return errs
	}
	first := 0
	for _, e := range errs {
		if te, ok := e.(*tomlfile.Error); ok && te.Line > 0 && (first == 0 || te.Line < first) {
			first = te.Line
		}
	}
	if first > 0 && masterLike(text, first) {
		return errs
	}
	return []error{&tomlfile.Error{File: path, Line: first, Msg: notAZoneMsg}}
}

// masterLike reports whether lines 1 to last of a master file hold a
// directive, or the class IN or type SOA as a word of their own.
func masterLike(text []byte, last int) bool {
	for i, l := range bytes.SplitN(text, []byte{'\n'}, max(last, 1)+1) {
		if i >= max(last, 1) {
			break
		}
		if len(l) > 0 && l[0] == '$' {
			return true
		}
		if c := bytes.IndexByte(l, ';'); c >= 0 {
			l = l[:c]
		}
		for _, w := range bytes.Fields(l) {
			if bytes.EqualFold(w, []byte("IN")) || bytes.EqualFold(w, []byte("SOA")) {
				return true
			}
		}
	}
	return false
}

// tomlZoneKeys begin the lines that make a TOML file a zone file.
var tomlZoneKeys = []string{"origin", "ttl", "ns", "ns_ttl", "[soa", "[pools", "[records", "[checks"}

// redactTOMLSyntaxError replaces the syntax errors of a TOML file that,
// up to the line of its first error, holds none of a zone's keys, by one
// that quotes nothing.
func redactTOMLSyntaxError(text []byte, err error) error {
	first := &tomlfile.Error{Line: -1}
	for _, e := range tomlfile.Flatten(err) {
		te, ok := e.(*tomlfile.Error)
		if !ok {
			return err // not a syntax error of the document
		}
		if first.Line < 0 || te.Line < first.Line {
			first = te
		}
	}
	if first.Line < 0 || tomlLike(text, first.Line) {
		return err
	}
	return &tomlfile.Error{File: first.File, Line: first.Line, Msg: notAZoneMsg}
}

// tomlLike reports whether lines 1 to last of a TOML file set a zone's key.
func tomlLike(text []byte, last int) bool {
	for i, l := range bytes.SplitN(text, []byte{'\n'}, max(last, 1)+1) {
		if i >= max(last, 1) {
			break
		}
		s := strings.TrimSpace(string(l))
		for _, k := range tomlZoneKeys {
			if rest, ok := strings.CutPrefix(s, k); ok && (k[0] == '[' || strings.HasPrefix(strings.TrimLeft(rest, " \t"), "=")) {
				return true
			}
		}
	}
	return false
}
