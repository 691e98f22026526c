package dnsrr

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/miekg/dns"
)

const (
	// tcpMaxQuery is the longest query read whole, as over UDP
	// (udpReadSize). A longer frame is read past and gets a header-only
	// FORMERR, so a connection never holds more than this buffer.
	tcpMaxQuery = udpReadSize
	// tcpFlushSize is how many bytes of answers to pipelined queries are
	// gathered before they are written, when more queries are in hand.
	tcpFlushSize = 8 << 10
	// tcpLinger is how long a connection closed after its last query
	// (query limit, shutdown) keeps reading and discarding, so that
	// queries the client already sent do not turn the close into a reset
	// that could discard answers it has not read yet.
	tcpLinger = time.Second
)

// A connection is idle (evictable) while it waits for a query or for the
// rest of one, and busy from a complete query until its answer is written.
// A new one, whose goroutine has not read yet, is evicted only when no
// other is idle (see oldestIdle).
const (
	connBusy int32 = iota
	connWaiting
	connReading
	connStopped
	connNew
)

var errEvicted = errors.New("connection evicted")

// tcpConn serves one DNS-over-TCP connection (RFC 7766): queries are read
// in order, answered by the path UDP uses (the fast path first, so answers
// are as fast and echo the question's case), and written in order; answers
// to pipelined queries already read go out in one write.
type tcpConn struct {
	t      *tcpServer
	conn   net.Conn
	prefix netip.Prefix
	state  atomic.Int32
	// idleSince is when the last answer was written (or the connection
	// accepted), on t's clock: the idle timeout runs from it, so bytes that
	// do not make an answered query do not keep a connection.
	idleSince atomic.Int64

	r         *bufio.Reader
	out       []byte // answers not yet written, each with its length
	q         wireQuery
	queries   int
	keepalive bool // the client sent edns-tcp-keepalive (RFC 7828)
	// pending answers are in out since pendingSince (monotonic), for the
	// latency histogram.
	pending      int
	pendingSince time.Duration
	// xfer is a zone transfer the last query asked for, sent once the
	// answers before it are written.
	xfer *transfer
}

func newTCPConn(t *tcpServer, nc net.Conn, prefix netip.Prefix) *tcpConn {
	c := &tcpConn{t: t, conn: nc, prefix: prefix}
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		c.q.client, c.q.port = a.AddrPort().Addr().Unmap(), a.AddrPort().Port()
	}
	c.idleSince.Store(t.now())
	c.state.Store(connNew)
	c.q.stats = t.s.stats.shard()
	return c
}

// stop closes the connection unless it is busy answering; its goroutine
// sees the closed socket and ends.
func (c *tcpConn) stop() bool {
	for {
		s := c.state.Load()
		if s == connBusy {
			return false
		}
		if s == connStopped || c.state.CompareAndSwap(s, connStopped) {
			c.conn.Close()
			return true
		}
	}
}

func (c *tcpConn) run() {
	defer c.t.done(c)
	defer c.conn.Close()
	defer func() {
		// A bug must cost one connection, not the server.
		if r := recover(); r != nil {
			c.t.log.Error().Interface("panic", r).Str("client", c.conn.RemoteAddr().String()).Msg("tcp connection panicked")
		}
	}()
	c.r = bufio.NewReaderSize(c.conn, 2+tcpMaxQuery)
	err := c.serve()
	switch {
	case errors.Is(err, errEvicted):
		return
	case err == nil: // query limit or shutdown: answers are due
		if c.flush() == nil {
			c.linger()
		}
	default: // idle, broken framing, or the client left
		_ = c.flush()
	}
}

// serve answers queries until the connection must close; nil means it
// reached its query limit or the server is stopping.
func (c *tcpConn) serve() error {
	lim := &c.t.limits
	for {
		if (c.queries >= lim.MaxQueries || c.t.stopping.Load()) && !c.frameInHand() {
			// Done: queries already read are answered, no more are read.
			return nil
		}
		// Waiting for a query: only an answer resets this timer, and the
		// timeout in force is the one at the start of the wait.
		idleEnd := c.t.epoch.Add(time.Duration(c.idleSince.Load()) + c.t.idleTimeout())
		if c.r.Buffered() > 0 && len(c.out) == 0 && time.Now().After(idleEnd) {
			// The frame's first byte came with the last frame, so fill
			// does not wait and its deadline does not apply: frames that
			// get no answer, each sent with a byte of the next, would
			// otherwise hold the connection for good.
			return errIdle
		}
		if err := c.fill(1, connWaiting, idleEnd); err != nil {
			return err
		}
		// A query began: all of it must arrive in FrameTimeout.
		frameEnd := time.Now().Add(lim.FrameTimeout)
		if err := c.fill(2, connReading, frameEnd); err != nil {
			return err
		}
		b, _ := c.r.Peek(2)
		n := int(be.Uint16(b))
		if n < headerLen {
			// An empty frame, or one too short to be a message: nothing a
			// real client sends. NSD closes too.
			return errBadFrame
		}
		if n > tcpMaxQuery {
			if err := c.skipOversized(n, frameEnd); err != nil {
				return err
			}
		} else {
			if err := c.fill(2+n, connReading, frameEnd); err != nil {
				return err
			}
			b, _ = c.r.Peek(2 + n)
			c.answer(b[2:])
			_, _ = c.r.Discard(2 + n)
			if c.xfer != nil {
				if err := c.sendTransfer(); err != nil {
					return err
				}
			}
		}
		c.queries++
		if len(c.out) >= tcpFlushSize {
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
}

// frameInHand reports whether a whole frame is buffered.
func (c *tcpConn) frameInHand() bool {
	if c.r.Buffered() < 2 {
		return false
	}
	b, _ := c.r.Peek(2)
	return c.r.Buffered() >= 2+int(be.Uint16(b))
}

var (
	errBadFrame = errors.New("malformed tcp frame")
	errStopping = errors.New("server stopping")
	errIdle     = errors.New("idle timeout")
)

// fill waits until k bytes are in hand, reading until deadline in state st
// (waiting or reading, in which the connection may be evicted). Answers
// gathered so far are written first: the client may wait for them before
// sending more.
func (c *tcpConn) fill(k int, st int32, deadline time.Time) error {
	if c.r.Buffered() >= k {
		return nil
	}
	if err := c.flush(); err != nil {
		return err
	}
	c.state.Store(st)
	if c.t.stopping.Load() {
		// Shutdown may have looked before this connection turned idle.
		return errStopping
	}
	_ = c.conn.SetReadDeadline(deadline)
	_, err := c.r.Peek(k)
	if !c.state.CompareAndSwap(st, connBusy) {
		return errEvicted
	}
	return err
}

// skipOversized reads past a query longer than tcpMaxQuery and answers it
// FORMERR from its header, as the UDP path answers a datagram cut short.
func (c *tcpConn) skipOversized(n int, deadline time.Time) error {
	if err := c.fill(2+headerLen, connReading, deadline); err != nil {
		return err
	}
	b, _ := c.r.Peek(2 + headerLen)
	var hdr [headerLen]byte
	copy(hdr[:], b[2:])
	_, _ = c.r.Discard(2)
	c.state.Store(connReading)
	_ = c.conn.SetReadDeadline(deadline)
	_, err := c.r.Discard(n)
	if !c.state.CompareAndSwap(connReading, connBusy) {
		return errEvicted
	}
	if err != nil {
		return err
	}
	if be.Uint16(hdr[2:])&flagQR == 0 {
		c.appendAnswer(func(buf []byte) []byte {
			out := headerReply(hdr[:], buf, dns.RcodeFormatError)
			c.q.stats.countFraming(nil, out)
			return out
		})
	}
	return nil
}

// answer answers one query into c.out.
func (c *tcpConn) answer(pkt []byte) {
	start := len(c.out)
	defer func() {
		// A bug must cost one query, not the connection.
		if r := recover(); r != nil {
			c.t.log.Error().Interface("panic", r).Msg("tcp query panicked")
			c.out = c.out[:start]
			c.appendAnswer(func(buf []byte) []byte { return headerReply(pkt, buf, dns.RcodeServerFailure) })
		}
	}()
	opt := scanKeepalive(pkt)
	if opt == keepaliveBad {
		c.appendAnswer(func(buf []byte) []byte {
			out := c.t.s.keepaliveFormErr(pkt, buf)
			c.q.stats.countFraming(pkt, out)
			return out
		})
		return
	}
	if opt == keepaliveAsked {
		c.keepalive = true
	}
	c.appendAnswer(func(buf []byte) []byte {
		c.q.xfer = nil
		resp := c.t.s.answerPacket(pkt, buf, &c.q, false)
		if c.q.xfer != nil {
			// A transfer: its messages take the place of the answer.
			c.xfer, c.q.xfer = c.q.xfer, nil
			return nil
		}
		if c.keepalive && resp != nil {
			resp = appendKeepalive(resp, c.t.idleTimeout())
		}
		return resp
	})
}

// appendAnswer has respond write one answer straight after its two-byte
// length in c.out; nil means no answer (the query was a response).
func (c *tcpConn) appendAnswer(respond func(buf []byte) []byte) {
	start := len(c.out)
	if cap(c.out)-start < 2+minPayload {
		c.out = slices.Grow(c.out, 2+udpReadSize)
	}
	c.out = append(c.out, 0, 0)
	dst := c.out[start+2 : start+2]
	resp := respond(dst)
	if resp == nil || len(resp) > 0xFFFF {
		c.out = c.out[:start]
		return
	}
	if cap(dst) > 0 && unsafe.SliceData(resp) == unsafe.SliceData(dst[:1]) {
		c.out = c.out[:start+2+len(resp)] // written in place
	} else {
		c.out = append(c.out, resp...)
	}
	be.PutUint16(c.out[start:], uint16(len(resp)))
	if c.pending == 0 {
		c.pendingSince = monotonic()
	}
	c.pending++
}

// flush writes the answers gathered; a written answer is what makes the
// connection active again.
func (c *tcpConn) flush() error {
	if len(c.out) == 0 {
		return nil
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.t.limits.WriteTimeout))
	_, err := c.conn.Write(c.out)
	if cap(c.out) > 4*tcpFlushSize {
		c.out = nil // a huge answer: do not keep its buffer
	} else {
		c.out = c.out[:0]
	}
	n := c.pending
	c.pending = 0
	if err != nil {
		return err
	}
	c.q.stats.observe(TransportTCP, n, monotonic()-c.pendingSince)
	c.idleSince.Store(c.t.now())
	return nil
}

// sendTransfer writes the answers before it, then the transfer c.xfer,
// each message within the transfer's write timeout rather than the
// answers': a large zone takes far longer than an answer, and a transfer
// is not idle time. An error leaves the stream in an unknown state: the
// connection closes.
func (c *tcpConn) sendTransfer() error {
	x := c.xfer
	c.xfer = nil
	if err := c.flush(); err != nil {
		x.done()
		return err
	}
	var frame []byte
	err := c.t.s.writeTransfer(x, c.q.client, func(msg []byte, deadline time.Time) error {
		frame = append(append(frame[:0], byte(len(msg)>>8), byte(len(msg))), msg...)
		_ = c.conn.SetWriteDeadline(deadline)
		_, err := c.conn.Write(frame)
		return err
	})
	if err != nil {
		return err
	}
	c.idleSince.Store(c.t.now())
	return nil
}

// linger half-closes and reads what the client still sends, for at most
// tcpLinger, before the connection is closed.
func (c *tcpConn) linger() {
	tc, ok := c.conn.(*net.TCPConn)
	if !ok || tc.CloseWrite() != nil {
		return
	}
	c.state.Store(connWaiting)
	_ = c.conn.SetReadDeadline(time.Now().Add(tcpLinger))
	_, _ = io.Copy(io.Discard, io.LimitReader(c.conn, 64<<10))
}
