// Package sdnotify tells the service manager what state the process is in,
// with the sd_notify protocol of systemd (sd_notify(3)): one datagram of
// newline-separated KEY=VALUE assignments to the Unix socket named by
// $NOTIFY_SOCKET. It is a few lines of protocol, so it is written here
// rather than imported; it knows nothing of DNS.
//
// Without $NOTIFY_SOCKET (not started by systemd, or by a unit of a type
// other than notify) every method does nothing and returns nil, as
// sd_notify does.
package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// sendTimeout bounds one notification. systemd reads its socket at once;
// a listener that does not must not stall a reload or the shutdown.
const sendTimeout = 2 * time.Second

// maxStatus bounds a STATUS= text. systemd reads datagrams of up to 4 KiB
// (PIPE_BUF) and drops longer ones whole; a reload error naming many files
// is cut rather than lost.
const maxStatus = 1024

// Notifier sends notifications to the service manager. The zero value and
// a nil *Notifier send nothing.
type Notifier struct {
	addr     *net.UnixAddr
	watchdog time.Duration // 0: no watchdog
}

// FromEnv returns a Notifier for $NOTIFY_SOCKET and, when systemd set
// WatchdogSec=, for $WATCHDOG_USEC. With NOTIFY_SOCKET unset it returns a
// Notifier that sends nothing. An address other than an absolute path or
// an abstract name ("@name") is an error, as in sd_notify.
func FromEnv() (*Notifier, error) {
	return fromEnv(os.Getenv, os.Getpid())
}

func fromEnv(getenv func(string) string, pid int) (*Notifier, error) {
	socket := getenv("NOTIFY_SOCKET")
	if socket == "" {
		return &Notifier{}, nil
	}
	// Go's net package turns a leading '@' into the NUL byte that marks a
	// Linux abstract socket name, which is what systemd means by it.
	if socket[0] != '/' && socket[0] != '@' || len(socket) < 2 {
		return &Notifier{}, fmt.Errorf("NOTIFY_SOCKET=%q: not an absolute path or an abstract socket name (@name)", socket)
	}
	n := &Notifier{addr: &net.UnixAddr{Name: socket, Net: "unixgram"}}
	d, err := watchdogInterval(getenv, pid)
	if err != nil {
		return n, err
	}
	n.watchdog = d
	return n, nil
}

// watchdogInterval reads WatchdogSec= as systemd passes it: WATCHDOG_USEC,
// meant for WATCHDOG_PID if that is set (sd_watchdog_enabled(3)).
func watchdogInterval(getenv func(string) string, pid int) (time.Duration, error) {
	usec := getenv("WATCHDOG_USEC")
	if usec == "" {
		return 0, nil
	}
	if p := getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(pid) {
		return 0, nil // meant for another process of the unit
	}
	u, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || u == 0 || u > uint64(time.Duration(1<<62)/time.Microsecond) {
		return 0, fmt.Errorf("WATCHDOG_USEC=%q: not a positive number of microseconds", usec)
	}
	return time.Duration(u) * time.Microsecond, nil
}

// Enabled reports whether there is a service manager to notify.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != nil }

// Ready says the service is up: startup or a reload is over.
func (n *Notifier) Ready(status string) error {
	return n.Send("READY=1", Status(status))
}

// Reloading says a reload has begun; Ready must follow when it ends.
// MONOTONIC_USEC lets systemd (253 and later, Type=notify-reload) tell
// this reload from an earlier one.
func (n *Notifier) Reloading(status string) error {
	fields := []string{"RELOADING=1", Status(status)}
	if usec, ok := monotonicUsec(); ok {
		fields = append(fields, "MONOTONIC_USEC="+strconv.FormatUint(usec, 10))
	}
	return n.Send(fields...)
}

// Stopping says the service is shutting down.
func (n *Notifier) Stopping(status string) error {
	return n.Send("STOPPING=1", Status(status))
}

// ExtendTimeout asks for d more before the start (or stop) times out, when
// the unit's timeout would come sooner: a large zone may load for longer
// than systemd's 90 s default.
func (n *Notifier) ExtendTimeout(d time.Duration, status string) error {
	return n.Send("EXTEND_TIMEOUT_USEC="+strconv.FormatInt(d.Microseconds(), 10), Status(status))
}

// Status returns the STATUS= assignment for text, which systemctl status
// shows: on one line, at most maxStatus bytes of whole UTF-8 characters.
// An empty text gives "" (no assignment).
func Status(text string) string {
	if text == "" {
		return ""
	}
	text = strings.Join(strings.Fields(text), " ")
	if len(text) > maxStatus {
		cut := maxStatus - len("...")
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut] + "..."
	}
	return "STATUS=" + text
}

// Send sends the assignments (empty ones are left out) as one datagram.
func (n *Notifier) Send(fields ...string) error {
	if !n.Enabled() {
		return nil
	}
	var b strings.Builder
	for _, f := range fields {
		if f == "" {
			continue
		}
		if strings.ContainsRune(f, '\n') {
			return fmt.Errorf("sd_notify: assignment %q holds a newline", f)
		}
		b.WriteString(f)
		b.WriteByte('\n')
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.addr.Name, err)
	}
	defer c.Close()
	if err := c.SetWriteDeadline(time.Now().Add(sendTimeout)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.addr.Name, err)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.addr.Name, err)
	}
	return nil
}

// WatchdogInterval is WatchdogSec= as systemd passed it, 0 without one.
func (n *Notifier) WatchdogInterval() time.Duration {
	if !n.Enabled() {
		return 0
	}
	return n.watchdog
}

// RunWatchdog sends WATCHDOG=1 every half of WatchdogSec (sd_watchdog_enabled(3)
// recommends that margin), the first at once, until ctx ends. It returns at
// once without a watchdog. failed is called on a failed send that follows
// a good one (or is the first), so that a vanished socket is reported
// once, not every tick.
func (n *Notifier) RunWatchdog(ctx context.Context, failed func(error)) {
	d := n.WatchdogInterval()
	if d == 0 {
		return
	}
	t := time.NewTicker(max(d/2, time.Millisecond))
	defer t.Stop()
	ok := true
	for {
		if err := n.Send("WATCHDOG=1"); err != nil && ok {
			failed(err)
			ok = false
		} else if err == nil {
			ok = true
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
