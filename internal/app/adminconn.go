package app

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// connLimit caps the connections of the admin API's listener, so that its
// callers can never take the file descriptors DNS needs. At the cap, a new
// connection takes the place of the oldest one that holds no request: idle
// between keep-alive requests first, then one still sending its first
// request's headers after freshEvictAge, then one whose response has not
// been read for writeStall (a client that stopped reading). While none can
// give way, new connections wait in the kernel's listen queue for up to
// roomWait; then the next one is accepted and closed at once.
type connLimit struct {
	net.Listener
	max int
	log zerolog.Logger

	mu      sync.Mutex
	conns   map[*limitedConn]struct{}
	evicted int // since the last warning
	refused int
	warned  time.Time
	// counts are the totals, for metrics (nil: none).
	counts *connCounts
}

// limitedConn is one accepted connection, with what ConnState said of it.
type limitedConn struct {
	net.Conn
	l     *connLimit
	state http.ConnState // guarded by l.mu
	since time.Time      // when it entered state
	// writing is when the Write in progress began (UnixNano), 0 if none.
	writing atomic.Int64
}

// writeStall is how long a response may wait on its client before the
// connection counts as evictable: an operator's client reads at once, one
// that stops reading a large /status would otherwise hold its slot for
// admin_write_timeout.
var writeStall = time.Second

func (c *limitedConn) Write(p []byte) (int, error) {
	c.writing.Store(time.Now().UnixNano())
	defer c.writing.Store(0)
	return c.Conn.Write(p)
}

// stalled reports whether a Write has waited on the client since before t.
func (c *limitedConn) stalled(t time.Time) bool {
	w := c.writing.Load()
	return w != 0 && w < t.UnixNano()
}

// capWarnEvery spaces the warnings that the cap was reached.
const capWarnEvery = time.Minute

func newConnLimit(ln net.Listener, max int, log zerolog.Logger) *connLimit {
	return &connLimit{Listener: ln, max: max, log: log, conns: map[*limitedConn]struct{}{}}
}

// freshEvictAge is how long a connection may go without a request before
// a new one may take its place: an operator's client sends its request
// right after the handshake, but under a flood of connections (each
// evicting the oldest) it was evicted before its request arrived.
const freshEvictAge = 200 * time.Millisecond

// roomWait bounds how long Accept leaves new connections in the kernel's
// queue while no slot can be freed, before it takes one and refuses it.
const roomWait = time.Second

// Accept returns the next connection within the cap.
func (l *connLimit) Accept() (net.Conn, error) {
	for {
		l.waitForRoom()
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		now := time.Now()
		l.mu.Lock()
		var victim *limitedConn
		if len(l.conns) >= l.max {
			if victim = l.evictable(now); victim != nil {
				delete(l.conns, victim)
				l.evicted++
				l.counts.evict()
			} else {
				l.refused++
				l.counts.refuse()
			}
			l.warnLocked(now)
		}
		if victim == nil && len(l.conns) >= l.max {
			l.mu.Unlock()
			c.Close()
			continue
		}
		lc := &limitedConn{Conn: c, l: l, state: http.StateNew, since: now}
		l.conns[lc] = struct{}{}
		l.mu.Unlock()
		if victim != nil {
			// The server's goroutine for it sees the read fail and ends.
			victim.Conn.Close()
		}
		return lc, nil
	}
}

// waitForRoom waits, up to roomWait, while the cap is reached and no
// connection can give way, so that new ones wait in the listen queue, in
// order, rather than being accepted only to be refused.
func (l *connLimit) waitForRoom() {
	for deadline := time.Now().Add(roomWait); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		l.mu.Lock()
		full := len(l.conns) >= l.max && l.evictable(time.Now()) == nil
		l.mu.Unlock()
		if !full {
			return
		}
	}
}

// evictable is the connection to close for a new one, or nil: the one
// idle longest, else the oldest that has not finished a request's headers
// within freshEvictAge, else one whose client has not read its response
// for writeStall.
func (l *connLimit) evictable(now time.Time) *limitedConn {
	var idle, fresh, stalled *limitedConn
	for c := range l.conns {
		if c.state == http.StateActive && stalled == nil && c.stalled(now.Add(-writeStall)) {
			stalled = c
		}
		switch c.state {
		case http.StateIdle:
			if idle == nil || c.since.Before(idle.since) {
				idle = c
			}
		case http.StateNew:
			if now.Sub(c.since) < freshEvictAge {
				continue // its request may be on its way
			}
			if fresh == nil || c.since.Before(fresh.since) {
				fresh = c
			}
		}
	}
	switch {
	case idle != nil:
		return idle
	case fresh != nil:
		return fresh
	}
	return stalled
}

func (l *connLimit) warnLocked(now time.Time) {
	if now.Sub(l.warned) < capWarnEvery {
		return
	}
	l.log.Warn().Int("max_connections", l.max).Int("closed_idle", l.evicted).Int("refused", l.refused).
		Msg("admin API at its connection cap ([health] admin_max_connections): closing idle connections, refusing new ones while all are busy")
	l.warned, l.evicted, l.refused = now, 0, 0
}

// track is the http.Server's ConnState hook.
func (l *connLimit) track(c net.Conn, state http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch state {
	case http.StateClosed, http.StateHijacked:
		delete(l.conns, lc)
	default:
		lc.state, lc.since = state, time.Now()
	}
}

// open is the number of connections counted against the cap.
func (l *connLimit) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}
