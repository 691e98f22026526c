package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// probes is what the fresh clients (from 127.0.0.1, as a real resolver
// would come) saw during an attack.
type probes struct {
	mu             sync.Mutex
	sent, answered int
	latency        []time.Duration // of the answered ones
}

func (p *probes) add(ok bool, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent++
	if ok {
		p.answered++
		p.latency = append(p.latency, d)
	}
}

func (p *probes) ratio() string {
	if p.sent == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", p.answered, p.sent)
}

// medianMax formats the median and worst latency in milliseconds.
func (p *probes) medianMax() string {
	if len(p.latency) == 0 {
		return "-"
	}
	l := slices.Clone(p.latency)
	slices.Sort(l)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return fmt.Sprintf("%.1f/%.1f", ms(l[len(l)/2]), ms(l[len(l)-1]))
}

// tcpProbe asks one question on a fresh TCP connection and tells whether a
// NOERROR answer came back within timeout, and how long it took, connect
// included (a server that stops accepting shows up there first).
func tcpProbe(server, name string, timeout time.Duration) (bool, time.Duration) {
	start := time.Now()
	deadline := start.Add(timeout)
	c, err := (&net.Dialer{Deadline: deadline}).Dial("tcp", server)
	if err != nil {
		return false, time.Since(start)
	}
	defer c.Close()
	c.SetDeadline(deadline)
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	co := &dns.Conn{Conn: c}
	if err := co.WriteMsg(m); err != nil {
		return false, time.Since(start)
	}
	r, err := co.ReadMsg()
	ok := err == nil && r.Id == m.Id && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0
	return ok, time.Since(start)
}

// adminProbe fetches /status on a fresh connection.
func adminProbe(admin string, timeout time.Duration) (bool, time.Duration) {
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := c.Get("http://" + admin + "/status")
	if err != nil {
		return false, time.Since(start)
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err == nil && resp.StatusCode == http.StatusOK, time.Since(start)
}

// every starts f n times, spaced evenly over span, each in its own
// goroutine (a probe that waits for its timeout does not delay the next),
// and returns when all have returned. It starts no more once ctx ends.
func every(ctx context.Context, n int, span time.Duration, f func()) {
	if n <= 0 {
		return
	}
	var wg sync.WaitGroup
	gap := span / time.Duration(n)
	for i := 0; i < n; i++ {
		if i > 0 {
			pause(ctx, gap)
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	wg.Wait()
}

// source is the local address of attacking connection i: spread over
// many /24s of 127.0.0.0/8 (127.20.0.0 upwards, away from 127.0.0.1, the
// probes' address), so limits per client prefix see many clients.
func source(i, prefixes int) *net.TCPAddr {
	p := i % prefixes
	h := 1 + (i/prefixes)%254
	return &net.TCPAddr{IP: net.IPv4(127, byte(20+p/256), byte(p%256), byte(h))}
}
