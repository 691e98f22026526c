package integration

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// notifyWait bounds each wait for a notification. A guard against hanging,
// never an assertion of speed.
const notifyWait = 60 * time.Second

// notifySocket is what systemd listens on for a Type=notify service: the
// real binary is started with NOTIFY_SOCKET pointing at it (these machines
// run no systemd).
type notifySocket struct {
	name string
	got  chan map[string]string
}

func newNotifySocket(t *testing.T, abstract bool) *notifySocket {
	t.Helper()
	name := filepath.Join(t.TempDir(), "notify")
	if abstract {
		name = fmt.Sprintf("@dnsrr-test-notify-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifySocket{name: name, got: make(chan map[string]string, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 8192)
		for {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			msg := string(buf[:k])
			t.Logf("sd_notify: %q", msg)
			fields := map[string]string{}
			for line := range strings.SplitSeq(strings.TrimSuffix(msg, "\n"), "\n") {
				key, v, _ := strings.Cut(line, "=")
				fields[key] = v
			}
			n.got <- fields
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return n
}

// next waits for the next notification.
func (n *notifySocket) next(t *testing.T) map[string]string {
	t.Helper()
	select {
	case f := <-n.got:
		return f
	case <-time.After(notifyWait):
		t.Fatalf("no notification within %v", notifyWait)
		return nil
	}
}

// none checks that no notification has come (so far).
func (n *notifySocket) none(t *testing.T, why string) {
	t.Helper()
	select {
	case f := <-n.got:
		t.Errorf("notification %v %s", f, why)
	case <-time.After(silenceWait):
	}
}

// startNotified starts `dnsrr serve ARGS` with NOTIFY_SOCKET set.
func startNotified(t *testing.T, socket string, args ...string) *server {
	t.Helper()
	argv := append([]string{"serve", "-log-format", "json"}, args...)
	cmd := exec.Command(binPath, argv...)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+socket)
	return startCommand(t, cmd)
}

// statusAddrs reads the addresses from READY's STATUS= ("serving 1 zones on
// 127.0.0.1:40000 [::1]:40001").
func statusAddrs(t *testing.T, status string) []string {
	t.Helper()
	_, after, ok := strings.Cut(status, " on ")
	if !ok {
		t.Fatalf("STATUS=%q does not name the addresses", status)
	}
	after, _, _ = strings.Cut(after, ";")
	return strings.Fields(after)
}

// TestNotifyLifecycle: under a fake systemd, dnsrr says it is loading,
// says READY=1 only once DNS answers on every address, RELOADING=1 then
// READY=1 on SIGHUP (with the outcome, applied or failed, in STATUS), and
// STOPPING=1 on SIGTERM before it exits 0.
func TestNotifyLifecycle(t *testing.T) {
	t.Parallel()
	for _, abstract := range []bool{false, true} {
		t.Run(map[bool]string{false: "path", true: "abstract"}[abstract], func(t *testing.T) {
			t.Parallel()
			if abstract && runtime.GOOS != "linux" {
				t.Skip("abstract Unix sockets are Linux only")
			}
			sock := newNotifySocket(t, abstract)
			cfg, zone := copyExample(t)
			s := startNotified(t, sock.name, append([]string{"-config", cfg, "-admin", ""}, listenArgs()...)...)

			f := sock.next(t)
			if f["EXTEND_TIMEOUT_USEC"] == "" || f["STATUS"] != "loading zones" {
				t.Errorf("first notification %v, want EXTEND_TIMEOUT_USEC with STATUS=loading zones", f)
			}
			f = sock.next(t)
			if f["READY"] != "1" {
				t.Fatalf("second notification %v, want READY=1", f)
			}
			// Right after READY=1, every address answers.
			addrs := statusAddrs(t, f["STATUS"])
			if len(addrs) != len(listenArgs())/2 {
				t.Errorf("READY STATUS=%q names %d addresses, want %d", f["STATUS"], len(addrs), len(listenArgs())/2)
			}
			for _, a := range addrs {
				for _, network := range []string{"udp", "tcp"} {
					positive(wwwA...)(t, exchange(t, network, a, newQuery(name("www"), dns.TypeA)))
				}
			}

			// A good reload.
			text := readFile(t, zone)
			text, _ = replaceOnce(t, text, "2026112501", "2026112502")
			writeFile(t, filepath.Dir(zone), filepath.Base(zone), text+newRecord)
			s.signal(syscall.SIGHUP)
			f = sock.next(t)
			if f["RELOADING"] != "1" || f["MONOTONIC_USEC"] == "" {
				t.Errorf("after SIGHUP: %v, want RELOADING=1 with MONOTONIC_USEC", f)
			}
			f = sock.next(t)
			if f["READY"] != "1" || !strings.Contains(f["STATUS"], "reload applied") {
				t.Errorf("after the reload: %v, want READY=1 with STATUS saying reload applied", f)
			}
			// READY=1 came after the swap: the new record is served now.
			wantAddrs(t, addrs[0], name("reloaded"), dns.TypeA, "192.0.2.77")

			// A failed reload: still ready (the old zone serves), and
			// STATUS says what failed, with the file.
			writeFile(t, filepath.Dir(zone), filepath.Base(zone), text+"\n[records.broken]\na = [\"192.0.2.300\"]\n")
			s.signal(syscall.SIGHUP)
			if f = sock.next(t); f["RELOADING"] != "1" {
				t.Errorf("after the second SIGHUP: %v, want RELOADING=1", f)
			}
			f = sock.next(t)
			if f["READY"] != "1" || !strings.Contains(f["STATUS"], "failed") || !strings.Contains(f["STATUS"], filepath.Base(zone)) {
				t.Errorf("after a failed reload: %v, want READY=1 with STATUS naming the failure and %s", f, filepath.Base(zone))
			}
			wantAddrs(t, addrs[0], name("reloaded"), dns.TypeA, "192.0.2.77")

			if code, stopped := s.stop(); !stopped || code != 0 {
				t.Errorf("SIGTERM: exit %d (stopped by itself: %v), want 0", code, stopped)
			}
			if f = sock.next(t); f["STOPPING"] != "1" {
				t.Errorf("at shutdown: %v, want STOPPING=1", f)
			}
		})
	}
}

// TestNotifyReadyAfterFirstProbes: READY=1 waits for the first probe round
// (DNS must not answer with members it has not checked yet), however long
// a backend holds it.
func TestNotifyReadyAfterFirstProbes(t *testing.T) {
	t.Parallel()
	// A backend that accepts the probe's request and answers only when
	// released.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	probed := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case probed <- struct{}{}:
		default:
		}
		<-release
	})}
	go srv.Serve(ln)
	released := false
	releaseOnce := func() {
		if !released {
			released = true
			close(release)
		}
	}
	t.Cleanup(func() { releaseOnce(); srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	zone := writeFile(t, t.TempDir(), "held.test.toml", testZoneHeader("held.test.")+fmt.Sprintf(`
[checks.web]
type = "http"
port = %s
interval = "60s"
timeout = "50s"

[pools.www]
addresses = ["127.0.0.1"]
check = "web"
`, port))
	sock := newNotifySocket(t, false)
	s := startNotified(t, sock.name, "-zone", zone, "-listen", "127.0.0.1:0", "-admin", "")

	if f := sock.next(t); f["EXTEND_TIMEOUT_USEC"] == "" {
		t.Errorf("first notification %v, want EXTEND_TIMEOUT_USEC", f)
	}
	select {
	case <-probed:
	case <-time.After(notifyWait):
		t.Fatal("the backend was never probed")
	}
	sock.none(t, "while the first probe round is held")
	if s.exited() {
		t.Fatal("dnsrr exited while probing")
	}
	releaseOnce()
	f := sock.next(t)
	if f["READY"] != "1" {
		t.Fatalf("after the first probe round: %v, want READY=1", f)
	}
	for _, a := range statusAddrs(t, f["STATUS"]) {
		wantAddrs(t, a, "www.held.test.", dns.TypeA, "127.0.0.1")
	}
}

// TestNotifyWatchdog: with WatchdogSec= (WATCHDOG_USEC), dnsrr pings the
// watchdog while it serves.
func TestNotifyWatchdog(t *testing.T) {
	t.Parallel()
	sock := newNotifySocket(t, false)
	cmd := exec.Command(binPath, append([]string{"serve", "-log-format", "json", "-zone", exampleZone()}, listenArgs()...)...)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock.name, "WATCHDOG_USEC=200000")
	startCommand(t, cmd)
	pings := 0
	for pings < 3 {
		if sock.next(t)["WATCHDOG"] == "1" {
			pings++
		}
	}
}

// TestNotifyBadSocket: a NOTIFY_SOCKET that cannot be used is logged, and
// DNS is served anyway.
func TestNotifyBadSocket(t *testing.T) {
	t.Parallel()
	for _, socket := range []string{"relative/path", filepath.Join(t.TempDir(), "nobody-listens")} {
		cmd := exec.Command(binPath, append([]string{"serve", "-log-format", "json", "-zone", exampleZone()}, listenArgs()...)...)
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+socket)
		s := startServingCommand(t, cmd)
		if _, ok := s.waitLog(0, startTimeout, func(l logLine) bool {
			return l.str("level") == "warn" && strings.Contains(l.raw, "service manager") && strings.Contains(l.raw, socket)
		}); !ok {
			t.Errorf("NOTIFY_SOCKET=%s: no warning naming it", socket)
		}
		positive(wwwA...)(t, exchange(t, "udp", s.addr("4"), newQuery(name("www"), dns.TypeA)))
	}
}
