package integration

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// systemdWait bounds each wait on the containerized systemd: booting it,
// a state to be reached. A guard against hanging, not a speed assertion.
const systemdWait = 60 * time.Second

// TestSystemdService runs the shipped unit under a real systemd: the
// host's own systemd booted as PID 1 of a podman container, over an
// overlay of the host's root (nothing it writes reaches the host), with no
// network but its loopback. The unit is used as shipped (dynamic user,
// sandboxing, Type=notify); only the binary is the one under test and the
// configuration serves the example zone on 127.0.0.1:53. It checks that
// `systemctl start` returns once DNS answers, that systemctl shows
// dnsrr's STATUS, that `systemctl reload` applies a good zone and refuses
// a broken one (the server untouched), and that stop is clean.
func TestSystemdService(t *testing.T) {
	t.Parallel()
	needPodman(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root for podman's --rootfs")
	}
	for _, tool := range []string{"/lib/systemd/systemd", "/usr/bin/dig"} {
		if _, err := os.Stat(tool); err != nil {
			t.Skipf("%s not installed on this host, whose root the container boots", tool)
		}
	}
	// The files systemd's container sees, readable by the dynamic user.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := writeFile(t, dir, "dnsrr", readFile(t, binPath))
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	unit := writeFile(t, dir, "dnsrr.service", readFile(t, repoPath("examples", "dnsrr.service")))
	etc := filepath.Join(dir, "etc")
	writeFile(t, etc, "dnsrr.toml", "listen = [\"127.0.0.1:53\"]\nzones = [\"zones/*.toml\"]\n[health]\nadmin = \"\"\n")
	zoneText := readFile(t, exampleZone())
	zone := writeFile(t, etc, "zones/lb.example.test.toml", zoneText)
	for _, d := range []string{etc, filepath.Dir(zone)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	ctr := fmt.Sprintf("dnsrr-systemd-test-%d-%08x", os.Getpid(), rand.Uint32())
	// systemd in a container: podman's systemd mode, and room for the
	// unit's sandboxing (namespaces, mounts) that systemd sets up.
	boot := []string{"--systemd=always", "--cap-add=SYS_ADMIN", "--security-opt", "seccomp=unconfined",
		"--tmpfs", "/tmp:rw,notmpcopyup", "--tmpfs", "/run:rw,notmpcopyup"}
	rootfs := []string{"--rootfs", "/:O"}
	runArgs := usableRuntime(t, append(append(slices.Clone(boot), rootfs...), "/bin/true")...)
	argv := append([]string{"run", "-d", "--name", ctr, "--network=none"}, runArgs...)
	argv = append(argv, boot...)
	argv = append(argv, "-v", bin+":/usr/local/bin/dnsrr:ro", "-v", etc+":/etc/dnsrr:ro", "-v", unit+":/etc/systemd/system/dnsrr.service:ro")
	argv = append(argv, rootfs...)
	argv = append(argv, "/lib/systemd/systemd", "--unit=basic.target")
	t.Cleanup(func() { _ = podman("rm", "--force", "--time", "0", ctr).Run() })
	if out, err := runBounded(podman(argv...)); err != nil {
		t.Fatalf("podman run systemd: %v\n%s", err, out)
	}
	inside := func(args ...string) (string, error) {
		out, err := runBounded(podman(append([]string{"exec", ctr}, args...)...))
		t.Logf("%s: %v\n%s", strings.Join(args, " "), err, out)
		return strings.TrimSpace(string(out)), err
	}
	poll := func(what string, cond func() bool) bool {
		t.Helper()
		for deadline := time.Now().Add(systemdWait); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if cond() {
				return true
			}
		}
		t.Errorf("not within %v: %s", systemdWait, what)
		return false
	}
	booted := false
	for deadline := time.Now().Add(systemdWait); !booted && time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		out, _ := runBounded(podman("exec", ctr, "systemctl", "is-system-running"))
		state := strings.TrimSpace(string(out))
		booted = state == "running" || state == "degraded"
	}
	if !booted {
		logs, _ := runBounded(podman("logs", ctr))
		t.Skipf("systemd does not boot in a container here:\n%s", logs)
	}
	show := func(prop string) string {
		out, _ := runBounded(podman("exec", ctr, "systemctl", "show", "--value", "-p", prop, "dnsrr"))
		return strings.TrimSpace(string(out))
	}
	dig := func(qname string) string {
		out, _ := inside("dig", "@127.0.0.1", "+short", "+tries=1", "+time=5", qname, "A")
		lines := strings.Fields(out)
		slices.Sort(lines)
		return strings.Join(lines, " ")
	}
	var addrs []string
	for _, rr := range wwwA {
		addrs = append(addrs, rr[strings.LastIndexByte(rr, ' ')+1:])
	}
	slices.Sort(addrs)
	www := strings.Join(addrs, " ")

	// Type=notify: systemctl start returns once dnsrr says READY=1, which
	// it says once it answers.
	if _, err := inside("systemctl", "start", "dnsrr"); err != nil {
		status, _ := inside("systemctl", "status", "--no-pager", "-n", "30", "dnsrr")
		t.Fatalf("systemctl start dnsrr: %v\n%s", err, status)
	}
	if got := dig("www.lb.example.test."); got != www {
		t.Errorf("right after systemctl start: dig www = %q, want %q", got, www)
	}
	if got := show("StatusText"); got != "serving 1 zone on 127.0.0.1:53" {
		t.Errorf("StatusText %q, want dnsrr's STATUS", got)
	}
	if pid := show("MainPID"); pid == "" || pid == "0" {
		t.Errorf("no main PID")
	} else if status, _ := inside("cat", "/proc/"+pid+"/status"); !regexp.MustCompile(`(?m)^Uid:\t[1-9]`).MatchString(status) || !strings.Contains(status, "CapEff:\t0000000000000400") {
		t.Errorf("dnsrr under systemd is root or holds more than CAP_NET_BIND_SERVICE:\n%s", status)
	}

	// A good reload: the check passes, SIGHUP, and the STATUS says so.
	writeZone := func(text string) {
		tmp := writeFile(t, filepath.Dir(zone), ".new", text)
		if err := os.Rename(tmp, zone); err != nil {
			t.Fatal(err)
		}
	}
	writeZone(zoneText + newRecord)
	if _, err := inside("systemctl", "reload", "dnsrr"); err != nil {
		t.Errorf("systemctl reload with a good zone: %v", err)
	}
	poll("StatusText saying the reload was applied", func() bool { return strings.Contains(show("StatusText"), "reload applied") })
	if got := dig("reloaded.lb.example.test."); got != "192.0.2.77" {
		t.Errorf("after the reload: dig reloaded = %q, want 192.0.2.77", got)
	}

	// A broken zone: ExecReload's check fails, systemctl reload fails with
	// it, and the server is not signalled: still active, still serving.
	writeZone(zoneText + newRecord + "\n[records.broken]\na = [\"192.0.2.300\"]\n")
	if _, err := inside("systemctl", "reload", "dnsrr"); err == nil {
		t.Errorf("systemctl reload with a broken zone succeeded")
	}
	if got := show("ActiveState"); got != "active" {
		t.Errorf("after a refused reload: %s, want active", got)
	}
	journal, _ := inside("journalctl", "-u", "dnsrr", "--no-pager", "-o", "cat")
	if !strings.Contains(journal, "lb.example.test.toml:") || !strings.Contains(journal, `"192.0.2.300" is not an IP address`) {
		t.Errorf("the journal does not hold the check's file:line error")
	}
	if got := dig("www.lb.example.test."); got != www {
		t.Errorf("after a refused reload: dig www = %q, want %q", got, www)
	}

	if _, err := inside("systemctl", "stop", "dnsrr"); err != nil {
		t.Errorf("systemctl stop: %v", err)
	}
	if got := show("Result"); got != "success" {
		t.Errorf("after stop: Result=%s, want success", got)
	}
	journal, _ = inside("journalctl", "-u", "dnsrr", "--no-pager", "-o", "cat")
	if !bytes.Contains([]byte(journal), []byte(`"message":"stopped"`)) {
		t.Errorf("no \"stopped\" line in the journal")
	}
}
