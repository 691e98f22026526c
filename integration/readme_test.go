package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readme is the README a newcomer follows, read from the repository root.
func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fenced matches a fenced code block, whose lines are not headings or links.
var fenced = regexp.MustCompile("(?ms)^```.*?^```")

// headingSlug is the anchor GitHub gives a heading: lower case, spaces to
// hyphens, punctuation other than hyphens and underscores dropped.
func headingSlug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestReadmeLinks: every link to a section names a heading, and every link
// to a file of the repository names one that exists.
func TestReadmeLinks(t *testing.T) {
	text := readme(t)
	prose := fenced.ReplaceAllString(text, "")
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#{1,6} (.+)$`).FindAllStringSubmatch(prose, -1) {
		anchors[headingSlug(m[1])] = true
	}
	links := regexp.MustCompile(`\]\(([^)\s]+)\)`).FindAllStringSubmatch(prose, -1)
	if len(links) == 0 || len(anchors) == 0 {
		t.Fatalf("%d links, %d headings in README.md: the test reads it wrong", len(links), len(anchors))
	}
	for _, m := range links {
		target := m[1]
		switch {
		case strings.HasPrefix(target, "#"):
			if !anchors[target[1:]] {
				t.Errorf("link to (%s): no heading has that anchor", target)
			}
		case strings.Contains(target, "://"):
		default:
			file, _, _ := strings.Cut(target, "#")
			if _, err := os.Stat(filepath.Join("..", file)); err != nil {
				t.Errorf("link to (%s): %v", target, err)
			}
		}
	}
}

// TestReadmeBuildOutputs: the binary a `go build -o OUT` of the README (or
// of the unit's comments) writes, and an `install -m MODE FILE` copies, must
// not be a directory of the repository. `-o dnsrr` at the top of the
// checkout wrote dnsrr/dnsrr (the package's directory), and the `install
// -m 0755 dnsrr ...` that followed it failed with "omitting directory".
func TestReadmeBuildOutputs(t *testing.T) {
	unit, err := os.ReadFile(filepath.Join("..", "examples", "dnsrr.service"))
	if err != nil {
		t.Fatal(err)
	}
	text := readme(t) + "\n" + string(unit)
	var paths [][]string
	for _, re := range []string{`go build\b[^\n` + "`" + `]*?-o ([^\s` + "`" + `]+)`, `install -m \d+ ([^\s` + "`" + `]+)`} {
		found := regexp.MustCompile(re).FindAllStringSubmatch(text, -1)
		if len(found) == 0 {
			t.Fatalf("nothing matches %s in README.md and examples/dnsrr.service: the test reads them wrong", re)
		}
		paths = append(paths, found...)
	}
	for _, m := range paths {
		out := m[1]
		if filepath.IsAbs(out) || strings.HasPrefix(out, "$") {
			continue // outside the checkout
		}
		if fi, err := os.Stat(filepath.Join("..", out)); err == nil && fi.IsDir() {
			t.Errorf("%q: %s is a directory of the repository, not the binary", m[0], out)
		}
	}
}
