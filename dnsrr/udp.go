package dnsrr

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr/rrl"
	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// UDP is served by our own loops rather than miekg/dns's: one socket per
// worker (SO_REUSEPORT spreads packets over them in the kernel), batched
// reads and writes, and the fast path answering from bytes. miekg/dns's UDP
// server unpacks every packet into a dns.Msg and spawns a goroutine per
// packet; at the rates an authoritative server sees, that is most of the
// cost.
//
// On 64-bit Linux the loop is mmsgWorker (udp_mmsg_linux.go). Elsewhere, or
// with DNSRR_UDP_IO=portable in the environment (to measure one against the
// other), it is batchWorker below: the batch calls of golang.org/x/net,
// which go through the runtime's poller for every batch and convert every
// address to a net.Addr.
//
// batchWorker is safe for the usual reasons: the runtime parks it in epoll
// when the socket is empty, so it never holds its P in a blocking system
// call. Shutdown sets a read deadline in the past: the blocked read
// returns, the batch in hand is answered, and the worker exits before the
// socket is closed. Packets still in the socket buffer at that moment are
// not read (the kernel drops them with the socket), as with any UDP server.

const (
	// udpBatch is how many packets one system call may read or write.
	udpBatch = 32
	// udpSocketBuffer absorbs bursts while a worker is busy (capped by
	// net.core.rmem_max).
	udpSocketBuffer = 4 << 20
)

// batchConn is what ipv4.PacketConn and ipv6.PacketConn share.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// udpLoop serves one socket until Shutdown.
type udpLoop interface{ run() }

// newUDPLoop picks the loop for a socket (see above).
func newUDPLoop(s *Server, conn *net.UDPConn) udpLoop {
	if os.Getenv("DNSRR_UDP_IO") != "portable" {
		if w, err := newMmsgWorker(s, conn); err == nil {
			return w
		}
	}
	return newBatchWorker(s, conn)
}

type batchWorker struct {
	s    *Server
	conn *net.UDPConn
	bc   batchConn
	in   []ipv4.Message
	out  []ipv4.Message
	bufs [][]byte // response buffers, one per batch slot
	q    wireQuery
}

func newBatchWorker(s *Server, conn *net.UDPConn) *batchWorker {
	w := &batchWorker{s: s, conn: conn, in: make([]ipv4.Message, udpBatch), out: make([]ipv4.Message, udpBatch)}
	if conn.LocalAddr().(*net.UDPAddr).IP.To4() != nil {
		w.bc = ipv4.NewPacketConn(conn)
	} else {
		w.bc = ipv6.NewPacketConn(conn)
	}
	for i := range w.in {
		w.in[i].Buffers = [][]byte{make([]byte, udpReadSize)}
		w.bufs = append(w.bufs, make([]byte, 0, udpReadSize))
		w.out[i].Buffers = [][]byte{nil}
	}
	w.q.stats = s.stats.shard()
	return w
}

// run serves until the socket is closed or its read deadline passes (which
// is how Shutdown stops reading: the batch in hand is still answered).
func (w *batchWorker) run() {
	for {
		n, err := w.bc.ReadBatch(w.in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
			// ICMP errors surface here (ECONNREFUSED and friends from a
			// previous write); they concern one client, not the socket.
			w.s.log.Debug().Err(err).Msg("udp read")
			continue
		}
		start := monotonic()
		k := 0
		for i := range n {
			m := &w.in[i]
			w.q.client, w.q.port = netip.Addr{}, 0
			if a, ok := m.Addr.(*net.UDPAddr); ok {
				w.q.client, w.q.port = a.AddrPort().Addr().Unmap(), a.AddrPort().Port()
			}
			resp := w.s.answerUDP(m.Buffers[0][:m.N], w.bufs[k], &w.q)
			if resp == nil {
				continue
			}
			w.out[k].Buffers[0] = resp
			w.out[k].Addr = m.Addr
			k++
		}
		w.write(k)
		w.q.stats.observe(TransportUDP, k, monotonic()-start)
	}
}

func (w *batchWorker) write(k int) {
	for sent := 0; sent < k; {
		n, err := w.bc.WriteBatch(w.out[sent:k], 0)
		if err != nil {
			// One bad destination must not cost the rest of the batch.
			w.s.log.Debug().Err(err).Msg("udp write")
			n = max(n, 1)
		}
		sent += n
	}
}

// answerUDP answers one datagram into buf, or returns nil to stay silent.
func (s *Server) answerUDP(pkt, buf []byte, q *wireQuery) []byte {
	return s.answerPacket(pkt, buf, q, true)
}

// answerPacket answers one query, from UDP or TCP, into buf: the fast path
// when it can, the full path otherwise, then rate limiting (UDP only: a
// TCP client cannot spoof its address). nil means no answer.
//
// It is also the one place every answer is counted (stats.go).
func (s *Server) answerPacket(pkt, buf []byte, q *wireQuery, udp bool) (out []byte) {
	sh, tr := q.stats, TransportTCP
	if sh == nil {
		sh = &s.stats.shards[0]
	}
	if udp {
		tr = TransportUDP
	}
	parsed, reason := false, DropNotQuery
	defer func() {
		// A bug must cost one query, not the server.
		if r := recover(); r != nil {
			s.log.Error().Interface("panic", r).Msg("query handler panicked")
			out = headerReply(pkt, buf, dns.RcodeServerFailure)
			q.extRcode = 0
		}
		sh.count(q, pkt, out, tr, parsed, reason)
	}()
	p := s.policy.Load()
	q.policy = p
	logged := p.QueryLog.begin(q) // zero unless this query is logged
	q.class, q.cookieValid, q.extRcode, q.signed = classification{kind: rrl.Error}, false, 0, nil
	// A packet that no path reads has no options: never the previous
	// query's, which a slip would send (another client's cookie).
	q.edns, q.optData = false, nil
	if parsed = parseQuery(pkt, q); parsed {
		q.replyOptions(p)
		limit := dns.MaxMsgSize
		if udp {
			limit = min(q.payload, ednsPayload)
		}
		out = s.state.Load().fast.respond(q, pkt, buf, limit)
	}
	if out == nil {
		out = s.answerSlow(pkt, buf, q, udp)
	}
	// A valid server cookie or TSIG signature proves the client's address
	// (a spoofer has neither): not limited, and a slip would go unsigned.
	if udp && p.RRL != nil && out != nil && !q.cookieValid && q.signed == nil {
		if out = p.limit(q, out); out == nil {
			reason = DropRRL
		}
	}
	if !logged.IsZero() {
		p.QueryLog.write(q, pkt, out, udp, logged)
	}
	return out
}

// limit applies rate limiting to out, the reply to q: sent as is,
// slipped (slip.go) or dropped (nil).
func (p *Policy) limit(q *wireQuery, out []byte) []byte {
	v := p.RRL.Check(q.client, q.class.kind, q.class.key)
	q.rrlVerdict, q.rrlChecked = v, true
	switch v {
	case rrl.Pass:
		return out
	case rrl.Slip:
		if p.BadCookieSlip && p.Cookies != nil && q.opts.cookieLen > 0 && !q.opts.badCookie {
			if bad := badCookieReply(q, out); bad != nil {
				q.extRcode = rcodeBadCookie >> 4
				return bad
			}
		}
		return slipReply(q, out) // also when BADCOOKIE cannot be made (no question)
	}
	return nil
}

// answerSlow is the full path: miekg/dns unpacks, respond answers.
func (s *Server) answerSlow(pkt, buf []byte, q *wireQuery, udp bool) (out []byte) {
	if len(pkt) < headerLen || be.Uint16(pkt[2:])&flagQR != 0 {
		return nil // not a query: answering responses invites reflection loops
	}
	// Until respond says otherwise (and when the packet does not unpack),
	// the reply is an error: q's zero class is an answer.
	q.class, q.cookieValid = classification{kind: rrl.Error}, false
	if q.policy == nil { // called alone (tests): the policy answerPacket would read
		q.policy = s.policy.Load()
	}
	req := new(dns.Msg)
	q.opts.readOptions(pkt)
	defer func() {
		// A bug must cost one query, not the server.
		if r := recover(); r != nil {
			s.log.Error().Interface("panic", r).Msg("query handler panicked")
			out = headerReply(pkt, buf, dns.RcodeServerFailure)
			if fail, err := errorReply(req, dns.RcodeServerFailure).PackBuffer(buf); err == nil {
				out = fail
			}
		}
	}()
	if err := req.Unpack(pkt); err != nil {
		if q.opts.formErr(q.policy) {
			if out := optionFormErr(pkt, buf, q); out != nil {
				return out
			}
		}
		return headerReply(pkt, buf, dns.RcodeFormatError)
	}
	q.pkt = pkt
	out, err := s.respond(req, q, udp)
	q.pkt = nil
	if err != nil {
		s.log.Error().Err(err).Msg("cannot pack response")
		return headerReply(pkt, buf, dns.RcodeServerFailure)
	}
	return out
}

// headerReply answers with just a header: the query's ID, opcode and (for
// a QUERY) RD, and rcode, for packets we cannot (or must not) answer in full.
func headerReply(pkt, buf []byte, rcode int) []byte {
	if len(pkt) < headerLen {
		return nil
	}
	out := append(buf[:0], pkt[:headerLen]...)
	flags := be.Uint16(pkt[2:])&opcodeBits | flagQR | uint16(rcode)
	if flags&opcodeBits == 0 {
		flags |= be.Uint16(pkt[2:]) & flagRD
	}
	be.PutUint16(out[2:], flags)
	for i := 4; i < headerLen; i++ {
		out[i] = 0
	}
	return out
}

// listenUDP binds n sockets to addr with SO_REUSEPORT; with port 0 the
// first picks the port and the others join it.
func listenUDP(addr string, n int) ([]*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
		})
		return errors.Join(err, serr)
	}}
	var conns []*net.UDPConn
	for i := range n {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		c := pc.(*net.UDPConn)
		_ = c.SetReadBuffer(udpSocketBuffer)
		conns = append(conns, c)
		if i == 0 {
			addr = c.LocalAddr().String()
		}
	}
	return conns, nil
}

// stopReading makes blocked reads return at once.
func stopReading(c *net.UDPConn) { _ = c.SetReadDeadline(time.Unix(1, 0)) }
