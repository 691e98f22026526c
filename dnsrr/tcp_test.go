package dnsrr_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// TCP tests run the real connection loop on a loopback port. None asserts
// a duration: timeouts under test are short, and each wait for their
// effect is long (closedWithin), so a loaded machine only makes them slower.

// closedWithin is how long a test waits for the server to close a
// connection it should close; a connection still open after it is a bug.
const closedWithin = 10 * time.Second

// startTCP serves the test zones on 127.0.0.1 with lim and returns the
// address.
func startTCP(t *testing.T, lim dnsrr.TCPLimits) string {
	t.Helper()
	s := dnsrr.New([]string{"127.0.0.1:0"}, dnsrr.Chaos{}, loadSnapshot(t), zerolog.Nop())
	s.TCP = lim
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s.Addrs()[0]
}

// patient are limits no test waits out unless it means to.
var patient = dnsrr.TCPLimits{IdleTimeout: time.Minute, BusyIdleTimeout: time.Minute, FrameTimeout: time.Minute}

// dialFrom connects to addr from the loopback address src ("" for any).
func dialFrom(t *testing.T, addr, src string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func frame(pkt []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(pkt))), pkt...)
}

func packQuery(t *testing.T, q *dns.Msg) []byte {
	t.Helper()
	wire, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return wire
}

func send(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	if _, err := c.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// readReply reads one framed message.
func readReply(c net.Conn) (*dns.Msg, error) {
	_ = c.SetReadDeadline(time.Now().Add(closedWithin))
	var n [2]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(n[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		return nil, err
	}
	r := new(dns.Msg)
	return r, r.Unpack(b)
}

// ask sends q on c and returns its reply.
func ask(t *testing.T, c net.Conn, q *dns.Msg) *dns.Msg {
	t.Helper()
	send(t, c, frame(packQuery(t, q)))
	r, err := readReply(c)
	if err != nil {
		t.Fatalf("no reply to %s: %v", q.Question[0].Name, err)
	}
	return r
}

// wantClosed fails unless the server closes c (EOF or reset) with no
// further reply.
func wantClosed(t *testing.T, c net.Conn, why string) {
	t.Helper()
	r, err := readReply(c)
	switch {
	case err == nil:
		t.Errorf("%s: got a reply instead of a close:\n%v", why, r)
	case errors.Is(err, os.ErrDeadlineExceeded):
		t.Errorf("%s: connection still open after %v", why, closedWithin)
	}
}

// wantOpen fails unless c still answers a query.
func wantOpen(t *testing.T, c net.Conn, why string) {
	t.Helper()
	send(t, c, frame(packQuery(t, newQuery(name("www"), dns.TypeA))))
	if _, err := readReply(c); err != nil {
		t.Errorf("%s: %v", why, err)
	}
}

// TestTCPFraming: a frame that cannot hold a message (empty, or shorter
// than a header) closes the connection, after the answers to the queries
// before it; pipelined queries are answered in order; a query longer than
// the server reads gets FORMERR and the connection goes on.
func TestTCPFraming(t *testing.T) {
	addr := startTCP(t, patient)
	q := func(id uint16) []byte {
		m := newQuery(name("www"), dns.TypeA)
		m.Id = id
		return frame(packQuery(t, m))
	}
	for _, tc := range []struct {
		name string
		junk []byte
	}{
		{"zero-length frame", []byte{0, 0}},
		{"5-byte frame", append([]byte{0, 5}, 1, 2, 3, 4, 5)},
		{"11-byte frame", append([]byte{0, 11}, make([]byte, 11)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialFrom(t, addr, "")
			send(t, c, append(append(q(1), q(2)...), tc.junk...))
			for _, id := range []uint16{1, 2} {
				r, err := readReply(c)
				if err != nil || r.Id != id {
					t.Fatalf("reply %v (err %v), want id %d first", r, err, id)
				}
			}
			wantClosed(t, c, tc.name)
		})
	}
	t.Run("oversized query", func(t *testing.T) {
		c := dialFrom(t, addr, "")
		big := packQuery(t, newQuery(name("www"), dns.TypeA))
		big = append(big, make([]byte, 5000)...)
		send(t, c, frame(big))
		r, err := readReply(c)
		if err != nil || r.Rcode != dns.RcodeFormatError || r.Id != 0xbeef {
			t.Fatalf("reply %v (err %v), want FORMERR for id 0xbeef", r, err)
		}
		wantOpen(t, c, "after an oversized query")
	})
}

// TestTCPCaseEcho: over TCP, as over UDP, answers name the owner in the
// case the question was asked in (the fast path compresses owners into it).
func TestTCPCaseEcho(t *testing.T) {
	addr := startTCP(t, patient)
	c := dialFrom(t, addr, "")
	qname := "WwW.rR.TeSt."
	if !strings.EqualFold(qname, name("www")) {
		t.Fatalf("test zone changed: %s", name("www"))
	}
	r := ask(t, c, newQuery(qname, dns.TypeA))
	if len(r.Answer) == 0 {
		t.Fatalf("no answer:\n%v", r)
	}
	for _, rr := range r.Answer {
		if rr.Header().Name != qname {
			t.Errorf("owner %q, want the question's %q", rr.Header().Name, qname)
		}
	}
}

// TestTCPIdle: the idle timer runs from the last answer; bytes that do not
// make an answered query do not reset it, and a frame started must end in
// FrameTimeout.
func TestTCPIdle(t *testing.T) {
	short := dnsrr.TCPLimits{IdleTimeout: 300 * time.Millisecond, FrameTimeout: time.Minute}
	resp := newQuery(name("www"), dns.TypeA)
	resp.Response = true
	junk := frame(packQuery(t, resp))
	// sendUntilClosed writes chunk every 50 ms until the server closes c.
	sendUntilClosed := func(t *testing.T, c net.Conn, chunk []byte) {
		deadline := time.Now().Add(closedWithin)
		for time.Now().Before(deadline) {
			if _, err := c.Write(chunk); err != nil {
				return // closed, as it should be
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Errorf("connection kept open for %v by frames that were never answered", closedWithin)
	}
	t.Run("responses sent as junk do not reset it", func(t *testing.T) {
		c := dialFrom(t, startTCP(t, short), "")
		sendUntilClosed(t, c, junk)
	})
	t.Run("nor does the next frame's first byte sent with each", func(t *testing.T) {
		// With a byte of the next frame always in the server's buffer,
		// the loop never waited for a first byte, where the idle timer
		// was checked.
		c := dialFrom(t, startTCP(t, short), "")
		send(t, c, junk[:1])
		sendUntilClosed(t, c, append(junk[1:], junk[0]))
	})
	t.Run("answered queries reset it", func(t *testing.T) {
		addr := startTCP(t, dnsrr.TCPLimits{IdleTimeout: 4 * time.Second, FrameTimeout: time.Minute})
		c := dialFrom(t, addr, "")
		// Five queries 1 s apart span 5 s, longer than the timeout; each
		// gap leaves 3 s to spare.
		for range 5 {
			ask(t, c, newQuery(name("www"), dns.TypeA))
			time.Sleep(time.Second)
		}
		wantOpen(t, c, "after queries spaced under the idle timeout")
	})
	t.Run("a slow writer is cut at FrameTimeout", func(t *testing.T) {
		addr := startTCP(t, dnsrr.TCPLimits{IdleTimeout: time.Minute, FrameTimeout: 300 * time.Millisecond})
		c := dialFrom(t, addr, "")
		msg := frame(packQuery(t, newQuery(name("www"), dns.TypeA)))
		deadline := time.Now().Add(closedWithin)
		for _, b := range msg {
			if _, err := c.Write([]byte{b}); err != nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		wantClosed(t, c, "a query sent a byte every 200 ms")
	})
}

// TestTCPQueryLimit: after MaxQueries answers the connection closes; the
// answers are all delivered, and a query sent later is not answered.
func TestTCPQueryLimit(t *testing.T) {
	lim := patient
	lim.MaxQueries = 2
	addr := startTCP(t, lim)
	c := dialFrom(t, addr, "")
	wire := frame(packQuery(t, newQuery(name("www"), dns.TypeA)))
	send(t, c, append(append([]byte{}, wire...), wire...))
	for i := range 2 {
		if _, err := readReply(c); err != nil {
			t.Fatalf("answer %d: %v", i+1, err)
		}
	}
	_, _ = c.Write(wire) // may fail: the server has half-closed
	wantClosed(t, c, "after the query limit")
}

// TestTCPKeepalive: the edns-tcp-keepalive option (RFC 7828).
func TestTCPKeepalive(t *testing.T) {
	lim := dnsrr.TCPLimits{MaxConns: 4, IdleTimeout: 20 * time.Second, BusyIdleTimeout: 3 * time.Second, FrameTimeout: time.Minute}
	addr := startTCP(t, lim)
	withKeepalive := func(timeout uint16) *dns.Msg {
		q := newQuery(name("www"), dns.TypeA)
		withEDNS(q, 1232).Option = []dns.EDNS0{&dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE, Timeout: timeout}}
		return q
	}
	keepalive := func(r *dns.Msg) (uint16, bool) {
		if opt := r.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				if k, ok := o.(*dns.EDNS0_TCP_KEEPALIVE); ok {
					return k.Timeout, true
				}
			}
		}
		return 0, false
	}

	c := dialFrom(t, addr, "")
	plain := newQuery(name("www"), dns.TypeA)
	withEDNS(plain, 1232)
	if _, ok := keepalive(ask(t, c, plain)); ok {
		t.Errorf("keepalive sent to a client that did not ask")
	}
	r := ask(t, c, withKeepalive(0))
	if got, ok := keepalive(r); !ok || got != 200 {
		t.Errorf("keepalive %d (present %v), want 200 (20 s in units of 100 ms)", got, ok)
	}
	if len(r.Answer) == 0 || r.Rcode != dns.RcodeSuccess {
		t.Errorf("the answer suffered:\n%v", r)
	}
	if got, ok := keepalive(ask(t, c, plain)); !ok || got != 200 {
		t.Errorf("later answers on the connection: keepalive %d (present %v), want 200", got, ok)
	}
	// With EDNS absent there is no OPT to carry it.
	if r := ask(t, c, newQuery(name("www"), dns.TypeA)); r.IsEdns0() != nil {
		t.Errorf("an OPT in the answer to a query without EDNS:\n%v", r)
	}
	// A value in a query is the client's mistake (only servers send one).
	if r := ask(t, c, withKeepalive(100)); r.Rcode != dns.RcodeFormatError {
		t.Errorf("keepalive with a value: rcode %s, want FORMERR", rcodeName(r.Rcode))
	}

	// More than half the slots in use: the shorter timeout is advertised.
	for range 2 {
		dialFrom(t, addr, "")
	}
	c2 := dialFrom(t, addr, "")
	if got, _ := keepalive(ask(t, c2, withKeepalive(0))); got != 30 {
		t.Errorf("under pressure keepalive %d, want 30 (3 s)", got)
	}

	// Over UDP the option is ignored (RFC 7828 §3.2.2), even with a value.
	s := newServer(t, dnsrr.Chaos{})
	for _, timeout := range []uint16{0, 100} {
		out := s.AnswerUDP(packQuery(t, withKeepalive(timeout)))
		r := new(dns.Msg)
		if err := r.Unpack(out); err != nil {
			t.Fatal(err)
		}
		if _, ok := keepalive(r); ok || r.Rcode != dns.RcodeSuccess {
			t.Errorf("UDP, keepalive %d: rcode %s, option echoed %v", timeout, rcodeName(r.Rcode), ok)
		}
	}
}

// TestTCPPrefixCap: a network (/24) holds at most MaxConnsPerPrefix
// connections; a new one takes the place of that network's oldest idle
// connection, and other networks are untouched.
func TestTCPPrefixCap(t *testing.T) {
	lim := patient
	lim.MaxConnsPerPrefix = 2
	addr := startTCP(t, lim)
	other := dialFrom(t, addr, "127.0.9.1")
	wantOpen(t, other, "another network's connection")
	a := dialFrom(t, addr, "127.0.0.1")
	b := dialFrom(t, addr, "127.0.0.2")
	wantOpen(t, b, "second connection of 127.0.0.0/24")
	time.Sleep(dnsrr.MinEvictIdle) // idle long enough to give way (a lower bound, however loaded)
	c := dialFrom(t, addr, "127.0.0.3")
	wantOpen(t, c, "third connection of 127.0.0.0/24")
	wantClosed(t, a, "the network's oldest idle connection")
	wantOpen(t, b, "the network's second connection")
	wantOpen(t, other, "another network's connection")
}

// TestTCPEvictsOldestIdle: at MaxConns a new connection gets in by closing
// the connection idle the longest (the last answer longest ago), not the
// oldest one.
func TestTCPEvictsOldestIdle(t *testing.T) {
	lim := patient
	lim.MaxConns = 3
	addr := startTCP(t, lim)
	a := dialFrom(t, addr, "127.0.1.1")
	b := dialFrom(t, addr, "127.0.2.1")
	c := dialFrom(t, addr, "127.0.3.1")
	wantOpen(t, a, "first connection, now the most recently active")
	wantOpen(t, c, "third connection")
	d := dialFrom(t, addr, "127.0.4.1")
	wantOpen(t, d, "a connection beyond the cap")
	wantClosed(t, b, "the connection idle the longest")
	wantOpen(t, a, "first connection")
	wantOpen(t, c, "third connection")
}
