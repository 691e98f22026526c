package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSystemdUnit: the shipped unit is one systemd accepts (systemd-analyze
// verify prints nothing), is a notify service whose start and reload run
// `dnsrr check` first, and keeps its hardening (systemd-analyze security,
// offline, at most 2.0 where 10 is unprotected; it rates 1.7).
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-analyze not installed (.ci/run installs systemd)")
		}
		t.Skip("systemd-analyze not installed (apt-get install systemd)")
	}
	unit := readFile(t, repoPath("examples", "dnsrr.service"))
	for _, want := range []string{
		"\nType=notify\n",
		"\nExecStartPre=/usr/local/bin/dnsrr check -config /etc/dnsrr/dnsrr.toml\n",
		"\nExecReload=/usr/local/bin/dnsrr check -config /etc/dnsrr/dnsrr.toml\nExecReload=/bin/kill -HUP $MAINPID\n",
		"\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("examples/dnsrr.service lacks %q", strings.TrimSpace(want))
		}
	}
	// verify checks that the commands exist: point them at the binary
	// under test.
	dir := t.TempDir()
	path := writeFile(t, dir, "dnsrr.service", strings.ReplaceAll(unit, "/usr/local/bin/dnsrr", binPath))
	cmd := exec.Command("systemd-analyze", "verify", "--man=no", path)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	cmd = exec.Command("systemd-analyze", "security", "--offline=yes", "--threshold=20", "--no-pager", path)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze security: %v (exposure above 2.0)\n%s", err, out)
	} else {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		t.Log(lines[len(lines)-1])
	}
}

// TestCheckUnprivileged: `dnsrr check`, as ExecStartPre= and in CI, needs
// neither root nor the ports: it passes as nobody for a configuration on
// port 53 whose address is taken, and fails with exit 1 and file:line on
// a broken zone.
func TestCheckUnprivileged(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the check as another user")
	}
	// Everything nobody must reach: a directory of its own, readable.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} { // t.TempDir's are 0700
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "dnsrr")
	writeFile(t, dir, "dnsrr", readFile(t, binPath))
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "zones/lb.example.test.toml", readFile(t, exampleZone()))
	taken := occupyPort(t)
	cfg := writeFile(t, dir, "dnsrr.toml", `listen = ["127.0.0.1:53", "`+taken+`"]
zones = ["zones/*.toml"]
`)
	broken := writeFile(t, dir, "broken.test.toml", brokenZone)
	asNobody := func(args ...string) (string, int) {
		cmd := exec.Command(bin, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		t.Logf("as nobody: dnsrr %s: %v\n%s", strings.Join(args, " "), err, out)
		return string(out), exitCode(err)
	}
	if out, code := asNobody("check", "-config", cfg); code != 0 || !summaryRE.MatchString(out) {
		t.Errorf("check as nobody of a config on port 53 and a taken port: exit %d, want 0 and the summary", code)
	}
	if out, code := asNobody("check", "-zone", broken); code != 1 || !strings.Contains(out, "broken.test.toml:") {
		t.Errorf("check as nobody of a broken zone: exit %d, want 1 with file:line", code)
	}
}
