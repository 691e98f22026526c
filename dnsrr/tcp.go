package dnsrr

import (
	"net"
	"sync"
	"time"
)

// tcpWriteTimeout bounds one response write. miekg/dns sets no write
// deadline, so a client that never reads would otherwise hold its
// connection, a slot of maxTCPConns, and shutdown, forever.
const tcpWriteTimeout = 5 * time.Second

// tcpListener hands out connections whose writes time out, and remembers
// them so that Shutdown can close those still open after its grace period.
type tcpListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[*tcpConn]struct{}
}

func newTCPListener(l net.Listener) *tcpListener {
	return &tcpListener{Listener: l, conns: map[*tcpConn]struct{}{}}
}

func (l *tcpListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &tcpConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns[tc] = struct{}{}
	l.mu.Unlock()
	return tc, nil
}

// closeAll closes every connection still open.
func (l *tcpListener) closeAll() {
	l.mu.Lock()
	conns := make([]*tcpConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

type tcpConn struct {
	net.Conn
	l    *tcpListener
	once sync.Once
}

func (c *tcpConn) Write(b []byte) (int, error) {
	if err := c.SetWriteDeadline(time.Now().Add(tcpWriteTimeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

func (c *tcpConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
