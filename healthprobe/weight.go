package healthprobe

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// A backend can report the share of its weight it wants, as HAProxy's
// agent check and PowerDNS's pickselfweighted let it: a loaded server
// sheds clients before it fails. It does so in a response header named by
// Check.WeightHeader, whose value is a percentage, "50" or "50%", within
// 0-100. 0 asks for no new clients while the backend still passes its
// check (like a drain), which is not down: the pool's min_healthy and
// on_all_down still count it as up.
//
// A value that does not parse (or a missing header) is ignored, as
// HAProxy ignores a bad agent reply: the weight last reported stays, the
// probe's verdict is untouched, and Status.WeightError says why.

// MaxWeightPercent is the largest weight a backend may report, in percent
// of its configured weight: it sheds load, it never takes more than given.
const MaxWeightPercent = 100

// maxWeightValue bounds the header value parsed; "100 %" with room for
// blanks. Longer values are refused unread.
const maxWeightValue = 16

// weightReport is what one successful probe says of the backend's weight.
type weightReport struct {
	percent int    // 0-100, when ok
	ok      bool   // a valid value was read
	err     string // why none was, when the check reads one
}

// ParseWeight reads a reported weight: a whole number of percent within
// 0-100, optionally followed by "%", blanks around it ignored.
func ParseWeight(s string) (int, error) {
	if len(s) > maxWeightValue {
		return 0, fmt.Errorf("%d bytes is too long for a weight", len(s))
	}
	v := strings.TrimSpace(s)
	v = strings.TrimSpace(strings.TrimSuffix(v, "%"))
	if v == "" || len(v) > 3 || strings.TrimLeft(v, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a weight: give a percentage within 0-100, such as 50 or 50%%", s)
	}
	n, _ := strconv.Atoi(v) // at most three digits
	if n > MaxWeightPercent {
		return 0, fmt.Errorf("%q is above %d%%", s, MaxWeightPercent)
	}
	return n, nil
}

// readWeight reads the weight header of a response.
func readWeight(h http.Header, name string) weightReport {
	name = http.CanonicalHeaderKey(name)
	vs := h.Values(name)
	switch len(vs) {
	case 0:
		return weightReport{err: "no " + name + " header"}
	case 1:
	default:
		return weightReport{err: fmt.Sprintf("%d %s headers: send one", len(vs), name)}
	}
	n, err := ParseWeight(vs[0])
	if err != nil {
		return weightReport{err: name + ": " + err.Error()}
	}
	return weightReport{percent: n, ok: true}
}

// ValidHeaderName reports whether s is an HTTP field name (RFC 9110 §5.1:
// a token) of at most 128 bytes.
func ValidHeaderName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
