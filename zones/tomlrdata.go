package zones

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// typeName is a type's mnemonic, or TYPEn for one miekg/dns does not name.
func typeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// typeKeyProblem says why a [records.NAME] key cannot hold records of its
// type, or "".
func typeKeyProblem(typ uint16, key string) string {
	if typ == dns.TypeSOA {
		return "the SOA record is written in the [soa] table, not under " + key
	}
	return metaType(typ)
}

// genericRR reads the data of RFC 3597's generic form, after its `\#`:
// the length in bytes and the data in hex (spaces allowed between
// digits). A type miekg/dns knows must decode from those bytes exactly,
// to the last one, so that what is served is what was checked: its zone
// parser silently drops bytes past the end ("A \# 5 c000020101" would
// serve 192.0.2.1). Other types are served as written.
func genericRR(hdr dns.RR_Header, rest string) (dns.RR, error) {
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return nil, errors.New(`\# needs the data's length and the data in hex, e.g. \# 4 c0000201`)
	}
	n, err := strconv.ParseUint(fields[0], 10, 16)
	if err != nil {
		return nil, fmt.Errorf(`\# %s: the length must be a number of bytes, 0 to 65535`, fields[0])
	}
	data, err := hex.DecodeString(strings.Join(fields[1:], ""))
	if err != nil {
		return nil, fmt.Errorf(`\# %d: the data is not hex: %v`, n, err)
	}
	if uint64(len(data)) != n {
		return nil, fmt.Errorf(`\# %d: the length says %d bytes, the data holds %d`, n, n, len(data))
	}
	if _, known := dns.TypeToRR[hdr.Rrtype]; !known {
		return &dns.RFC3597{Hdr: hdr, Rdata: hex.EncodeToString(data)}, nil
	}
	hdr.Rdlength = uint16(n)
	rr, _, err := dns.UnpackRRWithHeader(hdr, data, 0)
	if err != nil && err.Error() == "dns: bad rdlength" {
		return nil, fmt.Errorf(`\# %d: the %s data ends before the last of the %d bytes`, n, typeName(hdr.Rrtype), n)
	}
	if err != nil {
		return nil, fmt.Errorf(`\# %d: %d bytes that are not %s data: %v`, n, n, typeName(hdr.Rrtype), err)
	}
	rr.Header().Rdlength = 0
	return rr, nil
}

// maxCharString is the longest character-string, whose length is one byte
// (RFC 1035 §3.3).
const maxCharString = 255

// explicitTXT makes a TXT record of the character-strings written as one
// array element, txt = [["first", "second"]]: each string as written,
// never split, with RFC 1035 §5.1's escapes for any byte: \DDD is the byte
// of that decimal value, \X is X (\\ a backslash). That is the text between
// the quotes of a master file's TXT record.
func explicitTXT(hdr dns.RR_Header, parts []string) (dns.RR, error) {
	if len(parts) == 0 {
		return nil, errors.New("a TXT record needs at least one character-string ([\"\"] is one empty string)")
	}
	txt := make([]string, len(parts))
	for i, p := range parts {
		b, err := decodeCharString(p)
		if err != nil {
			return nil, fmt.Errorf("character-string %d %q: %v", i+1, p, err)
		}
		if len(b) > maxCharString {
			return nil, fmt.Errorf("character-string %d is %d bytes, at most %d fit (RFC 1035 §3.3): split it into several strings", i+1, len(b), maxCharString)
		}
		txt[i] = presentTXT(b)
	}
	return &dns.TXT{Hdr: hdr, Txt: txt}, nil
}

// decodeCharString resolves the escapes of one explicit character-string.
func decodeCharString(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch {
		case i == len(s):
			return nil, errors.New(`ends in a lone \ (a backslash is written \\)`)
		case isDigit(s[i]):
			if i+2 >= len(s) || !isDigit(s[i+1]) || !isDigit(s[i+2]) {
				return nil, errors.New(`\DDD takes exactly three decimal digits (\007, \255)`)
			}
			v := int(s[i]-'0')*100 + int(s[i+1]-'0')*10 + int(s[i+2]-'0')
			if v > 255 {
				return nil, fmt.Errorf(`\%s is not a byte: at most \255`, s[i:i+3])
			}
			out = append(out, byte(v))
			i += 2
		default:
			out = append(out, s[i])
		}
	}
	return out, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// presentTXT writes bytes the way miekg/dns holds a TXT string (escaped
// presentation form, which it packs back into the same bytes).
func presentTXT(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c < ' ' || c > '~':
			sb.WriteByte('\\')
			sb.WriteString(strconv.Itoa(int(c) + 1000)[1:]) // three digits
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}
