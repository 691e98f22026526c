package healthprobe

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable returns s with every byte or character a terminal or a page
// would act on rather than show written as an escape: control characters
// (ESC, BEL, CR, ...), format characters such as the bidirectional
// overrides, and invalid UTF-8. A backend chooses part of a probe's error
// (an HTTP reason phrase), and the status page shows it; html/template
// escapes markup but passes ESC through, so `curl` of the page to a
// terminal would run the backend's escape sequences.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if !shown(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case shown(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += n
	}
	return b.String()
}

// shown reports whether r is written as itself: printable characters and
// the ASCII space (U+FFFD only when it was in s as such, which range
// cannot tell apart from invalid bytes: Printable's loop decodes again).
func shown(r rune) bool {
	return r != utf8.RuneError && (r == ' ' || unicode.IsPrint(r))
}
