// Package flood sends one DNS question at a fixed rate from several
// loopback source addresses and counts the replies by kind: the traffic
// of a reflection attack, seen from the victim. The rate-limiting test
// (integration/rrl_test.go) and the harness comparing servers
// (integration/perf/rrl.sh, through the command integration/perf/flood)
// both use it.
//
// Every run is bounded in count and time, sends only to loopback, and
// closes its sockets before it returns.
package flood

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Bounds of one run, whatever the caller asks: a flood must stop by itself.
const (
	MaxCount    = 10_000_000
	MaxDuration = 10 * time.Minute
	MaxSources  = 1024
	MaxRate     = 1_000_000
)

// Config is one flood.
type Config struct {
	Server   netip.AddrPort // a loopback address
	Name     string         // the question, a fully qualified name
	Type     uint16
	Sources  []netip.Addr  // loopback source addresses; queries take turns
	Rate     int           // queries per second, all sources together
	Count    int           // queries at most
	Duration time.Duration // time spent sending, at most
	Drain    time.Duration // how long to wait for replies after the last query (default 500 ms)
	EDNSSize uint16        // advertised in an OPT record; 0 sends none

	// Cookies makes each source do the DNS cookie handshake first (a query
	// with a client cookie alone) and then send its client and server
	// cookie in every query, as a resolver with cookies does.
	Cookies bool
	// TCP sends the queries over one connection per source (pipelined).
	TCP bool
}

// Result counts what one flood sent and got back.
type Result struct {
	Sent      int // queries sent
	Full      int // replies with answers, TC clear
	Truncated int // empty replies with TC set that echo the question (a slipped reply)
	Other     int // any other reply (errors, BADCOOKIE, REFUSED...)
	BytesIn   int64
	BytesOut  int64         // DNS message bytes: queries to the server (in), replies (out); no TCP framing
	SendTime  time.Duration // first query to last query
	Elapsed   time.Duration // first query to the last reply
	// ClientDrops are replies the kernel dropped at our own sockets
	// (receive buffers full): not the server's doing, so not "dropped".
	ClientDrops int
}

// Dropped is the queries that got no reply.
func (r Result) Dropped() int { return r.Sent - r.Full - r.Truncated - r.Other - r.ClientDrops }

// Replies is the replies received, of every kind.
func (r Result) Replies() int { return r.Full + r.Truncated + r.Other }

// ErrNoCookie is returned when Cookies is set and the server answered the
// handshake without a server cookie.
var ErrNoCookie = errors.New("the server sent no server cookie")

func (c *Config) check() error {
	if !c.Server.Addr().IsLoopback() {
		return fmt.Errorf("flood: server %v is not a loopback address", c.Server)
	}
	if len(c.Sources) == 0 || len(c.Sources) > MaxSources {
		return fmt.Errorf("flood: %d sources (want 1 to %d)", len(c.Sources), MaxSources)
	}
	for _, s := range c.Sources {
		if !s.IsLoopback() || s.Is4() != c.Server.Addr().Is4() {
			return fmt.Errorf("flood: source %v is not a loopback address of the server's family", s)
		}
	}
	if c.Rate < 1 || c.Rate > MaxRate {
		return fmt.Errorf("flood: rate %d (want 1 to %d per second)", c.Rate, MaxRate)
	}
	if c.Count < 1 || c.Count > MaxCount {
		return fmt.Errorf("flood: count %d (want 1 to %d)", c.Count, MaxCount)
	}
	if c.Duration <= 0 || c.Duration > MaxDuration {
		return fmt.Errorf("flood: duration %v (want up to %v)", c.Duration, MaxDuration)
	}
	if c.Drain <= 0 {
		c.Drain = 500 * time.Millisecond
	}
	c.Drain = min(c.Drain, 10*time.Second)
	if c.Cookies && c.EDNSSize == 0 {
		c.EDNSSize = 1232 // a cookie travels in OPT
	}
	return nil
}

// source is one source address's socket, its query and what it received.
type source struct {
	conn     net.Conn
	tcp      bool
	query    []byte // the query sent, ID rewritten each time
	question []byte // its question section, which a slipped reply echoes

	full, truncated, other atomic.Int64
	bytesOut               atomic.Int64
	lastReply              atomic.Int64 // UnixNano
}

// Run floods cfg.Server and returns the counts. It returns early, with
// what was counted so far, when ctx is done.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.check(); err != nil {
		return Result{}, err
	}
	srcs := make([]*source, 0, len(cfg.Sources))
	defer func() {
		for _, s := range srcs {
			s.conn.Close()
		}
	}()
	for _, a := range cfg.Sources {
		s, err := dial(ctx, cfg, a)
		if err != nil {
			return Result{}, err
		}
		srcs = append(srcs, s)
	}

	var wg sync.WaitGroup
	for _, s := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.receive()
		}()
	}
	start := time.Now()
	res, sendErr := send(ctx, cfg, srcs, start)

	// Wait for the replies still on their way: all of them, or Drain.
	deadline := time.Now().Add(cfg.Drain)
	for time.Now().Before(deadline) && ctx.Err() == nil && replies(srcs) < int64(res.Sent) {
		time.Sleep(10 * time.Millisecond)
	}
	// Drops at our sockets are read while they are open.
	res.ClientDrops = clientDrops(srcs)
	for _, s := range srcs {
		_ = s.conn.SetReadDeadline(time.Now())
	}
	wg.Wait()

	var last int64
	for _, s := range srcs {
		res.Full += int(s.full.Load())
		res.Truncated += int(s.truncated.Load())
		res.Other += int(s.other.Load())
		res.BytesOut += s.bytesOut.Load()
		last = max(last, s.lastReply.Load())
	}
	if last > 0 {
		res.Elapsed = time.Unix(0, last).Sub(start)
	}
	res.Elapsed = max(res.Elapsed, res.SendTime)
	return res, sendErr
}

// send writes the queries at cfg.Rate, taking the sources in turn, until
// Count or Duration is reached.
func send(ctx context.Context, cfg Config, srcs []*source, start time.Time) (Result, error) {
	var res Result
	perQuery := float64(time.Second) / float64(cfg.Rate)
	var frame []byte
	for res.Sent < cfg.Count && ctx.Err() == nil {
		elapsed := time.Since(start)
		if elapsed >= cfg.Duration {
			break
		}
		due := min(int(float64(elapsed)/perQuery)+1, cfg.Count)
		if res.Sent >= due {
			time.Sleep(time.Until(start.Add(time.Duration(float64(res.Sent) * perQuery))))
			continue
		}
		for ; res.Sent < due; res.Sent++ {
			s := srcs[res.Sent%len(srcs)]
			binary.BigEndian.PutUint16(s.query, uint16(res.Sent))
			msg := s.query
			if s.tcp {
				frame = append(binary.BigEndian.AppendUint16(frame[:0], uint16(len(msg))), msg...)
				msg = frame
			}
			if _, err := s.conn.Write(msg); err != nil {
				res.SendTime = time.Since(start)
				return res, fmt.Errorf("flood: send from %v: %w", s.conn.LocalAddr(), err)
			}
			res.BytesIn += int64(len(s.query))
		}
	}
	res.SendTime = time.Since(start)
	return res, nil
}

func replies(srcs []*source) int64 {
	var n int64
	for _, s := range srcs {
		n += s.full.Load() + s.truncated.Load() + s.other.Load()
	}
	return n
}

// dial opens the socket of one source address, bound to it, and prepares
// its query (after the cookie handshake, if asked).
func dial(ctx context.Context, cfg Config, from netip.Addr) (*source, error) {
	d := net.Dialer{Timeout: 3 * time.Second}
	network := "udp"
	d.LocalAddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(from, 0))
	if cfg.TCP {
		network = "tcp"
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0))
	}
	conn, err := d.DialContext(ctx, network, cfg.Server.String())
	if err != nil {
		return nil, fmt.Errorf("flood: %s from %v: %w", network, from, err)
	}
	if u, ok := conn.(*net.UDPConn); ok {
		// Replies arrive in bursts while the sender holds the CPU.
		_ = u.SetReadBuffer(4 << 20)
	}
	s := &source{conn: conn, tcp: cfg.TCP}
	var cookie []byte
	if cfg.Cookies {
		if cookie, err = s.handshake(ctx, cfg, from); err != nil {
			conn.Close()
			return nil, err
		}
	}
	if s.query, err = query(cfg, cookie).Pack(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("flood: pack query: %w", err)
	}
	s.question = s.query[12:]
	return s, nil
}

// query is the question of cfg, with the given COOKIE option data if any.
func query(cfg Config, cookie []byte) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(cfg.Name, cfg.Type)
	m.RecursionDesired = false
	if cfg.EDNSSize > 0 {
		m.SetEdns0(cfg.EDNSSize, false)
		if cookie != nil {
			opt := m.IsEdns0()
			opt.Option = append(opt.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hex.EncodeToString(cookie)})
		}
	}
	return m
}

// handshake sends a query with a fresh client cookie and returns the
// client and server cookie to send from now on. A server that is rate
// limiting the source may drop the query or slip an empty truncated reply:
// then the handshake is done over TCP, as a resolver would retry (a server
// cookie is bound to the client's address, not to the transport).
func (s *source) handshake(ctx context.Context, cfg Config, from netip.Addr) ([]byte, error) {
	client := binary.BigEndian.AppendUint64(nil, rand.Uint64())
	wire, err := query(cfg, client).Pack()
	if err != nil {
		return nil, fmt.Errorf("flood: pack handshake: %w", err)
	}
	for try := 0; try < 3; try++ {
		reply, err := s.exchangeOnce(wire, time.Second)
		if err != nil {
			continue // lost or dropped: try again
		}
		cookie, truncated, err := serverCookie(reply, client)
		if cookie != nil || err != nil || !truncated || s.tcp {
			return cookie, err
		}
		break
	}
	if s.tcp {
		return nil, fmt.Errorf("flood: cookie handshake from %v: no reply in 3 tries", from)
	}
	d := net.Dialer{Timeout: 3 * time.Second, LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0))}
	conn, err := d.DialContext(ctx, "tcp", cfg.Server.String())
	if err != nil {
		return nil, fmt.Errorf("flood: cookie handshake over TCP from %v: %w", from, err)
	}
	defer conn.Close()
	reply, err := (&source{conn: conn, tcp: true}).exchangeOnce(wire, 3*time.Second)
	if err != nil {
		return nil, fmt.Errorf("flood: cookie handshake over TCP from %v: %w", from, err)
	}
	cookie, _, err := serverCookie(reply, client)
	return cookie, err
}

// serverCookie returns the COOKIE option of reply (client and server
// cookie) if it echoes client, and whether reply was truncated.
func serverCookie(reply, client []byte) (cookie []byte, truncated bool, err error) {
	m := new(dns.Msg)
	if err := m.Unpack(reply); err != nil {
		return nil, false, fmt.Errorf("flood: handshake reply: %w", err)
	}
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if c, ok := o.(*dns.EDNS0_COOKIE); ok {
				both, err := hex.DecodeString(c.Cookie)
				if err == nil && len(both) > 8 && bytes.Equal(both[:8], client) {
					return both, m.Truncated, nil
				}
			}
		}
	}
	if m.Truncated {
		return nil, true, nil
	}
	return nil, false, ErrNoCookie
}

// exchangeOnce sends one message and reads one reply before the timeout.
func (s *source) exchangeOnce(wire []byte, timeout time.Duration) ([]byte, error) {
	_ = s.conn.SetDeadline(time.Now().Add(timeout))
	defer s.conn.SetDeadline(time.Time{})
	if s.tcp {
		wire = append(binary.BigEndian.AppendUint16(nil, uint16(len(wire))), wire...)
	}
	if _, err := s.conn.Write(wire); err != nil {
		return nil, err
	}
	return s.read(make([]byte, 65535))
}

// read returns the next reply, into buf.
func (s *source) read(buf []byte) ([]byte, error) {
	if !s.tcp {
		n, err := s.conn.Read(buf)
		return buf[:n], err
	}
	if _, err := readFull(s.conn, buf[:2]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(buf))
	_, err := readFull(s.conn, buf[:n])
	return buf[:n], err
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// receive counts replies until the socket's read deadline passes or it
// is closed.
func (s *source) receive() {
	buf := make([]byte, 65535)
	for {
		reply, err := s.read(buf)
		if err != nil {
			return
		}
		switch Classify(reply, s.question) {
		case KindFull:
			s.full.Add(1)
		case KindTruncated:
			s.truncated.Add(1)
		default:
			s.other.Add(1)
		}
		s.bytesOut.Add(int64(len(reply)))
		s.lastReply.Store(time.Now().UnixNano())
	}
}

// Kind is what a reply is, as a rate limiter's victim sees it.
type Kind uint8

const (
	KindOther     Kind = iota
	KindFull           // an answer: NOERROR, TC clear, answer records
	KindTruncated      // a slipped reply: TC set, no answer records, the question echoed
)

// Classify tells the kind of reply to a query whose question section
// (from byte 12 of the query, OPT record included or not) is question.
func Classify(reply, question []byte) Kind {
	if len(reply) < 12 || reply[2]&0x80 == 0 {
		return KindOther
	}
	tc := reply[2]&0x02 != 0
	rcode := reply[3] & 0x0f
	qdcount := binary.BigEndian.Uint16(reply[4:])
	ancount := binary.BigEndian.Uint16(reply[6:])
	switch {
	case tc && ancount == 0 && qdcount == 1 && echoes(reply[12:], question):
		return KindTruncated
	case !tc && rcode == dns.RcodeSuccess && ancount > 0:
		return KindFull
	}
	return KindOther
}

// echoes tells whether body starts with the question (name, type and
// class) that starts question; names compare without regard to case.
func echoes(body, question []byte) bool {
	n := 0
	for n < len(question) && question[n] != 0 {
		n += 1 + int(question[n])
	}
	n += 1 + 4 // root label, type, class
	return n <= len(question) && n <= len(body) && bytes.EqualFold(body[:n], question[:n])
}
