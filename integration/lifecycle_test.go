package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// copyExample copies examples/dnsrr.toml and examples/zones/ into a temp
// dir so a test can edit the zone, and returns (config, zone) paths.
func copyExample(t *testing.T) (cfg, zone string) {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(repoPath("examples", "zones"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			writeFile(t, dir, filepath.Join("zones", e.Name()), readFile(t, repoPath("examples", "zones", e.Name())))
		}
	}
	cfg = writeFile(t, dir, "dnsrr.toml", readFile(t, exampleConfig()))
	return cfg, filepath.Join(dir, "zones", "lb.example.test.toml")
}

// replaceOnce replaces the single occurrence of old in s and returns the
// result and the 1-based line of the replacement; the test fails when the
// example no longer has exactly one old.
func replaceOnce(t *testing.T, s, old, new string) (string, int) {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("example zone has %d occurrences of %q, the test needs exactly 1", n, old)
	}
	i := strings.Index(s, old)
	return s[:i] + new + s[i+len(old):], strings.Count(s[:i], "\n") + 1
}

// pollAnswer queries qname/qtype over UDP until the answer's addresses
// (sorted) equal want, or pollTimeout passes. want nil means NXDOMAIN.
func pollAnswer(t *testing.T, addr, qname string, qtype uint16, want []string) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	var last *dns.Msg
	for time.Now().Before(deadline) {
		r, err := tryExchange("udp", addr, newQuery(qname, qtype))
		if err == nil {
			last = r
			got := addrsOf(r.Answer)
			slices.Sort(got)
			if want == nil && r.Rcode == dns.RcodeNameError || want != nil && slices.Equal(got, want) {
				return
			}
		}
		time.Sleep(pollInterval)
	}
	t.Fatalf("%s %s: still not %v after %v; last reply:\n%v", qname, dns.TypeToString[qtype], want, pollTimeout, last)
}

// wantAddrs queries once and checks the address set.
func wantAddrs(t *testing.T, addr, qname string, qtype uint16, want ...string) {
	t.Helper()
	r := exchange(t, "udp", addr, newQuery(qname, qtype))
	got := addrsOf(r.Answer)
	slices.Sort(got)
	if r.Rcode != dns.RcodeSuccess || !slices.Equal(got, want) {
		t.Errorf("%s: rcode %s addresses %v, want NOERROR %v", qname, dns.RcodeToString[r.Rcode], got, want)
	}
}

// newRecord is appended to the zone by the reload tests; it is a new TOML
// table, so it can go at the end of any valid file.
const newRecord = "\n[records.reloaded]\na = [\"192.0.2.77\"]\n"

// TestReload: SIGHUP swaps in the edited zone (issue 3 "Reload").
func TestReload(t *testing.T) {
	t.Parallel()
	cfg, zone := copyExample(t)
	s := startServer(t, "-config", cfg)
	addr := s.addr("4")
	wantAddrs(t, addr, name("mail"), dns.TypeA, "192.0.2.25")
	pollAnswer(t, addr, name("reloaded"), dns.TypeA, nil)

	text := readFile(t, zone)
	text, _ = replaceOnce(t, text, `"192.0.2.25"`, `"192.0.2.26"`)
	text, _ = replaceOnce(t, text, "2026112501", "2026112502")
	writeFile(t, filepath.Dir(zone), filepath.Base(zone), text+newRecord)

	// While the reload happens, a client keeps asking for the new name:
	// every reply must come wholly from the old snapshot (NXDOMAIN with
	// the old serial) or wholly from the new one, never a mix.
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		watchSnapshots(t, addr, stopWatch)
	}()
	defer func() { close(stopWatch); <-watched }()

	mark := s.logMark()
	s.signal(syscall.SIGHUP)
	line, ok := s.waitLog(mark, pollTimeout, func(l logLine) bool {
		return l.message() == "reload applied" || strings.HasPrefix(l.message(), "reload failed")
	})
	if !ok || line.message() != "reload applied" {
		t.Fatalf("no \"reload applied\" line after SIGHUP (got %q)", line.raw)
	}
	if serials, _ := line.fields["serials"].(map[string]any); serials[origin] != float64(2026112502) {
		t.Errorf("reload line serials = %v, want %s: 2026112502", line.fields["serials"], origin)
	}
	pollAnswer(t, addr, name("mail"), dns.TypeA, []string{"192.0.2.26"})
	wantAddrs(t, addr, name("reloaded"), dns.TypeA, "192.0.2.77")
	r := exchange(t, "udp", addr, newQuery(origin, dns.TypeSOA))
	if len(r.Answer) != 1 || r.Answer[0].(*dns.SOA).Serial != 2026112502 {
		t.Errorf("SOA after reload: %v, want serial 2026112502", r.Answer)
	}
}

// watchSnapshots queries reloaded.lb.example.test A until stop is closed
// (at most pollTimeout) and reports any reply that is neither the old
// zone's NXDOMAIN with serial 2026112501 nor the new zone's 192.0.2.77.
func watchSnapshots(t *testing.T, addr string, stop <-chan struct{}) {
	deadline := time.Now().Add(pollTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-stop:
			return
		default:
		}
		r, err := tryExchange("udp", addr, newQuery(name("reloaded"), dns.TypeA))
		if err != nil {
			t.Errorf("query during reload: %v", err)
			return
		}
		oldZone := r.Rcode == dns.RcodeNameError && len(r.Ns) == 1 && r.Ns[0].(*dns.SOA).Serial == 2026112501
		newZone := r.Rcode == dns.RcodeSuccess && slices.Equal(addrsOf(r.Answer), []string{"192.0.2.77"})
		if !oldZone && !newZone {
			t.Errorf("reply during reload is from neither the old nor the new zone:\n%v", r)
			return
		}
	}
}

// TestReloadBroken: a zone that fails to load is reported with file:line
// and the old snapshot keeps serving, none of the broken file's other
// changes included (nothing half-loaded). Fixing it and sending SIGHUP
// again applies it.
func TestReloadBroken(t *testing.T) {
	t.Parallel()
	cfg, zone := copyExample(t)
	s := startServer(t, "-config", cfg)
	addr := s.addr("4")
	orig := readFile(t, zone)

	broken, line := replaceOnce(t, orig, `"192.0.2.25"`, `"192.0.2.256"`)
	broken, _ = replaceOnce(t, broken, "2026112501", "2026112502")
	writeFile(t, filepath.Dir(zone), filepath.Base(zone), broken+newRecord)

	mark := s.logMark()
	s.signal(syscall.SIGHUP)
	l, ok := s.waitLog(mark, pollTimeout, func(l logLine) bool {
		return l.message() == "reload applied" || strings.HasPrefix(l.message(), "reload failed")
	})
	if !ok {
		t.Fatal("no reload log line after SIGHUP")
	}
	if l.message() != "reload failed, keeping old zones" || l.str("level") != "error" {
		t.Fatalf("got %s, want the error line \"reload failed, keeping old zones\"", l.raw)
	}
	if want := fmt.Sprintf("%s:%d", filepath.Base(zone), line); !strings.Contains(l.str("error"), want) {
		t.Errorf("reload error %q does not point at %s", l.str("error"), want)
	}
	// The log line comes after the failed load, so the old zone is what
	// is served now; several queries guard against a lazy swap.
	for range 5 {
		wantAddrs(t, addr, name("mail"), dns.TypeA, "192.0.2.25")
		wantNegative(t, exchange(t, "udp", addr, newQuery(name("reloaded"), dns.TypeA)), dns.RcodeNameError)
	}

	fixed, _ := replaceOnce(t, orig, `"192.0.2.25"`, `"192.0.2.27"`)
	fixed, _ = replaceOnce(t, fixed, "2026112501", "2026112503")
	writeFile(t, filepath.Dir(zone), filepath.Base(zone), fixed)
	s.signal(syscall.SIGHUP)
	pollAnswer(t, addr, name("mail"), dns.TypeA, []string{"192.0.2.27"})
}

// TestStop: SIGTERM and SIGINT stop the server gracefully with exit 0 and
// a "stopped" line, also while a client holds an idle TCP connection
// (graceful stop must not wait for idle clients forever).
func TestStop(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		sig     syscall.Signal
		idleTCP bool
	}{
		{"SIGTERM", syscall.SIGTERM, false},
		{"SIGINT", syscall.SIGINT, false},
		{"SIGTERM with an idle TCP connection", syscall.SIGTERM, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startExample(t)
			if tc.idleTCP {
				co := dialTCP(t, s.addr("4"))
				positive(wwwA...)(t, exchangeConn(t, co, newQuery(name("www"), dns.TypeA)))
			}
			code, stopped := s.stopWith(tc.sig)
			if !stopped || code != 0 {
				t.Fatalf("after %v: stopped by itself %v, exit code %d; want exit 0", tc.sig, stopped, code)
			}
			if _, ok := s.waitLog(0, 0, func(l logLine) bool { return l.message() == "stopped" }); !ok {
				t.Errorf("no \"stopped\" log line")
			}
		})
	}
}

// summaryRE is `dnsrr check`'s line per zone.
var summaryRE = regexp.MustCompile(`(?m)^lb\.example\.test\.: serial 2026112501, \d+ names?, \d+ pools?, \d+ records?$`)

func TestCheckExample(t *testing.T) {
	t.Parallel()
	for _, argv := range [][]string{
		{"check", "-config", exampleConfig()},
		{"check", "-zone", exampleZone()},
		{"check", "-zone", exampleMaster()},
	} {
		t.Run(strings.Join(argv[:2], " ")+" "+filepath.Base(argv[2]), func(t *testing.T) {
			t.Parallel()
			stdout, _, code := runDNSRR(t, argv...)
			if code != 0 {
				t.Fatalf("exit %d, want 0", code)
			}
			if !summaryRE.MatchString(stdout) {
				t.Errorf("stdout %q has no summary line matching %s", stdout, summaryRE)
			}
		})
	}
}

// brokenZone has five independent value mistakes, each marked by a
// unique string, so check must print five file:line errors.
var brokenZone = testZoneHeader("broken.test.") + `
[pools.a]
addresses = ["192.0.2.1", "192.0.2.300"]

[pools.b]
addresses = ["192.0.2.2"]
order = "shuffle"

[records.c]
mx = ["mail"]

[records.d]
a = ["not-an-address"]

[pools.e]
addresses = ["192.0.2.3"]
ttl = -5
`

var brokenMarkers = []string{`"192.0.2.300"`, `"shuffle"`, `mx = ["mail"]`, `"not-an-address"`, `ttl = -5`}

func TestCheckBroken(t *testing.T) {
	t.Parallel()
	zf := writeFile(t, t.TempDir(), "broken.test.toml", brokenZone)
	stdout, stderr, code := runDNSRR(t, "check", "-zone", zf)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if strings.Contains(stdout, "serial") {
		t.Errorf("summary printed for a broken zone: %q", stdout)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for _, marker := range brokenMarkers {
		_, line := replaceOnce(t, brokenZone, marker, marker)
		want := regexp.MustCompile(`(^|/)` + regexp.QuoteMeta(filepath.Base(zf)) + ":" + strconv.Itoa(line) + `: `)
		if !slices.ContainsFunc(lines, want.MatchString) {
			t.Errorf("no error line for %s (want file:%d: ...) in stderr:\n%s", marker, line, stderr)
		}
	}
}

// TestCheckUnknownKey: unknown config keys are errors (issue 3 "Config").
func TestCheckUnknownKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "zones/lb.example.test.toml", readFile(t, exampleZone()))
	cfg := writeFile(t, dir, "dnsrr.toml", "listen = [\"127.0.0.1:0\"]\nzones = [\"zones/*.toml\"]\nlistne = [\"127.0.0.1:53\"]\n")
	_, stderr, code := runDNSRR(t, "check", "-config", cfg)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr, "listne") {
		t.Errorf("stderr does not name the unknown key listne:\n%s", stderr)
	}
}

// TestServeWithoutConfig: -listen and -zone alone serve a zone, in either
// format; and serve is the default subcommand.
func TestServeWithoutConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		argv []string
	}{
		{"serve -zone toml", append([]string{"serve", "-log-format", "json", "-zone", exampleZone()}, listenArgs()...)},
		{"serve -zone master file", append([]string{"serve", "-log-format", "json", "-zone", exampleMaster()}, listenArgs()...)},
		{"no subcommand -config", append([]string{"-config", exampleConfig(), "-log-format", "json"}, listenArgs()...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServing(t, tc.argv...)
			for _, ep := range s.endpoints() {
				m := newQuery(name("www"), dns.TypeA)
				r := exchange(t, ep.net, ep.addr, m)
				wantEcho(t, m, r)
				positive(wwwA...)(t, r)
			}
		})
	}
}

// TestExitCodes: 2 for usage errors, 1 for zone errors at startup, 3 for a
// runtime failure such as a port already taken (spec "Exit codes").
func TestExitCodes(t *testing.T) {
	t.Parallel()
	t.Run("unknown flag exits 2", func(t *testing.T) {
		t.Parallel()
		if _, _, code := runDNSRR(t, "serve", "-no-such-flag"); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	})
	t.Run("serve without config, listen or zone exits 2", func(t *testing.T) {
		t.Parallel()
		if _, _, code := runDNSRR(t, "serve"); code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	})
	t.Run("broken zone at startup exits 1", func(t *testing.T) {
		t.Parallel()
		zf := writeFile(t, t.TempDir(), "broken.test.toml", brokenZone)
		if _, _, code := runDNSRR(t, "serve", "-listen", "127.0.0.1:0", "-zone", zf); code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
	})
	t.Run("port in use exits 3", func(t *testing.T) {
		t.Parallel()
		addr := occupyPort(t)
		if _, _, code := runDNSRR(t, "serve", "-listen", addr, "-zone", exampleZone()); code != 3 {
			t.Errorf("exit %d, want 3", code)
		}
	})
}

// occupyPort binds one 127.0.0.1 port for both UDP and TCP for the rest of
// the test and returns it.
func occupyPort(t *testing.T) string {
	t.Helper()
	l, p := listenBoth(t)
	t.Cleanup(func() { l.Close(); p.Close() })
	return l.Addr().String()
}

// listenBoth binds one 127.0.0.1 port for both UDP and TCP. A port free
// for TCP may be taken for UDP, so it retries a bounded number of times.
func listenBoth(t *testing.T) (net.Listener, net.PacketConn) {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p, err := net.ListenPacket("udp", l.Addr().String())
		if err != nil {
			l.Close()
			continue
		}
		return l, p
	}
	t.Fatal("no 127.0.0.1 port free for both UDP and TCP after 20 tries")
	return nil, nil
}

// TestMasterFileEquivalent: the RFC 1035 master file of the example serves
// the same answers as the TOML zone (issue 3: "an RFC 1035 zone from NSD
// serves identical answers"), compared order-insensitively since pools
// shuffle.
func TestMasterFileEquivalent(t *testing.T) {
	t.Parallel()
	tomlSrv := startServer(t, "-zone", exampleZone())
	master := startServer(t, "-zone", exampleMaster())
	type qq struct {
		label string
		qtype uint16
	}
	var queries []qq
	for _, label := range []string{"@", "www", "api", "cdn", "static", "mail", "ns1", "ns2", "docs", "x.apps", "apps", "_tcp", "nope", "foo.www"} {
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT} {
			queries = append(queries, qq{label, qt})
		}
	}
	queries = append(queries,
		qq{"@", dns.TypeNS}, qq{"@", dns.TypeSOA}, qq{"@", dns.TypeCAA},
		qq{"docs", dns.TypeCNAME}, qq{"_imaps._tcp", dns.TypeSRV},
		qq{"dev", dns.TypeA}, qq{"dev", dns.TypeNS}, qq{"dev", dns.TypeDS},
		qq{"host.dev", dns.TypeA}, qq{"ns1.dev", dns.TypeA},
	)
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			t.Parallel()
			for _, query := range queries {
				m := newEDNSQuery(name(query.label), query.qtype, 1232)
				a := exchange(t, network, tomlSrv.addr("4"), m)
				b := exchange(t, network, master.addr("4"), m)
				if d := diffReplies(a, b); d != "" {
					t.Errorf("%s %s: TOML and master file differ: %s", query.label, dns.TypeToString[query.qtype], d)
				}
			}
		})
	}
}

// diffReplies compares two replies ignoring RR order within sections.
func diffReplies(a, b *dns.Msg) string {
	var diffs []string
	if a.Rcode != b.Rcode || a.Authoritative != b.Authoritative || a.Truncated != b.Truncated {
		diffs = append(diffs, fmt.Sprintf("header rcode/AA/TC %s/%v/%v vs %s/%v/%v",
			dns.RcodeToString[a.Rcode], a.Authoritative, a.Truncated, dns.RcodeToString[b.Rcode], b.Authoritative, b.Truncated))
	}
	for _, sec := range []struct {
		name string
		a, b []dns.RR
	}{{"answer", a.Answer, b.Answer}, {"authority", a.Ns, b.Ns}, {"additional", a.Extra, b.Extra}} {
		if ga, gb := canonSet(sec.a), canonSet(sec.b); !slices.Equal(ga, gb) {
			diffs = append(diffs, fmt.Sprintf("%s\n  toml   %q\n  master %q", sec.name, ga, gb))
		}
	}
	return strings.Join(diffs, "; ")
}
