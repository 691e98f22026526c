package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// The rewrite attack: the zone file is rewritten in place, in chunks, with
// pauses between them, while the server is told to reload over and over;
// a reader of the file mid-rewrite sees a cut version. Each version has a
// serial of its own and markers TXT records spread through the file, the
// last one on its last line, so any cut loses at least one: a served serial
// with fewer markers, or markers of another serial, is a partial version
// that was applied.

const baseSerial = 2026120100

type rewriteConfig struct {
	file, origin                  string
	versions, chunks              int
	markers, filler               int
	chunkPause, versionHold       time.Duration
	reloadEvery                   time.Duration
	serverPID                     int
	dnsAddr                       string
	observeEvery, observeDeadline time.Duration
}

// zoneText is version v of the rewritten zone.
func zoneText(origin string, v, markers, filler int) []byte {
	serial := baseSerial + v
	var b bytes.Buffer
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL 300\n@ IN SOA ns1 hostmaster %d 3600 900 1209600 60\n@ IN NS ns1\nns1 IN A 192.0.2.53\n", origin, serial)
	next := 0
	for i := 1; i <= filler; i++ {
		fmt.Fprintf(&b, "f%05d IN A 10.%d.%d.%d\n", i, v%256, i/256%256, i%256)
		for next < markers && (next+1)*filler/markers == i {
			next++
			fmt.Fprintf(&b, "marker IN TXT %q\n", markerText(serial, next, markers))
		}
	}
	return b.Bytes()
}

func markerText(serial, i, n int) string {
	return fmt.Sprintf("serial=%d marker=%03d/%03d", serial, i, n)
}

// writeInChunks rewrites path in place (same inode, truncated first), in
// chunks cut alternately anywhere and at a line's end, pausing between.
func writeInChunks(path string, data []byte, chunks int, gap time.Duration) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	from := 0
	for j := 1; j <= chunks; j++ {
		to := len(data) * j / chunks
		if j%2 == 1 && j < chunks {
			if nl := bytes.IndexByte(data[to:], '\n'); nl >= 0 {
				to += nl + 1
			}
		}
		to = max(to, from)
		if _, err := f.Write(data[from:to]); err != nil {
			return err
		}
		from = to
		if j < chunks {
			time.Sleep(gap)
		}
	}
	return nil
}

// seen is what the observer made of the served versions.
type seen struct {
	mu       sync.Mutex
	complete map[int]int // serial -> observations with every marker
	partial  map[int]int // serial -> observations with markers missing or foreign
	torn     int         // observations during which the serial changed
	failed   int         // observations that got no answer
}

// observe asks for the SOA, the markers and the SOA again; if the serial
// held still in between, the markers tell whether its version is whole.
func (s *seen) observe(addr, origin string, markers int, timeout time.Duration) {
	c := &dns.Client{Timeout: timeout}
	serialOf := func() (int, bool) {
		m := new(dns.Msg)
		m.SetQuestion(origin, dns.TypeSOA)
		r, _, err := c.Exchange(m, addr)
		if err != nil || len(r.Answer) == 0 {
			return 0, false
		}
		soa, ok := r.Answer[0].(*dns.SOA)
		return int(soa.Serial), ok
	}
	s1, ok := serialOf()
	if !ok {
		s.count(func() { s.failed++ })
		return
	}
	m := new(dns.Msg)
	m.SetQuestion("marker."+origin, dns.TypeTXT)
	m.SetEdns0(1232, false)
	r, _, err := c.Exchange(m, addr)
	if err == nil && r.Truncated {
		r, _, err = (&dns.Client{Net: "tcp", Timeout: timeout}).Exchange(m, addr)
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		s.count(func() { s.failed++ })
		return
	}
	s2, ok := serialOf()
	if !ok || s1 != s2 {
		s.count(func() { s.torn++ })
		return
	}
	whole := err == nil && r.Rcode == dns.RcodeSuccess
	if whole {
		want := map[string]bool{}
		for i := 1; i <= markers; i++ {
			want[markerText(s1, i, markers)] = true
		}
		got := 0
		for _, rr := range r.Answer {
			if t, ok := rr.(*dns.TXT); ok && len(t.Txt) == 1 && want[t.Txt[0]] {
				got++
				delete(want, t.Txt[0])
				continue
			}
			whole = false // a record of another version, or a cut one
		}
		whole = whole && got == markers
	}
	s.count(func() {
		if whole {
			s.complete[s1]++
		} else {
			s.partial[s1]++
		}
	})
}

func (s *seen) count(f func()) {
	s.mu.Lock()
	f()
	s.mu.Unlock()
}

// rewriteResult sums up one rewrite attack.
type rewriteResult struct {
	versions, partial, complete int
	torn, failed                int
	final                       bool // the last version was served whole in the end
	err                         error
}

func (r rewriteResult) String() string {
	final := "last version served"
	if !r.final {
		final = "LAST VERSION NOT SERVED"
	}
	return fmt.Sprintf("%d versions: %d served whole, %d partial; %d torn and %d failed observations; %s",
		r.versions, r.complete, r.partial, r.torn, r.failed, final)
}

func rewrite(ctx context.Context, cfg rewriteConfig) rewriteResult {
	res := rewriteResult{versions: cfg.versions}
	obs := &seen{complete: map[int]int{}, partial: map[int]int{}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the reloads
		defer wg.Done()
		t := time.NewTicker(cfg.reloadEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				syscall.Kill(cfg.serverPID, syscall.SIGHUP)
			}
		}
	}()
	go func() { // the observer
		defer wg.Done()
		for ctx.Err() == nil {
			obs.observe(cfg.dnsAddr, cfg.origin, cfg.markers, cfg.observeDeadline)
			pause(ctx, cfg.observeEvery)
		}
	}()

	for v := 1; v <= cfg.versions && ctx.Err() == nil; v++ {
		if err := writeInChunks(cfg.file, zoneText(cfg.origin, v, cfg.markers, cfg.filler), cfg.chunks, cfg.chunkPause); err != nil {
			res.err = err
			break
		}
		pause(ctx, cfg.versionHold)
	}
	cancel()
	wg.Wait()

	// The file is whole now: one more reload must bring the last version.
	last := baseSerial + cfg.versions
	syscall.Kill(cfg.serverPID, syscall.SIGHUP)
	final := &seen{complete: map[int]int{}, partial: map[int]int{}}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		final.observe(cfg.dnsAddr, cfg.origin, cfg.markers, cfg.observeDeadline)
		if final.complete[last] > 0 {
			res.final = true
			break
		}
	}
	for v := 1; v <= cfg.versions; v++ {
		if obs.partial[baseSerial+v] > 0 || final.partial[baseSerial+v] > 0 {
			res.partial++
		}
		if obs.complete[baseSerial+v] > 0 || final.complete[baseSerial+v] > 0 {
			res.complete++
		}
	}
	for serial := range obs.partial {
		if serial <= baseSerial || serial > last {
			res.partial++ // a serial that was never written: a cut SOA
		}
	}
	res.torn, res.failed = obs.torn, obs.failed
	return res
}
