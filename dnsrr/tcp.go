package dnsrr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// DNS over TCP is served by our own loop (tcp_conn.go) rather than
// miekg/dns's server, whose limits a client could defeat: any frame, even
// an empty one, reset its idle timer; its connection cap blocked accepting,
// so idle connections held every slot; and its accept loop retried errors
// such as EMFILE without pausing. Here connections are counted in total and
// per client network, only an answered query counts as activity, and at
// the cap a new connection takes the place of the one idle the longest
// (for at least minEvictIdle); while none is, new connections wait in the
// kernel's listen queue (waitForRoom).
//
// These limits are meant for queries. Zone transfers, if a later version
// serves them, must not be cut by them: a transfer is one long answer
// (no idle time, megabytes written), and needs its own allowance.

// TCPLimits bound what DNS-over-TCP clients can hold. The zero value of a
// field means its default (DefaultTCPLimits).
type TCPLimits struct {
	// MaxConns is the most connections open at once, over all listen
	// addresses.
	MaxConns int
	// MaxConnsPerPrefix is the most connections from one client network:
	// a /24 for IPv4, a /56 for IPv6 (what one site usually holds).
	MaxConnsPerPrefix int
	// IdleTimeout closes a connection that has had no query answered for
	// this long. Bytes that do not complete a query do not count.
	IdleTimeout time.Duration
	// BusyIdleTimeout replaces IdleTimeout while more than half of
	// MaxConns are in use.
	BusyIdleTimeout time.Duration
	// FrameTimeout is the time a client has to send a whole query (its
	// length and message) once its first byte arrived.
	FrameTimeout time.Duration
	// WriteTimeout bounds writing one batch of responses; a client that
	// stops reading loses its connection.
	WriteTimeout time.Duration
	// MaxQueries is the most queries answered on one connection; then it
	// is closed (after its answers are sent) and the client reconnects.
	MaxQueries int
}

// DefaultTCPLimits are the limits of a zero TCPLimits. The reasons for each
// are in the README ("Limits").
var DefaultTCPLimits = TCPLimits{
	MaxConns:          1024,
	MaxConnsPerPrefix: 64,
	IdleTimeout:       10 * time.Second,
	BusyIdleTimeout:   time.Second,
	FrameTimeout:      2 * time.Second,
	WriteTimeout:      5 * time.Second,
	MaxQueries:        100000,
}

// withDefaults fills the zero fields.
func (l TCPLimits) withDefaults() TCPLimits {
	d := DefaultTCPLimits
	pick := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	pickDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	pick(&l.MaxConns, d.MaxConns)
	pick(&l.MaxConnsPerPrefix, d.MaxConnsPerPrefix)
	pick(&l.MaxQueries, d.MaxQueries)
	pickDur(&l.IdleTimeout, d.IdleTimeout)
	pickDur(&l.BusyIdleTimeout, d.BusyIdleTimeout)
	pickDur(&l.FrameTimeout, d.FrameTimeout)
	pickDur(&l.WriteTimeout, d.WriteTimeout)
	l.BusyIdleTimeout = min(l.BusyIdleTimeout, l.IdleTimeout)
	return l
}

// Validate reports a negative limit, naming its field.
func (l TCPLimits) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"MaxConns", int64(l.MaxConns)},
		{"MaxConnsPerPrefix", int64(l.MaxConnsPerPrefix)},
		{"MaxQueries", int64(l.MaxQueries)},
		{"IdleTimeout", int64(l.IdleTimeout)},
		{"BusyIdleTimeout", int64(l.BusyIdleTimeout)},
		{"FrameTimeout", int64(l.FrameTimeout)},
		{"WriteTimeout", int64(l.WriteTimeout)},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("tcp limit %s is negative", f.name))
		}
	}
	return errors.Join(errs...)
}

const (
	// fdReserve is how many file descriptors the TCP cap leaves to the rest.
	fdReserve = 256
	// acceptBackoffMin and acceptBackoffMax bound the pause after a failed
	// accept (EMFILE: out of file descriptors), doubling from the first to
	// the second, as net/http does, instead of retrying in a tight loop.
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// tcpServer owns every DNS-over-TCP connection of a Server: it accepts,
// admits or evicts, and shuts them down.
type tcpServer struct {
	s      *Server
	log    zerolog.Logger
	limits TCPLimits
	epoch  time.Time // origin of the monotonic clock readings in tcpConn

	mu        sync.Mutex
	listeners []net.Listener
	conns     map[*tcpConn]struct{}
	perPrefix map[netip.Prefix]int
	count     atomic.Int32 // len(conns), read without mu for the busy timeout

	stopping atomic.Bool
	stopped  chan struct{} // closed by shutdown: wakes accept loops in backoff
	wg       sync.WaitGroup
}

func newTCPServer(s *Server, limits TCPLimits) *tcpServer {
	limits = limits.withDefaults()
	// Out of descriptors, accept fails before the cap is reached, and a
	// fresh client waits in the backlog behind the flood instead of taking
	// an idle connection's place; probes and reloads fail too. So the cap
	// leaves fdReserve descriptors (or half, of a small limit) to UDP
	// sockets, the admin API (32), probes (64), zone files.
	if fds := fdLimit(); fds > 0 {
		if n := max(fds/2, fds-fdReserve); limits.MaxConns > n {
			s.log.Warn().Int("max_connections", limits.MaxConns).Int("fd_limit", fds).Int("lowered_to", n).
				Msg("tcp max_connections lowered to fit the file descriptor limit; raise it (systemd LimitNOFILE=, ulimit -n) to allow more")
			limits.MaxConns = n
		}
	}
	return &tcpServer{
		s:         s,
		log:       s.log,
		limits:    limits,
		epoch:     time.Now(),
		conns:     map[*tcpConn]struct{}{},
		perPrefix: map[netip.Prefix]int{},
		stopped:   make(chan struct{}),
	}
}

// now is a monotonic clock reading for tcpConn's atomics.
func (t *tcpServer) now() int64 { return int64(time.Since(t.epoch)) }

// serve accepts on l in the background until shutdown.
func (t *tcpServer) serve(l net.Listener) {
	t.mu.Lock()
	t.listeners = append(t.listeners, l)
	t.mu.Unlock()
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.acceptLoop(l)
	}()
}

func (t *tcpServer) acceptLoop(l net.Listener) {
	var delay time.Duration
	var warned time.Time // at most one warning a minute
	for {
		if !t.waitForRoom() {
			return
		}
		c, err := l.Accept()
		if err == nil {
			delay = 0
			t.admit(c)
			continue
		}
		if t.stopping.Load() || errors.Is(err, net.ErrClosed) {
			return
		}
		t.s.stats.tcpAcceptErrors.Add(1)
		// Out of descriptors (EMFILE, ENFILE) or buffers. Give back the
		// descriptor of the connection idle the longest, so that the one
		// waiting in the backlog can be accepted at once; with none to
		// give, pause instead of retrying in a tight loop.
		if time.Since(warned) > time.Minute {
			warned = time.Now()
			t.log.Warn().Err(err).Msg("tcp accept failed; closing idle connections, or pausing up to 1s between tries")
		}
		t.mu.Lock()
		freed := t.evictOldest(netip.Prefix{})
		t.mu.Unlock()
		if freed {
			continue
		}
		delay = max(acceptBackoffMin, min(2*delay, acceptBackoffMax))
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-t.stopped:
			timer.Stop()
			return
		}
	}
}

// admit registers a new connection and starts serving it, making room by
// evicting the oldest idle connection of its network (at the per-prefix
// cap) or of all (at the total cap). With no idle connection to evict, the
// new one is closed at once: every slot is busy answering.
func (t *tcpServer) admit(nc net.Conn) {
	prefix := clientPrefix(nc.RemoteAddr())
	t.mu.Lock()
	if t.stopping.Load() {
		t.mu.Unlock()
		nc.Close()
		return
	}
	if prefix.IsValid() && t.perPrefix[prefix] >= t.limits.MaxConnsPerPrefix && !t.evictOldest(prefix) ||
		len(t.conns) >= t.limits.MaxConns && !t.evictOldest(netip.Prefix{}) {
		t.mu.Unlock()
		t.s.stats.tcpRefused.Add(1)
		t.log.Debug().Str("client", nc.RemoteAddr().String()).Msg("tcp connection refused: every slot is busy")
		nc.Close()
		return
	}
	t.s.stats.tcpAccepted.Add(1)
	c := newTCPConn(t, nc, prefix)
	t.conns[c] = struct{}{}
	t.perPrefix[prefix]++
	t.count.Store(int32(len(t.conns)))
	t.wg.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.wg.Done()
		c.run()
	}()
}

// evictOldest evicts the oldest idle connection of prefix (or of all, for
// the zero prefix); false if every one is busy answering. Called with mu.
func (t *tcpServer) evictOldest(prefix netip.Prefix) bool {
	// A connection can turn busy between the scan and the eviction; try
	// the next oldest then.
	for range 3 {
		victim := t.oldestIdle(prefix)
		if victim == nil {
			return false
		}
		if t.evict(victim) {
			t.s.stats.tcpEvicted.Add(1)
			return true
		}
	}
	return false
}

// oldestIdle scans for the connection that has been idle (waiting for or
// reading a query, not answering one) the longest. A scan of at most
// MaxConns entries at the cap costs microseconds, once per accept. A
// connection whose goroutine has not read yet goes only when no other is
// idle: its query may already be in the socket buffer (see waitForRoom).
func (t *tcpServer) oldestIdle(prefix netip.Prefix) *tcpConn {
	if c := t.oldestIn(prefix, connWaiting, connReading); c != nil {
		return c
	}
	return t.oldestIn(prefix, connNew, connNew)
}

// minEvictIdle is how long a connection may be idle before a new one may
// take its place. After the handshake a client needs a moment to send its
// query (a busy host, a long path): under a flood of connections, evicting
// the oldest at once evicted fresh clients before their query arrived.
// NSD's idle timeout under pressure is 200 ms too.
const minEvictIdle = 200 * time.Millisecond

// oldestIn is the connection of prefix (or of all) in state a or b that
// has been idle the longest, or nil; connections that were read must have
// been idle minEvictIdle. Called with mu.
func (t *tcpServer) oldestIn(prefix netip.Prefix, a, b int32) *tcpConn {
	var oldest *tcpConn
	var since int64
	latest := t.now() - int64(minEvictIdle)
	for c := range t.conns {
		if prefix.IsValid() && c.prefix != prefix {
			continue
		}
		st := c.state.Load()
		if st != a && st != b {
			continue
		}
		s := c.idleSince.Load()
		if st != connNew && s > latest {
			continue
		}
		if oldest == nil || s < since {
			oldest, since = c, s
		}
	}
	return oldest
}

// waitForRoom holds the accept loop while every slot is taken by a
// connection answering a query, not read yet, or idle for less than
// minEvictIdle, and reports false once the server stops. Accepting then
// would evict a connection before its query is read: under a flood of
// short connections (each sending an empty frame and reconnecting when
// closed) the goroutines of new connections wait their turn longer than
// the flood takes to make one the oldest, and fresh clients were evicted
// unanswered (12 of 20 answered in integration/attack's tcp-zero). Waiting instead leaves new connections in the kernel's listen
// queue, in order, as NSD's do, until a slot frees or a connection that was
// read turns idle.
func (t *tcpServer) waitForRoom() bool {
	var timer *time.Timer
	for {
		t.mu.Lock()
		room := len(t.conns) < t.limits.MaxConns || t.oldestIn(netip.Prefix{}, connWaiting, connReading) != nil
		t.mu.Unlock()
		if room {
			return !t.stopping.Load()
		}
		if timer == nil {
			timer = time.NewTimer(time.Millisecond)
		} else {
			timer.Reset(time.Millisecond)
		}
		select {
		case <-timer.C:
		case <-t.stopped:
			timer.Stop()
			return false
		}
	}
}

// evict closes c unless it is busy answering, and frees its slot at once.
// Called with mu.
func (t *tcpServer) evict(c *tcpConn) bool {
	if !c.stop() {
		return false
	}
	t.release(c)
	return true
}

// release frees c's slot (once). Called with mu.
func (t *tcpServer) release(c *tcpConn) {
	if _, ok := t.conns[c]; !ok {
		return
	}
	delete(t.conns, c)
	if t.perPrefix[c.prefix]--; t.perPrefix[c.prefix] <= 0 {
		delete(t.perPrefix, c.prefix)
	}
	t.count.Store(int32(len(t.conns)))
}

// done is called by a connection's goroutine as it ends.
func (t *tcpServer) done(c *tcpConn) {
	t.mu.Lock()
	t.release(c)
	t.mu.Unlock()
}

// idleTimeout is the idle time allowed from now on: shorter while more
// than half the slots are taken (as NSD does), so that idle clients make
// room before new ones must evict them.
func (t *tcpServer) idleTimeout() time.Duration {
	if int(t.count.Load()) > t.limits.MaxConns/2 {
		return t.limits.BusyIdleTimeout
	}
	return t.limits.IdleTimeout
}

// shutdown stops accepting and closes idle connections at once; those
// answering finish their answer and close. What is left when ctx ends
// (a client that does not read) is closed.
func (t *tcpServer) shutdown(ctx context.Context) {
	t.mu.Lock()
	if !t.stopping.Swap(true) {
		close(t.stopped)
	}
	for _, l := range t.listeners {
		_ = l.Close()
	}
	t.listeners = nil
	for c := range t.conns {
		t.evict(c)
	}
	t.mu.Unlock()

	finished := make(chan struct{})
	go func() {
		t.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		return
	case <-ctx.Done():
	}
	t.mu.Lock()
	for c := range t.conns {
		c.conn.Close()
	}
	t.mu.Unlock()
	<-finished
}

// clientPrefix is the network a client counts against: its /24 (IPv4) or
// /56 (IPv6).
func clientPrefix(a net.Addr) netip.Prefix {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}
	}
	ip := ta.AddrPort().Addr().Unmap()
	bits := 56
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p
}
