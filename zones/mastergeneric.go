package zones

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/dnsrr/dnsrr/zones/tomlfile"
	"github.com/miekg/dns"
)

// checkGenericData holds a master file's records of known types written in
// RFC 3597's generic form to what TOML zones are held to (genericRR): their
// bytes must decode as the type to the last one. miekg/dns's parser drops
// the bytes past the end ("A \# 5 c000020101" is 192.0.2.1), and the record
// it returns no longer says it was generic, so the text is read again, only
// for files that hold a \# at all, and only where each record's line is
// known. It reports whether every such record is whole.
func checkGenericData(path string, text []byte, rrs []dns.RR, lines []int, errs *tomlfile.List) bool {
	if !bytes.Contains(text, []byte(`\#`)) {
		return true
	}
	var lineStart []int // offset of each line, 1-based
	ok := true
	for i, rr := range rrs {
		h := rr.Header()
		if _, known := dns.TypeToRR[h.Rrtype]; !known || lines == nil || lines[i] == 0 {
			continue
		}
		if lineStart == nil {
			lineStart = []int{0, 0}
			for off, c := range text {
				if c == '\n' {
					lineStart = append(lineStart, off+1)
				}
			}
		}
		if lines[i] >= len(lineStart) {
			continue
		}
		data, generic := genericText(recordTokens(text, lineStart[lines[i]]), h.Rrtype)
		if !generic {
			continue
		}
		if _, err := genericRR(*h, data); err != nil {
			errs.Add(path, lines[i], h.Name+" "+typeName(h.Rrtype), "%v", err)
			ok = false
		}
	}
	return ok
}

// genericText returns what follows `\#` in a record's tokens when the
// record of type t is written in the generic form: [owner] [TTL] [class]
// type \# length hex.
func genericText(toks []string, t uint16) (string, bool) {
	i := 1 // past the owner ("" when the record starts with a blank)
	for i < len(toks) && (toks[i] != "" && isDigit(toks[i][0]) || isClass(toks[i])) {
		i++
	}
	if i+1 >= len(toks) || toks[i+1] != `\#` {
		return "", false
	}
	if !strings.EqualFold(toks[i], typeName(t)) && !strings.EqualFold(toks[i], "TYPE"+strconv.Itoa(int(t))) {
		return "", false // not the record this tokenizer thinks it is: leave it to the parser
	}
	return strings.Join(toks[i+2:], " "), true
}

func isClass(tok string) bool {
	switch strings.ToUpper(tok) {
	case "IN", "CH", "CS", "HS", "NONE":
		return true
	}
	return len(tok) > 5 && strings.EqualFold(tok[:5], "CLASS") && isDigit(tok[5])
}

// recordTokens splits the record that starts at off into tokens: blanks
// separate them, quotes keep them whole, ';' starts a comment, and
// parentheses carry the record over newlines. A record that starts with a
// blank (no owner) gets "" as its first token.
func recordTokens(text []byte, off int) []string {
	var toks []string
	if off < len(text) && (text[off] == ' ' || text[off] == '\t') {
		toks = append(toks, "")
	}
	depth, start, quoted := 0, -1, false
	end := func(i int) {
		if start >= 0 {
			toks = append(toks, string(text[start:i]))
			start = -1
		}
	}
	for i := off; i < len(text); i++ {
		c := text[i]
		switch {
		case quoted:
			if c == '\\' {
				i++
			} else if c == '"' {
				quoted = false
			}
		case c == '\\':
			if start < 0 {
				start = i
			}
			i++
		case c == '"':
			if start < 0 {
				start = i
			}
			quoted = true
		case c == ';':
			end(i)
			for i < len(text) && text[i] != '\n' {
				i++
			}
			if depth == 0 {
				return toks
			}
		case c == '(' || c == ')':
			end(i)
			if c == '(' {
				depth++
			} else {
				depth--
			}
		case c == '\n':
			end(i)
			if depth <= 0 {
				return toks
			}
		case c == ' ' || c == '\t' || c == '\r':
			end(i)
		default:
			if start < 0 {
				start = i
			}
		}
	}
	end(len(text))
	return toks
}
