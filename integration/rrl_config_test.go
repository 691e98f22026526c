package integration

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRRLConfigErrors: a bad [rrl] table is reported as file:line by check
// and serve (exit 1), and on reload it fails the reload while the old
// zone keeps being served.
func TestRRLConfigErrors(t *testing.T) {
	t.Parallel()
	good := "[rrl]\nresponses_per_second = 10\nexempt = [\"192.0.2.0/24\"]\n"
	s, zone, rewrite := budgetServer(t, good)
	cfg := filepath.Join(filepath.Dir(filepath.Dir(zone)), "dnsrr.toml")

	// Lines: 1 zones, 2 [rrl], 3 the first key.
	bad := "[rrl]\nslip = 20\nwindow = \"1500ms\"\nexempt = [\"192.0.2.1/24\"]\n"
	want := []string{
		"dnsrr.toml:2: rrl: responses_per_second is missing",
		"dnsrr.toml:3: rrl.slip: 20 is out of range 0..10",
		"dnsrr.toml:4: rrl.window: 1.5s: use whole seconds",
		"dnsrr.toml:5: rrl.exempt: \"192.0.2.1/24\" has bits set past the prefix length: write 192.0.2.0/24",
	}
	rewrite(bad)
	wantFailed(t, reloadResult(t, s), want...)
	wantOldBudgetZone(t, s)

	_, stderr, code := runDNSRR(t, "check", "-config", cfg)
	for _, w := range want {
		if code != 1 || !strings.Contains(stderr, w) {
			t.Errorf("check: exit %d, stderr %q; want exit 1 and %q", code, stderr, w)
		}
	}
	_, stderr, code = runDNSRR(t, "serve", "-log-format", "json", "-listen", "127.0.0.1:0", "-config", cfg)
	if code != 1 || !strings.Contains(stderr, want[1]) {
		t.Errorf("serve: exit %d, stderr %q; want exit 1 and %q", code, stderr, want[1])
	}

	rewrite(good)
	if l := reloadResult(t, s); l.message() != "reload applied" {
		t.Fatalf("with [rrl] good again: %s, want \"reload applied\"", l.raw)
	}
	wantOldBudgetZone(t, s)
}
