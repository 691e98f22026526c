package integration

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// floodPackets is how many malformed datagrams the flood sends: enough to
// hit every parser branch many times, bounded so the test stops by itself.
const floodPackets = 20000

// malformed returns packet i of the flood: random bytes, truncations and
// bit flips of a valid query, and headers with absurd counts.
func malformed(r *rand.Rand, valid []byte, i int) []byte {
	switch i % 4 {
	case 0: // random bytes, any length up to a large datagram
		b := make([]byte, r.IntN(700))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		return b
	case 1: // a valid query cut short
		return append([]byte(nil), valid[:r.IntN(len(valid))]...)
	case 2: // a valid query with a few bytes flipped
		b := append([]byte(nil), valid...)
		for range 1 + r.IntN(4) {
			b[r.IntN(len(b))] ^= byte(1 + r.IntN(255))
		}
		return b
	default: // a header claiming many records, followed by little
		b := append([]byte(nil), valid[:12]...)
		binary.BigEndian.PutUint16(b[4:], uint16(r.UintN(65536)))
		binary.BigEndian.PutUint16(b[6:], uint16(r.UintN(65536)))
		binary.BigEndian.PutUint16(b[10:], uint16(r.UintN(65536)))
		return append(b, valid[12:12+r.IntN(len(valid)-12)]...)
	}
}

// A flood of malformed packets over UDP and TCP must not crash the server,
// make it log a panic, or stop it answering well-formed queries; every
// reply it sends to garbage must itself be a well-formed DNS response.
func TestMalformedFlood(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-zone", exampleZone(), "-listen", "127.0.0.1:0")
	addr := s.addrs[0]
	q := new(dns.Msg).SetQuestion("www.lb.example.test.", dns.TypeA)
	q.SetEdns0(1232, true)
	valid, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2)) // fixed seed: a failure can be replayed

	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	replies := make(chan []byte, 1024)
	go func() { // read replies concurrently so the socket buffer never fills
		buf := make([]byte, 65536)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			n, err := conn.Read(buf)
			if err != nil {
				close(replies)
				return
			}
			select {
			case replies <- append([]byte(nil), buf[:n]...):
			default: // the checker is behind; the count is only informative
			}
		}
	}()
	checked := make(chan int)
	go func() {
		n := 0
		for b := range replies {
			m := new(dns.Msg)
			if err := m.Unpack(b); err != nil && len(b) != 12 {
				t.Errorf("reply to garbage does not unpack (%v): %x", err, b)
			} else if b[2]&0x80 == 0 {
				t.Errorf("reply without QR: %x", b)
			}
			n++
		}
		checked <- n
	}()
	for i := range floodPackets {
		_, _ = conn.Write(malformed(r, valid, i))
		if i%500 == 0 {
			time.Sleep(time.Millisecond) // stay under the socket buffer
		}
	}

	// TCP: garbage frames, frames longer than what follows, and bare
	// connections closed at once, on many connections.
	for i := range 200 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatalf("TCP connection %d refused during the flood: %v", i, err)
		}
		body := malformed(r, valid, i)
		frame := binary.BigEndian.AppendUint16(nil, uint16(len(body)+r.IntN(2)*100))
		_, _ = c.Write(append(frame, body...))
		c.Close()
	}

	// Still answering, correctly, over both transports.
	for _, network := range []string{"udp", "tcp"} {
		resp := exchange(t, network, addr, q)
		if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 3 {
			t.Errorf("%s after the flood: rcode %s, %d answers", network, dns.RcodeToString[resp.Rcode], len(resp.Answer))
		}
	}
	n := <-checked
	t.Logf("%d malformed datagrams sent, %d replies checked", floodPackets, n)
	if s.exited() {
		t.Fatal("server exited during the flood")
	}
	for _, l := range s.snapshotLines() {
		if strings.Contains(l.raw, "panic") {
			t.Errorf("server logged a panic: %s", l.raw)
		}
	}
}

// snapshotLines copies the log lines seen so far.
func (s *server) snapshotLines() []logLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]logLine(nil), s.lines...)
}

// A TCP client that sends queries and never reads its answers must not
// hold the server: writes time out, and SIGTERM still ends the process
// within its grace period (the cleanup fails the test otherwise).
func TestTCPClientThatNeverReads(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-zone", exampleZone(), "-listen", "127.0.0.1:0")
	c, err := net.Dial("tcp", s.addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := new(dns.Msg).SetQuestion("lb.example.test.", dns.TypeMX)
	wire, _ := q.Pack()
	frame := binary.BigEndian.AppendUint16(nil, uint16(len(wire)))
	frame = append(frame, wire...)
	batch := make([]byte, 0, len(frame)*1000)
	for range 1000 {
		batch = append(batch, frame...)
	}
	// Write until the server stops reading (its answers fill both socket
	// buffers), bounded in time and volume.
	_ = c.SetWriteDeadline(time.Now().Add(3 * time.Second))
	sent := 0
	for sent < 64<<20 {
		n, err := c.Write(batch)
		sent += n
		if err != nil {
			break
		}
	}
	t.Logf("wrote %d bytes of queries without reading", sent)
	// Others are still served meanwhile.
	if resp := exchange(t, "tcp", s.addrs[0], q); resp.Rcode != dns.RcodeSuccess {
		t.Errorf("another TCP client got %s", dns.RcodeToString[resp.Rcode])
	}
	start := time.Now()
	if code, stopped := s.stop(); !stopped || code != 0 {
		t.Fatalf("SIGTERM: exit code %d, stopped by itself: %v", code, stopped)
	}
	t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
}
