package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netns is a network namespace of its own for one test, with nothing in it
// but a loopback interface. Servers inside use any address of 127.0.0.0/8
// and ::1 and any port, 53 included (resolvers send queries to port 53
// only), without meeting other tests or other developers' servers; and
// nothing inside can reach beyond the machine, whatever it is configured to
// do: there is no other interface, and no route.
type netns struct {
	t    *testing.T
	path string // /proc/PID/ns/net of the process holding the namespace
}

// newNetns makes the namespace, held by a sleeping process that the
// cleanup kills by its PID. Making one needs root (CAP_SYS_ADMIN): without
// it the test is skipped, except in CI, where it fails.
func newNetns(t *testing.T) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFailInCI(t, "a network namespace needs root")
	}
	for _, tool := range []string{"unshare", "nsenter", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFailInCI(t, tool+" not on PATH (util-linux, iproute2)")
		}
	}
	holder := exec.Command("unshare", "--net", "--", "sh", "-c", "ip link set lo up && echo up && exec sleep 3600")
	holder.SysProcAttr = dieWithTest()
	var stderr bytes.Buffer
	holder.Stderr = &stderr
	stdout, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = holder.Process.Kill()
		_ = holder.Wait()
	})
	up := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		up <- strings.TrimSpace(line) == "up"
	}()
	select {
	case ok := <-up:
		if !ok {
			_ = holder.Wait()
			skipOrFailInCI(t, "unshare --net: "+strings.TrimSpace(stderr.String()))
		}
	case <-time.After(startTimeout):
		t.Fatalf("unshare --net did not bring lo up within %v", startTimeout)
	}
	return &netns{t: t, path: fmt.Sprintf("/proc/%d/ns/net", holder.Process.Pid)}
}

func skipOrFailInCI(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// command runs name inside the namespace. nsenter execs it, so the PID is
// the program's own and stopping by PID reaches it.
func (n *netns) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command("nsenter", append([]string{"--net=" + n.path, "--", name}, args...)...)
	cmd.SysProcAttr = dieWithTest()
	return cmd
}

// dieWithTest has the kernel kill a child when the test process dies
// without its cleanups (a -timeout panic, SIGKILL): a resolver left in a
// namespace nobody can reach would run forever. The signal comes when the
// thread that started the child ends, so no thread of ours may end early:
// dialUDP's thread leaves the namespace and carries on.
func dieWithTest() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// dialUDP opens count UDP sockets inside the namespace, each connected to
// addr from a port of its own: count clients as a resolver sees them.
func (n *netns) dialUDP(addr string, count int) []net.Conn {
	n.t.Helper()
	type result struct {
		conns []net.Conn
		err   error
	}
	done := make(chan result, 1)
	go func() {
		// A socket belongs to the namespace of the thread that made it, for
		// life. This goroutine's thread enters the namespace, makes the
		// sockets and goes back; only then may it run other goroutines. If
		// it cannot go back it stays locked, and the runtime ends it when
		// the goroutine returns.
		runtime.LockOSThread()
		var r result
		defer func() { done <- r }()
		home, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			r.err = err
			return
		}
		defer home.Close()
		f, err := os.Open(n.path)
		if err != nil {
			r.err = err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), syscall.CLONE_NEWNET); err != nil {
			r.err = fmt.Errorf("setns %s: %w", n.path, err)
			return
		}
		defer func() {
			if unix.Setns(int(home.Fd()), syscall.CLONE_NEWNET) == nil {
				runtime.UnlockOSThread()
			}
		}()
		for range count {
			c, err := net.Dial("udp", addr)
			if err != nil {
				r.err = err
				return
			}
			r.conns = append(r.conns, c)
		}
	}()
	r := <-done
	n.t.Cleanup(func() {
		for _, c := range r.conns {
			c.Close()
		}
	})
	if r.err != nil {
		n.t.Fatalf("dial %s in the namespace: %v", addr, r.err)
	}
	return r.conns
}

// daemon is a server other than dnsrr (NSD, a resolver) running in a
// namespace; its output is kept to show when something fails.
type daemon struct {
	name string
	cmd  *exec.Cmd
	out  syncBuffer
	done chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startDaemon starts argv in the namespace. The cleanup sends SIGTERM to its
// PID, kills it after stopTimeout, and logs its output if the test failed.
func (n *netns) startDaemon(name string, argv ...string) *daemon {
	n.t.Helper()
	d := &daemon{name: name, cmd: n.command(argv[0], argv[1:]...), done: make(chan struct{})}
	d.cmd.Stdout, d.cmd.Stderr = &d.out, &d.out
	if err := d.cmd.Start(); err != nil {
		n.t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	t := n.t
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(stopTimeout):
			t.Errorf("%s (PID %d) did not exit within %v of SIGTERM; killing it", name, d.cmd.Process.Pid, stopTimeout)
			_ = d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, d.out.String())
		}
	})
	return d
}

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}
