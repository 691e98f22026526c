package zones

import (
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Names are kept in the form a query's name takes once unpacked, lower-
// cased, because that is how the server looks them up: an owner written
// \065 (an escaped "A") must be the node "a", and a label holding a dot
// (a\.b) must be spelt the one way unpacking spells it.

// plainByte marks the bytes that a name in presentation form holds as is,
// which unpacking also writes as is: a name made only of them needs no
// rewriting.
var plainByte = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '*' || c == '.' || c == '/'
	}
	return t
}()

func needsRewrite(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plainByte[s[i]] {
			return true
		}
	}
	return false
}

// badEscape reports a \DDD escape in a name that is not a byte (\999):
// miekg/dns packs it as the low byte of the number.
func badEscape(s string) bool {
	for i := strings.IndexByte(s, '\\'); i >= 0 && i+1 < len(s); {
		if isDigit(s[i+1]) {
			if i+3 >= len(s) || !isDigit(s[i+2]) || !isDigit(s[i+3]) || s[i+1:i+4] > "255" {
				return true
			}
		}
		next := strings.IndexByte(s[i+2:], '\\')
		if next < 0 {
			break
		}
		i += 2 + next
	}
	return false
}

// unpackedName is s (fully qualified) as unpacking its wire form writes
// it, case kept; ok is false when s does not pack.
func unpackedName(s string) (string, bool) {
	if !needsRewrite(s) {
		return s, true
	}
	if badEscape(s) {
		return "", false
	}
	var buf [256]byte
	n, err := dns.PackDomainName(s, buf[:], 0, nil, false)
	if err != nil {
		return "", false
	}
	name, _, err := dns.UnpackDomainName(buf[:n], 0)
	return name, err == nil
}

// canonicalName is the key a fully qualified name is stored and looked up
// under: its unpacked form in lower case. A name that does not pack is
// only lower-cased (the parser that read it reports it).
func canonicalName(s string) string {
	if name, ok := unpackedName(s); ok {
		s = name
	}
	return strings.ToLower(s)
}

// unescapeTarget spells the target of a CNAME or DNAME as unpacking would
// (the same wire form): answers follow it by looking it up lower-cased,
// so \065lias must be written alias.
func unescapeTarget(rr dns.RR) {
	switch rr := rr.(type) {
	case *dns.CNAME:
		if name, ok := unpackedName(rr.Target); ok {
			rr.Target = name
		}
	case *dns.DNAME:
		if name, ok := unpackedName(rr.Target); ok {
			rr.Target = name
		}
	}
}

// metaType says why a record of type t cannot be zone data, or "" when it
// can: types 0 and 65535 are reserved, OPT and the range 128-255 (TKEY,
// TSIG, IXFR, AXFR, MAILB, MAILA, ANY) are meta and query types that only
// exist in messages (RFC 6895 §3.1). miekg/dns parses some of them from a
// zone file (OPT, TSIG, TYPE252), and the generic form writes any of them.
func metaType(t uint16) string {
	name := dns.TypeToString[t]
	if name == "" {
		name = "TYPE" + strconv.Itoa(int(t))
	}
	switch {
	case t == 0 || t == 65535:
		return "type " + strconv.Itoa(int(t)) + " is reserved (RFC 6895 §3.1): it cannot be zone data"
	case t == dns.TypeOPT || t >= 128 && t <= 255:
		return name + " is a meta or query type (RFC 6895 §3.1): it exists only in messages, not as zone data"
	}
	return ""
}
