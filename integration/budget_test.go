package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/miekg/dns"
)

// budgetZone is a small master file: what the server serves before the
// reloads that must fail.
const budgetZone = `$ORIGIN budget.test.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 900 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.53
www IN A 192.0.2.1
www IN A 192.0.2.2
`

// bigBudgetZone is budgetZone at serial 2 with n more records: 100k take
// far more than 10 ms on any machine, 200k some 50 MB of heap.
func bigBudgetZone(n int) string {
	var b strings.Builder
	b.WriteString(strings.Replace(budgetZone, " 1 3600 ", " 2 3600 ", 1))
	for i := range n {
		fmt.Fprintf(&b, "p%d 30 IN A 10.%d.%d.%d\n", i, i>>16&255, i>>8&255, i&255)
	}
	return b.String()
}

// budgetServer writes a config (with extra, e.g. a budget) and the small
// zone into a temp dir and serves them; it returns the server, the zone's
// path and a function that rewrites the config with other extra lines.
func budgetServer(t *testing.T, extra string) (s *server, zone string, rewrite func(string)) {
	t.Helper()
	dir := t.TempDir()
	zone = writeFile(t, dir, "zones/budget.test.zone", budgetZone)
	rewrite = func(extra string) {
		writeFile(t, dir, "dnsrr.toml", "zones = [\"zones/*\"]\n"+extra+"\n[health]\nadmin = \"127.0.0.1:0\"\n")
	}
	rewrite(extra)
	return startServer(t, "-config", filepath.Join(dir, "dnsrr.toml")), zone, rewrite
}

// reloadResult sends SIGHUP and returns the reload's log line.
func reloadResult(t *testing.T, s *server) logLine {
	t.Helper()
	mark := s.logMark()
	s.signal(syscall.SIGHUP)
	l, ok := s.waitLog(mark, pollTimeout, func(l logLine) bool {
		return l.message() == "reload applied" || strings.HasPrefix(l.message(), "reload failed")
	})
	if !ok {
		t.Fatalf("no reload log line within %v of SIGHUP", pollTimeout)
	}
	return l
}

// wantFailed checks a reload line is the error "reload failed, keeping
// old zones" whose error says every one of want.
func wantFailed(t *testing.T, l logLine, want ...string) {
	t.Helper()
	if l.message() != "reload failed, keeping old zones" || l.str("level") != "error" {
		t.Fatalf("got %s, want the error line \"reload failed, keeping old zones\"", l.raw)
	}
	for _, w := range want {
		if !strings.Contains(l.str("error"), w) {
			t.Errorf("reload error %q does not say %q", l.str("error"), w)
		}
	}
}

// wantOldBudgetZone checks that the small zone is what is served.
func wantOldBudgetZone(t *testing.T, s *server) {
	t.Helper()
	addr := s.addr("4")
	wantAddrs(t, addr, "www.budget.test.", dns.TypeA, "192.0.2.1", "192.0.2.2")
	r := exchange(t, "udp", addr, newQuery("budget.test.", dns.TypeSOA))
	if len(r.Answer) != 1 || r.Answer[0].(*dns.SOA).Serial != 1 {
		t.Errorf("SOA %v, want the old zone's serial 1", r.Answer)
	}
	if r := exchange(t, "udp", addr, newQuery("p1.budget.test.", dns.TypeA)); r.Rcode != dns.RcodeNameError {
		t.Errorf("p1.budget.test. (only in the new zone): %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
}

// TestReloadOverMemoryBudget: a zone that needs more heap than
// reload_memory fails to reload like any bad zone (old zone served, the
// error names the file and the limit); at startup and in `dnsrr check` it
// fails with exit 1 and the same message.
func TestReloadOverMemoryBudget(t *testing.T) {
	t.Parallel()
	s, zone, _ := budgetServer(t, `reload_memory = "16MiB"`)
	writeFile(t, filepath.Dir(zone), filepath.Base(zone), bigBudgetZone(200_000))
	wantFailed(t, reloadResult(t, s), filepath.Base(zone), "reload_memory", "16MiB")
	wantOldBudgetZone(t, s)

	cfg := filepath.Join(filepath.Dir(filepath.Dir(zone)), "dnsrr.toml")
	_, stderr, code := runDNSRR(t, "check", "-config", cfg)
	if code != 1 || !strings.Contains(stderr, filepath.Base(zone)+": reload_memory") {
		t.Errorf("check: exit %d, stderr %q; want exit 1 and the file and reload_memory", code, stderr)
	}
	_, stderr, code = runDNSRR(t, "serve", "-log-format", "json", "-listen", "127.0.0.1:0", "-config", cfg)
	if code != 1 || !strings.Contains(stderr, "reload_memory") || !strings.Contains(stderr, filepath.Base(zone)) {
		t.Errorf("serve: exit %d, stderr %q; want exit 1 and the file and reload_memory", code, stderr)
	}
}

// TestReloadOverTimeBudget: a reload that takes longer than
// reload_timeout (read again from the config on each reload) fails the
// same way.
func TestReloadOverTimeBudget(t *testing.T) {
	t.Parallel()
	s, zone, rewrite := budgetServer(t, "")
	writeFile(t, filepath.Dir(zone), filepath.Base(zone), bigBudgetZone(100_000))
	rewrite(`reload_timeout = "10ms"`)
	wantFailed(t, reloadResult(t, s), filepath.Base(zone), "reload_timeout", "10ms")
	wantOldBudgetZone(t, s)

	// With the budget back to its default, reloads apply again.
	rewrite("")
	writeFile(t, filepath.Dir(zone), filepath.Base(zone), strings.Replace(budgetZone, "192.0.2.2", "192.0.2.3", 1))
	if l := reloadResult(t, s); l.message() != "reload applied" {
		t.Fatalf("got %s, want \"reload applied\"", l.raw)
	}
	wantAddrs(t, s.addr("4"), "www.budget.test.", dns.TypeA, "192.0.2.1", "192.0.2.3")
}
