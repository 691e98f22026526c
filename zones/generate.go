package zones

import (
	"bytes"
	"math"
	"strconv"
	"strings"

	"github.com/dnsrr/dnsrr/zones/tomlfile"
)

// checkGenerate holds the $GENERATE lines of a master file to the limits
// before anything is expanded or counted: each line yields up to
// (stop-start)/step+1 records from a few bytes, so a 40-byte line can ask
// for more records than memory holds. It reads only the range of each
// $GENERATE; a malformed one is left to the parser to report.
func checkGenerate(path string, text []byte, lim Limits) error {
	total := uint64(0)
	line := 1
	for off := 0; off < len(text); {
		end := bytes.IndexByte(text[off:], '\n')
		if end < 0 {
			end = len(text)
		} else {
			end += off
		}
		const directive = "$GENERATE"
		if len(text)-off > len(directive) && strings.EqualFold(string(text[off:off+len(directive)]), directive) &&
			isBlank(text[off+len(directive)]) {
			rng, ok := generateRangeToken(text[off+len(directive):])
			if n, valid := generateRange(rng); ok && valid {
				if n > uint64(lim.MaxGenerateRange) {
					return limitError(path, line, "max_generate_range", int64(lim.MaxGenerateRange),
						"$GENERATE %s yields %s records", rng, countString(n))
				}
				total += n
				if total > uint64(lim.MaxGenerateTotal) {
					return limitError(path, line, "max_generate_total", int64(lim.MaxGenerateTotal),
						"$GENERATE lines yield %d records up to here", total)
				}
			}
		}
		line++
		off = end + 1
	}
	return nil
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// generateRangeToken finds the range after "$GENERATE": the next token,
// past blanks, parentheses (across lines inside them) and comments.
func generateRangeToken(b []byte) (string, bool) {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == ' ' || c == '\t' || c == '\r':
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ';':
			for i < len(b) && b[i] != '\n' {
				i++
			}
			i--
		case c == '\n':
			if depth <= 0 {
				return "", false
			}
		default:
			j := i
			for j < len(b) && !strings.ContainsRune(" \t\r\n();", rune(b[j])) {
				j++
			}
			return string(b[i:j]), true
		}
	}
	return "", false
}

// generateRange is how many records "start-stop[/step]" yields, as the
// parser reads it; a number too large to read counts as unlimited.
// valid is false for a range the parser refuses anyway.
func generateRange(rng string) (n uint64, valid bool) {
	rng, stepStr, hasStep := strings.Cut(rng, "/")
	from, to, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, false
	}
	num := func(s string) (uint64, bool) {
		v, err := strconv.Atoi(s)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange && !strings.HasPrefix(s, "-") {
				return math.MaxUint64, true
			}
			return 0, false
		}
		return uint64(v), v >= 0
	}
	step := uint64(1)
	if hasStep {
		if step, ok = num(stepStr); !ok || step == 0 {
			return 0, false
		}
	}
	a, ok1 := num(from)
	b, ok2 := num(to)
	if !ok1 || !ok2 || b < a {
		return 0, false
	}
	if b == math.MaxUint64 || step == math.MaxUint64 && b-a >= step {
		return math.MaxUint64, true
	}
	return (b-a)/step + 1, true
}

func countString(n uint64) string {
	if n == math.MaxUint64 {
		return "more than " + strconv.FormatUint(math.MaxInt64, 10)
	}
	return strconv.FormatUint(n, 10)
}

// tooManyRecords is the problem of a zone with more than MaxRecords.
func tooManyRecords(path string, lim Limits) *tomlfile.Error {
	return limitError(path, 0, "max_records", int64(lim.MaxRecords), "the zone has more than %d records", lim.MaxRecords)
}
