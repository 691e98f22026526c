package integration

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// containerWait bounds building the image and each podman command: a cold
// build compiles dnsrr. A guard against hanging, not a speed assertion.
const containerWait = 5 * time.Minute

// TestContainerImage builds the image with container/build.sh and podman
// (no registry, no network: the base is scratch), then runs it as it
// ships: as uid 65532, answering DNS on the host's loopback, `dnsrr check`
// and `dnsrr version` usable as commands, the CA certificates where Go
// looks for them, and SIGHUP and SIGTERM reaching dnsrr through podman.
func TestContainerImage(t *testing.T) {
	t.Parallel()
	needPodman(t)
	tag := fmt.Sprintf("localhost/dnsrr-test-%d-%08x:latest", os.Getpid(), rand.Uint32())
	dist := fmt.Sprintf(".build/test-%d-%08x", os.Getpid(), rand.Uint32())
	t.Cleanup(func() {
		os.RemoveAll(repoPath(dist))
		os.Remove(repoPath(".build")) // only if empty: a build of the operator's may be there
		_ = podman("rmi", "--force", tag).Run()
	})
	// --layers=false: no intermediate images left behind once the tag is removed.
	build := exec.Command(repoPath("container", "build.sh"), "--layers=false")
	build.Env = append(os.Environ(), "IMAGE="+tag, "DIST="+dist, "CONTAINER_ENGINE=podman")
	if out, err := runBounded(build); err != nil {
		t.Fatalf("container/build.sh: %v\n%s", err, out)
	}
	inspect, err := runBounded(podman("image", "inspect", "--format", "{{.Size}} {{.Config.User}}", tag))
	if err != nil {
		t.Fatalf("podman image inspect: %v\n%s", err, inspect)
	}
	var size int64
	var user string
	fmt.Sscan(string(inspect), &size, &user)
	t.Logf("image %s: %.1f MB, user %s", tag, float64(size)/1e6, user)
	if user != "65532:65532" {
		t.Errorf("image user %q, want 65532:65532", user)
	}
	// Small: the binary and the certificates. A base image slipped in
	// would be 30 MB and more.
	if size <= 0 || size > 25e6 {
		t.Errorf("image is %d bytes, want a few MB (a static binary on scratch)", size)
	}

	runArgs := usableRuntime(t, tag, "version")

	// dnsrr check as a CI step, inside the image: exit 0 and a summary.
	out, err := runBounded(podman(append(append([]string{"run", "--rm", "--network=none"}, runArgs...), tag, "check", "-config", "/etc/dnsrr/dnsrr.toml")...))
	if err != nil || !summaryRE.Match(out) {
		t.Errorf("check in the image: %v\n%s", err, out)
	}
	// ... and exit 1 with file:line for a broken zone mounted in.
	bad := t.TempDir()
	writeFile(t, bad, "broken.test.toml", brokenZone)
	if err := os.Chmod(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err = runBounded(podman(append(append([]string{"run", "--rm", "--network=none", "-v", bad + ":/zones:ro"}, runArgs...), tag, "check", "-zone", "/zones/broken.test.toml")...))
	if code := exitCode(err); code != 1 || !bytes.Contains(out, []byte("/zones/broken.test.toml:")) {
		t.Errorf("check of a broken zone in the image: exit %d, want 1 and file:line errors:\n%s", code, out)
	}
	out, err = runBounded(podman(append(append([]string{"run", "--rm", "--network=none"}, runArgs...), tag, "version", "-json")...))
	if err != nil || !bytes.Contains(out, []byte(`"module":"github.com/dnsrr/dnsrr"`)) {
		t.Errorf("version in the image: %v\n%s", err, out)
	}

	// Serve, with host networking, on a free loopback port.
	port := strconv.Itoa(freePort(t))
	ctr := strings.NewReplacer("localhost/", "", ":latest", "").Replace(tag)
	argv := append([]string{"run", "--rm", "--name", ctr, "--network=host"}, runArgs...)
	argv = append(argv, tag, "serve", "-config", "/etc/dnsrr/dnsrr.toml", "-log-format", "json", "-listen", "127.0.0.1:"+port, "-admin", "")
	t.Cleanup(func() { _ = podman("rm", "--force", "--time", "0", ctr).Run() })
	s := startCommand(t, podman(argv...))
	if _, ok := s.waitLog(0, containerWait, func(l logLine) bool { return l.message() == "serving" }); !ok {
		t.Fatalf("no \"serving\" line from the container (exited: %v)", s.exited())
	}
	if _, ok := s.waitLog(0, 0, func(l logLine) bool { return strings.Contains(l.message(), "running as root") }); ok {
		t.Errorf("dnsrr in the image says it runs as root")
	}
	addr := "127.0.0.1:" + port
	for _, network := range []string{"udp", "tcp"} {
		positive(wwwA...)(t, exchange(t, network, addr, newQuery(name("www"), dns.TypeA)))
	}

	// The process runs as 65532, with no capability.
	pidOut, err := runBounded(podman("inspect", "--format", "{{.State.Pid}}", ctr))
	if err != nil {
		t.Fatalf("podman inspect: %v\n%s", err, pidOut)
	}
	status := readFile(t, filepath.Join("/proc", strings.TrimSpace(string(pidOut)), "status"))
	for _, want := range []string{"Uid:\t65532\t65532\t65532\t65532", "Gid:\t65532\t65532\t65532\t65532", "CapEff:\t0000000000000000"} {
		if !strings.Contains(status, want) {
			t.Errorf("the container's process: no %q in\n%s", want, status)
		}
	}

	// The CA bundle where crypto/x509 reads it on Linux, as on this host.
	certs := filepath.Join(t.TempDir(), "ca.crt")
	if out, err := runBounded(podman("cp", ctr+":/etc/ssl/certs/ca-certificates.crt", certs)); err != nil {
		t.Fatalf("podman cp: %v\n%s", err, out)
	}
	pool := x509.NewCertPool()
	if pem := readFile(t, certs); !pool.AppendCertsFromPEM([]byte(pem)) || len(pool.Subjects()) < 50 {
		t.Errorf("the image's CA bundle holds %d certificates, want a system bundle", len(pool.Subjects()))
	}

	// podman passes signals on: SIGHUP reloads, SIGTERM stops (exit 0).
	mark := s.logMark()
	if out, err := runBounded(podman("kill", "--signal", "HUP", ctr)); err != nil {
		t.Fatalf("podman kill --signal HUP: %v\n%s", err, out)
	}
	if _, ok := s.waitLog(mark, containerWait, func(l logLine) bool { return l.message() == "reload applied" }); !ok {
		t.Errorf("no reload after podman kill --signal HUP")
	}
	if code, stopped := s.stopWith(syscall.SIGTERM); !stopped || code != 0 {
		t.Errorf("SIGTERM to podman run: exit %d (by itself: %v), want 0", code, stopped)
	}
}

// needPodman skips the test without podman, or fails it in CI, where
// .ci/run installs it.
func needPodman(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("podman not installed (.ci/run installs it)")
		}
		t.Skip("podman not installed (apt-get install podman runc)")
	}
}

// podman is a podman command.
func podman(args ...string) *exec.Cmd {
	return exec.Command("podman", args...)
}

// runBounded runs cmd to completion within containerWait, returning its
// combined output.
func runBounded(cmd *exec.Cmd) ([]byte, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.Bytes(), err
	case <-time.After(containerWait):
		_ = cmd.Process.Kill()
		<-done
		return out.Bytes(), fmt.Errorf("%s: not done within %v", strings.Join(cmd.Args, " "), containerWait)
	}
}

// usableRuntime finds podman run options under which a container starts
// on this machine, and skips the test, saying why, when none does. Some
// machines need them: crun refuses a hybrid cgroup hierarchy (v1
// controllers beside v2) where runc does not, though not every time (so
// each candidate must work three times running), and without
// CAP_SYS_RESOURCE (in a container) podman's default limits (1048576
// files) exceed the hard limits it may set.
//
// run is the rest of the command line (image and command), which must
// exit 0.
func usableRuntime(t *testing.T, run ...string) []string {
	t.Helper()
	var lim syscall.Rlimit
	nofile := "4096"
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Max > 4096 {
		nofile = strconv.FormatUint(min(lim.Max, 65536), 10)
	}
	ulimits := []string{"--ulimit", "nofile=" + nofile + ":" + nofile, "--ulimit", "nproc=4096:4096"}
	candidates := [][]string{nil, ulimits}
	if _, err := exec.LookPath("runc"); err == nil {
		candidates = append(candidates, []string{"--runtime", "runc"}, append([]string{"--runtime", "runc"}, ulimits...))
	}
	var why []string
candidates:
	for _, c := range candidates {
		// Three times: crun on a hybrid hierarchy fails only sometimes.
		for range 3 {
			out, err := runBounded(podman(append(append([]string{"run", "--rm", "--network=none"}, c...), run...)...))
			if err != nil {
				why = append(why, fmt.Sprintf("podman run %s: %v: %s", strings.Join(c, " "), err, bytes.TrimSpace(out)))
				continue candidates
			}
		}
		t.Logf("podman run %s works here", strings.Join(c, " "))
		return c
	}
	t.Skipf("podman cannot run containers on this machine:\n%s", strings.Join(why, "\n"))
	return nil
}
