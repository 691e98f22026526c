package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// hangGuard only keeps a broken test from hanging; nothing asserts speed.
const hangGuard = 30 * time.Second

// fakeManager is the receiving end of $NOTIFY_SOCKET, as systemd holds it.
type fakeManager struct {
	conn *net.UnixConn
	name string // what NOTIFY_SOCKET would say
}

func listenPath(t *testing.T) *fakeManager {
	t.Helper()
	name := filepath.Join(t.TempDir(), "notify.sock")
	return listen(t, name)
}

func listenAbstract(t *testing.T) *fakeManager {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("abstract Unix sockets are Linux only")
	}
	return listen(t, fmt.Sprintf("@dnsrr-sdnotify-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
}

func listen(t *testing.T, name string) *fakeManager {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &fakeManager{conn: c, name: name}
}

// next returns the assignments of the next datagram.
func (m *fakeManager) next(t *testing.T) map[string]string {
	t.Helper()
	_ = m.conn.SetReadDeadline(time.Now().Add(hangGuard))
	buf := make([]byte, 8192)
	n, err := m.conn.Read(buf)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	msg := string(buf[:n])
	if !strings.HasSuffix(msg, "\n") {
		t.Errorf("datagram %q does not end in a newline", msg)
	}
	out := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSuffix(msg, "\n"), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("datagram %q: line %q is no assignment", msg, line)
		}
		out[k] = v
	}
	return out
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestNotifyPathAndAbstract(t *testing.T) {
	for name, m := range map[string]func(*testing.T) *fakeManager{"path": listenPath, "abstract": listenAbstract} {
		t.Run(name, func(t *testing.T) {
			mgr := m(t)
			n, err := fromEnv(env(map[string]string{"NOTIFY_SOCKET": mgr.name}), 1)
			if err != nil {
				t.Fatal(err)
			}
			if !n.Enabled() {
				t.Fatal("not enabled with NOTIFY_SOCKET set")
			}
			if err := n.Ready("serving 1 zone"); err != nil {
				t.Fatal(err)
			}
			got := mgr.next(t)
			if got["READY"] != "1" || got["STATUS"] != "serving 1 zone" || len(got) != 2 {
				t.Errorf("Ready sent %v", got)
			}

			if err := n.Reloading("reloading"); err != nil {
				t.Fatal(err)
			}
			got = mgr.next(t)
			if got["RELOADING"] != "1" || got["STATUS"] != "reloading" {
				t.Errorf("Reloading sent %v", got)
			}
			if runtime.GOOS == "linux" {
				usec, err := strconv.ParseUint(got["MONOTONIC_USEC"], 10, 64)
				now, _ := monotonicUsec()
				if err != nil || usec == 0 || usec > now {
					t.Errorf("MONOTONIC_USEC=%q, want a CLOCK_MONOTONIC time no later than %d", got["MONOTONIC_USEC"], now)
				}
			}

			if err := n.Stopping(""); err != nil {
				t.Fatal(err)
			}
			if got = mgr.next(t); got["STOPPING"] != "1" || len(got) != 1 {
				t.Errorf("Stopping sent %v", got)
			}

			if err := n.ExtendTimeout(90*time.Second, "loading zones"); err != nil {
				t.Fatal(err)
			}
			if got = mgr.next(t); got["EXTEND_TIMEOUT_USEC"] != "90000000" || got["STATUS"] != "loading zones" {
				t.Errorf("ExtendTimeout sent %v", got)
			}
		})
	}
}

// Without NOTIFY_SOCKET nothing is sent and nothing fails (sd_notify
// returns 0): dnsrr run by hand or by a Type=simple unit.
func TestNotifyUnset(t *testing.T) {
	n, err := fromEnv(env(nil), 1)
	if err != nil {
		t.Fatal(err)
	}
	if n.Enabled() || n.WatchdogInterval() != 0 {
		t.Errorf("enabled without NOTIFY_SOCKET")
	}
	for _, err := range []error{n.Ready("x"), n.Reloading("x"), n.Stopping("x"), n.Send("WATCHDOG=1")} {
		if err != nil {
			t.Errorf("send without NOTIFY_SOCKET: %v", err)
		}
	}
	var none *Notifier
	if none.Enabled() || none.Ready("x") != nil || none.WatchdogInterval() != 0 {
		t.Errorf("a nil Notifier is not inert")
	}
	none.RunWatchdog(context.Background(), func(error) { t.Error("watchdog on a nil Notifier") })
}

func TestNotifyBadEnv(t *testing.T) {
	for _, tc := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"NOTIFY_SOCKET": "relative/notify.sock"}, "NOTIFY_SOCKET"},
		{map[string]string{"NOTIFY_SOCKET": "@"}, "NOTIFY_SOCKET"},
		{map[string]string{"NOTIFY_SOCKET": "vsock:2:1234"}, "NOTIFY_SOCKET"},
		{map[string]string{"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "soon"}, "WATCHDOG_USEC"},
		{map[string]string{"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "0"}, "WATCHDOG_USEC"},
	} {
		_, err := fromEnv(env(tc.vars), 1)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one naming %s", tc.vars, err, tc.want)
		}
	}
}

// A socket nobody listens on is an error the caller can log; it must not
// hang.
func TestNotifyNoListener(t *testing.T) {
	name := filepath.Join(t.TempDir(), "gone.sock")
	n, err := fromEnv(env(map[string]string{"NOTIFY_SOCKET": name}), 1)
	if err != nil {
		t.Fatal(err)
	}
	err = n.Ready("x")
	if err == nil || !strings.Contains(err.Error(), name) {
		t.Errorf("Ready to a missing socket: %v, want an error naming it", err)
	}
}

func TestStatusOneLineBounded(t *testing.T) {
	if got := Status("reload failed:\nzone.toml:3: bad\tTTL"); got != "STATUS=reload failed: zone.toml:3: bad TTL" {
		t.Errorf("Status joined lines as %q", got)
	}
	if Status("") != "" {
		t.Errorf("empty status is an assignment")
	}
	long := strings.Repeat("é", maxStatus)
	got := Status(long)
	if len(got) > len("STATUS=")+maxStatus || !utf8.ValidString(got) || !strings.HasSuffix(got, "...") {
		t.Errorf("Status of %d bytes gave %d bytes (valid UTF-8: %v)", len(long), len(got), utf8.ValidString(got))
	}
	n := &Notifier{addr: &net.UnixAddr{Name: "/nonexistent", Net: "unixgram"}}
	if err := n.Send("STATUS=a\nREADY=1"); err == nil {
		t.Errorf("an assignment holding a newline was sent")
	}
}

func TestWatchdog(t *testing.T) {
	pid := 4242
	for _, tc := range []struct {
		vars map[string]string
		want time.Duration
	}{
		{map[string]string{"WATCHDOG_USEC": "20000000"}, 20 * time.Second},
		{map[string]string{"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "4242"}, 20 * time.Second},
		{map[string]string{"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}, 0}, // another process's
		{map[string]string{}, 0},
	} {
		tc.vars["NOTIFY_SOCKET"] = "/run/x"
		n, err := fromEnv(env(tc.vars), pid)
		if err != nil {
			t.Fatal(err)
		}
		if got := n.WatchdogInterval(); got != tc.want {
			t.Errorf("%v: watchdog %v, want %v", tc.vars, got, tc.want)
		}
	}

	mgr := listenPath(t)
	n, err := fromEnv(env(map[string]string{"NOTIFY_SOCKET": mgr.name, "WATCHDOG_USEC": "2000"}), pid)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.RunWatchdog(ctx, func(err error) { t.Errorf("watchdog send failed: %v", err) })
	}()
	for range 3 {
		if got := mgr.next(t); got["WATCHDOG"] != "1" || len(got) != 1 {
			t.Errorf("watchdog sent %v", got)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(hangGuard):
		t.Fatal("RunWatchdog did not return after its context ended")
	}
}

// A watchdog whose socket vanished reports it once, not on every tick.
func TestWatchdogReportsFailureOnce(t *testing.T) {
	name := filepath.Join(t.TempDir(), "gone.sock")
	n, err := fromEnv(env(map[string]string{"NOTIFY_SOCKET": name, "WATCHDOG_USEC": "2000"}), 1)
	if err != nil {
		t.Fatal(err)
	}
	var failures atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.RunWatchdog(ctx, func(error) { failures.Add(1) })
	}()
	// Wait for the first report, then let it tick on: polling, no sleep
	// assumed long enough.
	deadline := time.Now().Add(hangGuard)
	for failures.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	mgr := listen(t, name) // ticks now succeed...
	mgr.next(t)
	mgr.conn.Close() // ...and fail again once it is gone
	for failures.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if got := failures.Load(); got != 2 {
		t.Errorf("failure reported %d times, want 2 (once per outage)", got)
	}
}
