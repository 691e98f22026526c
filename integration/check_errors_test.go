package integration

import (
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/miekg/dns"
)

// goodMaster is a master file that loads; manyMistakesMaster is it with ten
// different mistakes, which nsd-checkzone also finds every one of.
const goodMaster = `$ORIGIN bad.test.
$TTL 300
@ IN SOA ns.other.test. hostmaster 1 3600 900 1209600 60
@ IN NS ns.other.test.
www IN A 192.0.2.1
`

const manyMistakesMaster = goodMaster + `www IN A 192.0.2.300
    IN AAAA 2001:db8::zz
mail IN MX ten mail.other.test.
ok1 IN A 192.0.2.2
srv IN SRV 0 5 sip.other.test.
bad..name IN A 192.0.2.3
ttl 1x IN A 192.0.2.4
nope IN BOGUS data
$FOO bar
mx2 IN MX ( 10
        )
cut IN A
last IN A 192.0.2.5
    IN TXT "owner is last"
`

// manyMistakesWant are the errors for manyMistakesMaster, after "FILE:".
var manyMistakesWant = []string{
	`6: bad A A at "192.0.2.300"`,
	`7: bad AAAA AAAA at "2001:db8::zz"`,
	`8: bad MX Pref at "ten"`,
	`10: bad SRV Port at "sip.other.test."`,
	`11: bad owner name at "bad..name"`,
	`12: not a TTL at "1x"`,
	`13: unknown record type "BOGUS" (or a misplaced TTL or class)`,
	`14: unknown directive $FOO: only $ORIGIN, $TTL and $GENERATE are read`,
	`16: bad MX Mx at the end of the record`,
	`17: the record ends before its data`,
}

const syntaxMistakesTOML = `origin = "bad.test."
ttl =
ns = ["ns1.other.test.", "ns2.other.test."
[soa]
serial = 1
minimum = 60 60
[pools.www
addresses = ["192.0.2.1"]
[pools.api]
addresses = ["192.0.2.2"]
order = "fixed
[records.mail]
mx = "10 mail.other.test."
mx = "20 mail2.other.test."
`

var syntaxMistakesWant = []string{
	`2: ttl: expected value but found '\n' instead`,
	`4: ns: expected a comma (',') or array terminator (']'), but got '['`,
	`6: expected a top-level item to end with a newline, comment, or EOF, but got '6' instead`,
	`7: expected '.' or ']' to end table name, but got '\n' instead`,
	`11: pools.api.order: strings cannot contain newlines`,
	`14: records.mail.mx: Key 'records.mail.mx' has already been defined.`,
}

const dottedNamesTOML = `origin = "bad.test."
ns = ["ns.other.test."]
[soa]
serial = 1
[pools.www.eu]
addresses = ["192.0.2.1"]
[records._sip._tcp]
srv = "0 0 5060 sip.other.test."
[checks.web.eu]
type = "tcp"
port = 80
[pool.api]
addresses = ["192.0.2.4"]
`

var dottedNamesWant = []string{
	`5: pools.www.eu: unknown key: if you meant the name "www.eu", quote it: [pools."www.eu"]`,
	`7: records._sip._tcp: unknown key: if you meant the name "_sip._tcp", quote it: [records."_sip._tcp"]`,
	`9: checks.web.eu: unknown key: if you meant the name "web.eu", quote it: [checks."web.eu"]`,
	`12: pool: unknown key`,
}

// TestCheckEveryError: `dnsrr check` prints every mistake of every file,
// each as file:line: message, and nothing else.
func TestCheckEveryError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := []struct {
		name, content string
		want          []string
	}{
		{"bad.test.zone", manyMistakesMaster, manyMistakesWant},
		{"syntax.toml", syntaxMistakesTOML, syntaxMistakesWant},
		{"dotted.toml", dottedNamesTOML, dottedNamesWant},
	}
	var args, all []string
	wants := make([][]string, len(files))
	for i, f := range files {
		p := writeFile(t, dir, f.name, f.content)
		args = append(args, "-zone", p)
		for _, w := range f.want {
			wants[i] = append(wants[i], p+":"+w)
		}
		all = append(all, wants[i]...)
	}
	for i, f := range files {
		_, stderr, code := runDNSRR(t, "check", "-zone", args[2*i+1])
		wantLines(t, f.name, stderr, code, wants[i])
	}
	_, stderr, code := runDNSRR(t, append([]string{"check"}, args...)...)
	wantLines(t, "all files at once", stderr, code, all)
}

func wantLines(t *testing.T, what, stderr string, code int, want []string) {
	t.Helper()
	if code != 1 {
		t.Errorf("%s: exit %d, want 1", what, code)
	}
	if got := strings.Split(strings.TrimSpace(stderr), "\n"); !slices.Equal(got, want) {
		t.Errorf("%s: stderr:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestReloadEveryError: a reload of a master file with many mistakes logs
// every one, and the old zone keeps being served.
func TestReloadEveryError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	zf := writeFile(t, dir, "bad.test.zone", goodMaster)
	s := startServer(t, "-zone", zf)
	addr := s.addr("4")
	wantAddrs(t, addr, "www.bad.test.", dns.TypeA, "192.0.2.1")

	writeFile(t, dir, "bad.test.zone", manyMistakesMaster)
	mark := s.logMark()
	s.signal(syscall.SIGHUP)
	l, ok := s.waitLog(mark, pollTimeout, func(l logLine) bool {
		return l.message() == "reload applied" || strings.HasPrefix(l.message(), "reload failed")
	})
	if !ok || l.message() != "reload failed, keeping old zones" {
		t.Fatalf("after SIGHUP: %q, want \"reload failed, keeping old zones\"", l.raw)
	}
	raw, _ := l.fields["errors"].([]any)
	var got []string
	for _, e := range raw {
		s, _ := e.(string)
		got = append(got, s)
	}
	var want []string
	for _, w := range manyMistakesWant {
		want = append(want, zf+":"+w)
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors logged:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for range 3 {
		wantAddrs(t, addr, "www.bad.test.", dns.TypeA, "192.0.2.1")
	}
}

// TestCheckMatchesNSD: dnsrr finds the mistakes nsd-checkzone finds, and
// no others. NSD names some a line late (the line after a record in
// parentheses, or after a bad directive), so lines match within one.
func TestCheckMatchesNSD(t *testing.T) {
	t.Parallel()
	nsd, err := exec.LookPath("nsd-checkzone")
	if err != nil {
		t.Skip("nsd-checkzone is not installed")
	}
	zf := writeFile(t, t.TempDir(), "bad.test.zone", manyMistakesMaster)
	out, _ := exec.Command(nsd, "bad.test", zf).CombinedOutput()
	nsdLines := flaggedLines(t, zf, regexp.MustCompile(`error: `+regexp.QuoteMeta(zf)+`:(\d+): `), string(out))
	_, stderr, _ := runDNSRR(t, "check", "-zone", zf)
	ours := flaggedLines(t, zf, regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(zf)+`:(\d+): `), stderr)
	if len(nsdLines) == 0 || len(ours) == 0 {
		t.Fatalf("no errors: nsd-checkzone said\n%s\ndnsrr said\n%s", out, stderr)
	}
	near := func(l int, in []int) bool {
		return slices.Contains(in, l) || slices.Contains(in, l-1) || slices.Contains(in, l+1)
	}
	for _, l := range nsdLines {
		if !near(l, ours) {
			t.Errorf("nsd-checkzone flags line %d, dnsrr does not:\n%s", l, stderr)
		}
	}
	for _, l := range ours {
		if !near(l, nsdLines) {
			t.Errorf("dnsrr flags line %d, nsd-checkzone does not:\n%s", l, out)
		}
	}
}

// flaggedLines are the line numbers re's first group finds in out.
func flaggedLines(t *testing.T, file string, re *regexp.Regexp, out string) []int {
	t.Helper()
	var lines []int
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil {
			t.Fatalf("%s: line %q", file, m[1])
		}
		lines = append(lines, n)
	}
	return lines
}
