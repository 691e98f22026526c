package integration

import (
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// blackhole makes the lab's i-th address drop connection attempts on the
// lab's port, as a firewalled host does, without leaving loopback: a
// listener with a backlog of zero whose accept queue is filled and never
// drained, so Linux drops every further SYN and connect hangs.
func (l *lab) blackhole(i int) {
	l.t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		l.t.Fatal(err)
	}
	sa := &syscall.SockaddrInet4{Port: l.port}
	copy(sa.Addr[:], net.ParseIP(l.ip(i)).To4())
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		l.t.Fatalf("bind %s: %v", l.hostport(i), err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		syscall.Close(fd)
		l.t.Fatal(err)
	}
	var fillers []net.Conn
	l.t.Cleanup(func() {
		for _, c := range fillers {
			c.Close()
		}
		syscall.Close(fd)
	})
	for range 8 {
		c, err := net.DialTimeout("tcp", l.hostport(i), 300*time.Millisecond)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return // the queue is full: SYNs are dropped now
			}
			l.t.Fatalf("filling the accept queue of %s: %v", l.hostport(i), err)
		}
		fillers = append(fillers, c)
	}
	l.t.Skipf("%s still accepts after %d connections: cannot blackhole here", l.hostport(i), len(fillers))
}

// TestHealthBlackholed: a target whose connection attempts vanish costs only
// its timeout: it goes down with a timeout reason while the other members
// are answered and keep being probed.
func TestHealthBlackholed(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.backend(1, kindTCP, nil, nil)
	l.backend(3, kindTCP, nil, nil)
	l.blackhole(2)
	const org = "blackhole.health.test."
	zone := checkTOML("conn", "tcp", l.port, fast+"fall = 2\nrise = 2") +
		poolTOML("www", l.ips(1, 2, 3), `check = "conn"`)
	s, adm, _ := startHealthServer(t, org, zone, "", "")
	dnsAddr, www := s.addr("4"), "www."+org
	wantDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(1), l.ip(3)))
	// The reason reads "timed out after 100ms: dial tcp ...: i/o timeout"
	// or, when the dialer's deadline fires just before the probe's context
	// does, only "dial tcp ...: i/o timeout".
	if m := adm.member(www, l.ip(2)); m.State != "down" || !strings.Contains(m.LastError, "timeout") {
		t.Errorf("blackholed member: %v, want down with a timeout reason", m)
	}
	before := adm.member(www, l.ip(1))
	adm.waitMember(www, l.ip(1), "probed 4 more times", func(m memberDoc) bool {
		return m.State == "up" && m.ConsecutiveOK >= before.ConsecutiveOK+4
	})
	adm.waitMember(www, l.ip(2), "failing on", func(m memberDoc) bool { return m.ConsecutiveFail >= 4 })
	wantDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(1), l.ip(3)))
}
