package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Issue 11 point 7: a master file and its TOML translation serve identical
// answers, for every type and form the TOML format gained (HINFO, LOC, URI,
// RP, DNAME, RFC 3597 generic data, TXT character-strings, escaped owners).

func rdataTwin(ext string) string { return repoPath("zones", "testdata", "twins", "rdata."+ext) }

// answerText is a response as a comparable text: the rcode and flags, then
// each section's records sorted (pools come in random order).
func answerText(r *dns.Msg) string {
	section := func(rrs []dns.RR) string {
		var out []string
		for _, rr := range rrs {
			out = append(out, rr.String())
		}
		slices.Sort(out)
		return strings.Join(out, "\n")
	}
	return dns.RcodeToString[r.Rcode] + " aa=" + map[bool]string{true: "1", false: "0"}[r.Authoritative] +
		"\nanswer:\n" + section(r.Answer) + "\nauthority:\n" + section(r.Ns) + "\nadditional:\n" + section(r.Extra)
}

func TestTOMLRdataTwinsAnswerAlike(t *testing.T) {
	t.Parallel()
	fromTOML := startServer(t, "-zone", rdataTwin("toml"), "-admin", "")
	fromMaster := startServer(t, "-zone", rdataTwin("zone"), "-admin", "")
	names := []string{"rdata.test.", "ns1", "host", "info", "_ftp._tcp", "_tcp", "old", "below.old", "generic",
		"strings", `a\.b`, "b", "abc", "ABC", `\065bc`, `web\.eu`, "nothing"}
	types := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeMX, dns.TypeHINFO, dns.TypeLOC, dns.TypeURI,
		dns.TypeRP, dns.TypeDNAME, dns.TypeCNAME, dns.TypeNS, dns.TypeSOA, 65280, dns.TypeANY}
	for _, network := range []string{"udp", "tcp"} {
		for _, n := range names {
			qname := n
			if !dns.IsFqdn(n) {
				qname = n + ".rdata.test."
			}
			for _, typ := range types {
				q := newEDNSQuery(qname, typ, 4096)
				a := exchange(t, network, fromTOML.addr("4"), q)
				b := exchange(t, network, fromMaster.addr("4"), q)
				if at, bt := answerText(a), answerText(b); at != bt {
					t.Errorf("%s %s %s: TOML and master file answer differently:\n%s\n--- vs ---\n%s", network, qname, dns.Type(typ), at, bt)
				}
				if a.Rcode == dns.RcodeServerFailure {
					t.Errorf("%s %s: SERVFAIL", qname, dns.Type(typ))
				}
			}
		}
	}
}

// TestTOMLRdataDig: what dig shows for the new forms, from the TOML zone.
func TestTOMLRdataDig(t *testing.T) {
	t.Parallel()
	dig, err := exec.LookPath("dig")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("dig not on PATH in CI (install dnsutils)")
		}
		t.Skip("dig not on PATH")
	}
	s := startServer(t, "-zone", rdataTwin("toml"), "-admin", "")
	host, port := "127.0.0.1", strings.TrimPrefix(s.addr("4"), "127.0.0.1:")
	for _, tc := range []struct {
		args []string
		want []string // lines of +short output, in any order
	}{
		{[]string{"generic.rdata.test", "TYPE65280"}, []string{`\# 0`, `\# 3 0A0B0C`}},
		{[]string{"generic.rdata.test", "MX"}, []string{"10 mail."}},
		{[]string{"strings.rdata.test", "TXT"}, []string{
			`"first" "second" ""`,
			`"quote \" and backslash \\ and ; semicolon"`,
			`"bytes \000\001\127\128\255" "caf\195\169"`,
			`"` + strings.Repeat("x", 255) + `"`}},
		{[]string{`a\.b.rdata.test`, "TXT"}, []string{`"dot in a label"`}},
		{[]string{"ABC.rdata.test", "TXT"}, []string{`"escaped A"`}},
		{[]string{"host.rdata.test", "HINFO"}, []string{`"PC Intel 2.4GHz" "Linux"`}},
		{[]string{"host.rdata.test", "LOC"}, []string{"52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m"}},
		{[]string{"host.rdata.test", "RP"}, []string{"admin.rdata.test. info.rdata.test."}},
		{[]string{"_ftp._tcp.rdata.test", "URI"}, []string{`10 1 "ftp://ftp1.example.test/public"`}},
		{[]string{"x.old.rdata.test", "A"}, []string{"new.example.test.", "x.new.example.test."}}, // DNAME, synthesized CNAME
	} {
		t.Run(strings.Join(tc.args, "/"), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
			defer cancel()
			argv := append([]string{"@" + host, "-p", port, "+norec", "+time=3", "+tries=1", "+short"}, tc.args...)
			var out bytes.Buffer
			cmd := exec.CommandContext(ctx, dig, argv...)
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Fatalf("dig %s: %v\n%s", strings.Join(argv, " "), err, out.String())
			}
			got := strings.Split(strings.TrimSpace(out.String()), "\n")
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("dig %s:\n got %q\nwant %q", strings.Join(argv, " "), got, want)
			}
		})
	}
}

// TestTOMLRdataBadReload: a generic record whose bytes do not fit its type
// fails the reload at its line, and the old zone keeps being served.
func TestTOMLRdataBadReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := readFile(t, rdataTwin("toml"))
	zone := writeFile(t, dir, "rdata.test.toml", good)
	s := startServer(t, "-zone", zone, "-admin", "")
	addr := s.addr("4")
	wantAddrs(t, addr, "generic.rdata.test.", dns.TypeA, "192.0.2.99")

	for _, bad := range []struct{ from, to, want string }{
		{`a = ['\# 4 c0000263']`, `a = ['\# 5 c000026301']`, `records.generic.a: \# 5: the A data ends before the last of the 5 bytes`},
		{`type65280 = [`, `type250 = [`, `records.generic.type250: TSIG is a meta or query type`},
		{`["first", "second", ""],`, `["first", "` + strings.Repeat("z", 256) + `"],`, "records.strings.txt: character-string 2 is 256 bytes"},
	} {
		text, line := replaceOnce(t, good, bad.from, bad.to)
		// By rename, so that the reload reads the new text whole.
		writeFile(t, dir, "next.toml", text)
		if err := os.Rename(dir+"/next.toml", zone); err != nil {
			t.Fatal(err)
		}
		mark := s.logMark()
		s.signal(syscall.SIGHUP)
		l, ok := s.waitLog(mark, 2*time.Minute, func(l logLine) bool {
			return l.message() == "reload applied" || strings.HasPrefix(l.message(), "reload failed")
		})
		if !ok {
			t.Fatal("no reload log line after SIGHUP")
		}
		if where := "rdata.test.toml:" + strconv.Itoa(line) + ": "; l.message() != "reload failed, keeping old zones" ||
			!strings.Contains(l.str("error"), where+bad.want) {
			t.Errorf("reload: %s\nwant a failure containing %q", l.raw, where+bad.want)
		}
		wantAddrs(t, addr, "generic.rdata.test.", dns.TypeA, "192.0.2.99")
	}
}
