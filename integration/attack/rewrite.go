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
	byRename                      bool // write each version whole and rename it into place
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

// writeByRename writes the new version beside path, in the same chunks,
// and renames it into place: what the README recommends, the control
// experiment (a reader sees the old file or the new one, whole).
func writeByRename(path string, data []byte, chunks int, gap time.Duration) error {
	tmp := path + ".new"
	if err := os.WriteFile(tmp, nil, 0o644); err != nil {
		return err
	}
	if err := writeInChunks(tmp, data, chunks, gap); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// seen is what the observer made of the served versions.
type seen struct {
	mu        sync.Mutex
	complete  map[int]int // serial -> answers with every marker
	partial   map[int]int // serial -> answers with markers missing or cut
	mixed     int         // answers with markers of several versions
	malformed int         // answers that could not be parsed
	failed    int         // queries that got no answer
}

// observe asks for the markers. One answer comes from one version of the
// zone, so it is judged alone: the markers name their serial, and a
// negative answer (a cut before the first marker) carries the zone's SOA.
// A server with several processes (NSD while it reloads) may answer two
// queries from two versions; asking once avoids mixing them up.
func (s *seen) observe(addr, origin string, markers int, timeout time.Duration) {
	m := new(dns.Msg)
	m.SetQuestion("marker."+origin, dns.TypeTXT)
	m.SetEdns0(1232, false)
	c := &dns.Client{Timeout: timeout}
	r, _, err := c.Exchange(m, addr)
	if err == nil && r.Truncated {
		r, _, err = (&dns.Client{Net: "tcp", Timeout: timeout}).Exchange(m, addr)
	}
	var nerr net.Error
	switch {
	case errors.As(err, &nerr) && nerr.Timeout():
		s.count(func() { s.failed++ })
		return
	case err != nil: // "dns: overflow unpacking", a record cut short
		s.count(func() { s.malformed++ })
		return
	}
	serial, got, whole := judge(r, markers)
	s.count(func() {
		switch {
		case serial < 0:
			s.mixed++
		case serial == 0:
			s.failed++ // no marker and no SOA: SERVFAIL, REFUSED
		case whole && got == markers:
			s.complete[serial]++
		default:
			s.partial[serial]++
		}
	})
}

// judge returns the serial of the version an answer came from (-1 for
// markers of several, 0 for none known), how many of its markers it holds,
// and whether it held nothing else.
func judge(r *dns.Msg, markers int) (serial, got int, whole bool) {
	whole = r.Rcode == dns.RcodeSuccess
	seen := map[string]bool{}
	for _, rr := range r.Answer {
		t, ok := rr.(*dns.TXT)
		var sv, i, n int
		if !ok || len(t.Txt) != 1 || seen[t.Txt[0]] {
			whole = false
			continue
		}
		if _, err := fmt.Sscanf(t.Txt[0], "serial=%d marker=%d/%d", &sv, &i, &n); err != nil ||
			t.Txt[0] != markerText(sv, i, n) || n != markers || i < 1 || i > n {
			whole = false // cut mid-record
			continue
		}
		seen[t.Txt[0]] = true
		if serial != 0 && serial != sv {
			return -1, 0, false
		}
		serial = sv
		got++
	}
	if serial == 0 {
		for _, rr := range r.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				return int(soa.Serial), 0, false
			}
		}
	}
	return serial, got, whole
}

func (s *seen) count(f func()) {
	s.mu.Lock()
	f()
	s.mu.Unlock()
}

// rewriteResult sums up one rewrite attack.
type rewriteResult struct {
	versions, partial, complete int
	mixed, malformed, failed    int
	final                       bool // the last version was served whole in the end
	err                         error
}

func (r rewriteResult) String() string {
	final := "last version served"
	if !r.final {
		final = "LAST VERSION NOT SERVED"
	}
	return fmt.Sprintf("%d versions: %d served whole, %d partial; answers: %d malformed, %d mixed, %d failed; %s",
		r.versions, r.complete, r.partial, r.malformed, r.mixed, r.failed, final)
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
		write := writeInChunks
		if cfg.byRename {
			write = writeByRename
		}
		if err := write(cfg.file, zoneText(cfg.origin, v, cfg.markers, cfg.filler), cfg.chunks, cfg.chunkPause); err != nil {
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
	res.mixed, res.malformed, res.failed = obs.mixed, obs.malformed, obs.failed
	return res
}
