package dnsrr

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// failingListener fails every Accept as a process out of descriptors does.
type failingListener struct {
	net.Listener
	calls atomic.Int64
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.calls.Add(1)
	return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
}

func (l *failingListener) Close() error { return nil }

// TestAcceptBackoff: accept errors pause the loop (5 ms, doubling to 1 s)
// instead of spinning. Without the pause the loop makes millions of calls
// in the time this test lets it run; with it, a handful. Each failure
// also gives back the descriptor of the connection idle the longest.
func TestAcceptBackoff(t *testing.T) {
	s := &Server{log: zerolog.Nop()}
	ts := newTCPServer(s, TCPLimits{})
	_, idleClient := register(ts, connWaiting)
	l := &failingListener{}
	ts.serve(l)
	if !closedPipe(idleClient) {
		t.Errorf("out of descriptors, the idle connection was kept")
	}
	time.Sleep(300 * time.Millisecond)
	ts.stopping.Store(true)
	close(ts.stopped)
	ts.wg.Wait()
	// 5+10+20+40+80+160 ms: 7 calls in 315 ms; a loaded machine makes fewer.
	if n := l.calls.Load(); n > 50 {
		t.Errorf("%d accept calls in 300 ms of EMFILE: the loop does not back off", n)
	}
}

// register adds a connection in the given state, as admit would.
func register(ts *tcpServer, state int32) (*tcpConn, net.Conn) {
	server, client := net.Pipe()
	c := newTCPConn(ts, server, netip.Prefix{})
	c.state.Store(state)
	ts.conns[c] = struct{}{}
	ts.count.Store(int32(len(ts.conns)))
	return c, client
}

// closedPipe reports whether the other end of a pipe was closed.
func closedPipe(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe)
}

// TestAdmitAtCap: at the cap a new connection evicts an idle one, and is
// refused (closed at once) when every connection is busy answering.
func TestAdmitAtCap(t *testing.T) {
	ts := newTCPServer(&Server{log: zerolog.Nop()}, TCPLimits{MaxConns: 2})
	busy, _ := register(ts, connBusy)
	idle, idleClient := register(ts, connWaiting)
	idle.idleSince.Store(-int64(time.Hour)) // idle long enough to be evicted

	server, client := net.Pipe()
	ts.admit(server)
	if !closedPipe(idleClient) {
		t.Errorf("the idle connection was not evicted")
	}
	ts.mu.Lock()
	if _, ok := ts.conns[idle]; ok || len(ts.conns) != 2 {
		t.Errorf("%d connections registered, the evicted one still among them: %v", len(ts.conns), ok)
	}
	// Now both slots are busy: the admitted one is serving (its goroutine
	// waits for a query), so mark it busy as if it were answering.
	for c := range ts.conns {
		c.state.Store(connBusy)
	}
	ts.mu.Unlock()
	refused, refusedClient := net.Pipe()
	ts.admit(refused)
	if !closedPipe(refusedClient) {
		t.Errorf("a connection beyond a cap of busy ones was not closed")
	}
	ts.mu.Lock()
	if _, ok := ts.conns[busy]; !ok {
		t.Errorf("a busy connection was evicted")
	}
	for c := range ts.conns {
		c.conn.Close()
	}
	ts.mu.Unlock()
	client.Close()
	ts.wg.Wait()
}

// TestClientPrefix: clients count against their /24 or /56.
func TestClientPrefix(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"192.0.2.77:5000", "192.0.2.0/24"},
		{"[::ffff:192.0.2.77]:5000", "192.0.2.0/24"},
		{"[2001:db8:aa:bbcc:1::5]:5000", "2001:db8:aa:bb00::/56"},
	} {
		a, err := net.ResolveTCPAddr("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := clientPrefix(a).String(); got != tc.want {
			t.Errorf("%s: prefix %s, want %s", tc.addr, got, tc.want)
		}
	}
}

// FuzzKeepalive: the keepalive scanner and patcher read any bytes without
// panicking, and a patched message that unpacked before still unpacks.
func FuzzKeepalive(f *testing.F) {
	q := new(dns.Msg)
	q.SetQuestion("www.example.", dns.TypeA)
	q.SetEdns0(1232, false)
	q.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE}}
	wire, _ := q.Pack()
	f.Add(wire)
	f.Add(wire[:len(wire)-3])
	f.Fuzz(func(t *testing.T, pkt []byte) {
		scanKeepalive(pkt)
		before := new(dns.Msg).Unpack(pkt)
		out := appendKeepalive(slices.Clone(pkt), 10*time.Second)
		if before == nil && len(out) != len(pkt) {
			if err := new(dns.Msg).Unpack(out); err != nil {
				t.Errorf("patched message does not unpack: %v", err)
			}
		}
	})
}

// TestCapFitsDescriptors: the TCP cap leaves descriptors to the rest of
// the process.
func TestCapFitsDescriptors(t *testing.T) {
	fds := fdLimit()
	if fds == 0 {
		t.Skip("no descriptor limit on this platform")
	}
	ts := newTCPServer(&Server{log: zerolog.Nop()}, TCPLimits{MaxConns: 1 << 30})
	if want := max(fds/2, fds-fdReserve); ts.limits.MaxConns != want {
		t.Errorf("cap %d with %d descriptors, want %d", ts.limits.MaxConns, fds, want)
	}
}

// TestEvictNewLast: a connection whose goroutine has not read yet may hold
// a query: an idle one that was read goes first, however young, and a new
// one goes only when no other is idle (then the oldest new one).
func TestEvictNewLast(t *testing.T) {
	ts := newTCPServer(&Server{log: zerolog.Nop()}, TCPLimits{MaxConns: 3})
	fresh, _ := register(ts, connNew)
	fresh.idleSince.Store(-2 * int64(time.Hour)) // the oldest of all
	waiting, _ := register(ts, connWaiting)
	waiting.idleSince.Store(-int64(time.Hour))
	younger, _ := register(ts, connNew)
	if got := ts.oldestIdle(netip.Prefix{}); got != waiting {
		t.Errorf("evicted %p, want the waiting connection %p before the new ones", got, waiting)
	}
	waiting.state.Store(connBusy)
	if got := ts.oldestIdle(netip.Prefix{}); got != fresh {
		t.Errorf("evicted %p, want the oldest new connection %p (the younger is %p)", got, fresh, younger)
	}
}

// TestWaitForRoom: with every slot answering or not read yet, the accept
// loop waits (new connections stay in the kernel's queue) until a
// connection that was read turns idle, or the server stops.
func TestWaitForRoom(t *testing.T) {
	ts := newTCPServer(&Server{log: zerolog.Nop()}, TCPLimits{MaxConns: 2})
	busy, _ := register(ts, connBusy)
	register(ts, connNew)
	room := make(chan bool, 1)
	go func() { room <- ts.waitForRoom() }()
	select {
	case r := <-room:
		t.Fatalf("waitForRoom = %v with every slot busy or new, want a wait", r)
	case <-time.After(50 * time.Millisecond):
	}
	busy.state.Store(connWaiting) // answered, now idle: evictable after minEvictIdle
	select {
	case r := <-room:
		if !r {
			t.Errorf("waitForRoom = false, want true once a connection is idle")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waitForRoom still waiting with an idle connection to evict")
	}
	busy.state.Store(connBusy)
	go func() { room <- ts.waitForRoom() }()
	ts.stopping.Store(true)
	close(ts.stopped)
	select {
	case r := <-room:
		if r {
			t.Errorf("waitForRoom = true after stop")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waitForRoom did not return on stop")
	}
}

// TestMinEvictIdle: a connection that was read but has been idle for less
// than minEvictIdle is not evicted: its client may not have sent its query
// yet. One idle longer is.
func TestMinEvictIdle(t *testing.T) {
	ts := newTCPServer(&Server{log: zerolog.Nop()}, TCPLimits{MaxConns: 2})
	young, _ := register(ts, connWaiting)
	if got := ts.oldestIdle(netip.Prefix{}); got != nil {
		t.Errorf("evicted %p, idle for less than %v", got, minEvictIdle)
	}
	young.idleSince.Store(ts.now() - int64(minEvictIdle) - 1)
	if got := ts.oldestIdle(netip.Prefix{}); got != young {
		t.Errorf("evicted %p, want %p (idle past %v)", got, young, minEvictIdle)
	}
}
