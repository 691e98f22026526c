package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// holdStats counts what the attacking connections managed.
type holdStats struct {
	open      atomic.Int64 // connections open now
	peakOpen  atomic.Int64
	connects  atomic.Int64 // successful connects, reconnects included
	failures  atomic.Int64 // connects refused or timed out
	serverEnd atomic.Int64 // connections the server closed
}

func (s *holdStats) opened() {
	s.connects.Add(1)
	n := s.open.Add(1)
	for p := s.peakOpen.Load(); n > p && !s.peakOpen.CompareAndSwap(p, n); p = s.peakOpen.Load() {
	}
}

// session works one open connection until the server closes it (return
// true) or ctx ends.
type session func(ctx context.Context, c net.Conn) (closedByServer bool)

// hold keeps n connections to addr open from spread sources, each
// reconnecting when closed, until ctx ends. Connections are opened at
// most ramp per second so the attack does not just overflow the listen
// queue. It returns once every connection is closed.
func hold(ctx context.Context, addr string, n, prefixes, ramp int, st *holdStats, work session) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		if i > 0 && i%ramp == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{LocalAddr: source(i, prefixes), Timeout: 3 * time.Second}
			for ctx.Err() == nil {
				c, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					if ctx.Err() == nil {
						st.failures.Add(1)
					}
					pause(ctx, 200*time.Millisecond+rand.N(800*time.Millisecond))
					continue
				}
				st.opened()
				stop := context.AfterFunc(ctx, func() { c.Close() })
				if work(ctx, c) && ctx.Err() == nil {
					st.serverEnd.Add(1)
				}
				stop()
				c.Close()
				st.open.Add(-1)
				// A server that closes at once must not turn the
				// attack into a connect flood.
				pause(ctx, 50*time.Millisecond+rand.N(200*time.Millisecond))
			}
		}()
	}
	wg.Wait()
}

func pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// waitClosed reads until the server closes c, for at most d; it tells
// whether it did. Anything the server sends is read and dropped.
func waitClosed(c net.Conn, d time.Duration) (closed bool) {
	buf := make([]byte, 512)
	deadline := time.Now().Add(d)
	c.SetReadDeadline(deadline)
	for {
		if _, err := c.Read(buf); err != nil {
			return !errors.Is(err, os.ErrDeadlineExceeded)
		}
	}
}

// zeroFrames sends a zero-length DNS message (two zero bytes) every
// interval: no query, but traffic that an idle timer reset by any frame
// counts as activity.
func zeroFrames(interval time.Duration) session {
	return func(ctx context.Context, c net.Conn) bool {
		for ctx.Err() == nil {
			if _, err := c.Write([]byte{0, 0}); err != nil {
				return true
			}
			if waitClosed(c, interval) {
				return true
			}
		}
		return false
	}
}

// idle connects and sends nothing.
func idle(ctx context.Context, c net.Conn) bool {
	for ctx.Err() == nil {
		if waitClosed(c, time.Minute) {
			return true
		}
	}
	return false
}

// slowWriter dribbles a real query, one byte per interval, reads the
// answer, and starts over.
func slowWriter(name string, interval time.Duration) session {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	wire, _ := m.Pack()
	frame := append([]byte{byte(len(wire) >> 8), byte(len(wire))}, wire...)
	return func(ctx context.Context, c net.Conn) bool {
		for ctx.Err() == nil {
			for _, b := range frame {
				if _, err := c.Write([]byte{b}); err != nil {
					return true
				}
				if waitClosed(c, interval) {
					return true
				}
				if ctx.Err() != nil {
					return false
				}
			}
			// The answer; a server that never answers is caught by
			// the next write or read.
			if waitClosed(c, 100*time.Millisecond) {
				return true
			}
		}
		return false
	}
}

// keepAlive sends one HTTP/1.1 request to the admin API, reads the
// answer, and keeps the connection open and idle, as a keep-alive client
// between requests does.
func keepAlive(admin string) session {
	return func(ctx context.Context, c net.Conn) bool {
		req, _ := http.NewRequest(http.MethodGet, "http://"+admin+"/status", nil)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := req.Write(c); err != nil {
			return true
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return true
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return true
		}
		c.SetDeadline(time.Time{})
		return idle(ctx, c)
	}
}
