// Command soak runs dnsrr for a long while under everything at once and
// checks every answer: a steady query load over UDP and TCP (with DNS
// cookies on some queries, RRL on), HTTP and TCP backends that stop and
// start at random, SIGHUP reloads alternating a good zone and a broken one,
// drains and undrains through the admin API, and the status views polled.
// Each minute it prints the server's RSS, threads and open files and the
// counts so far; at the end a summary, and it exits 1 if anything was wrong
// (a wrong answer, a panic, a stuck or wrongly applied reload, growth).
//
// Run it through integration/perf/soak.sh, which builds both binaries.
// Everything it starts listens on loopback, and it stops all of it.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

var (
	binary   = flag.String("dnsrr", "", "dnsrr binary to run")
	duration = flag.Duration("d", 30*time.Second, "how long to run the load")
	qps      = flag.Int("qps", 2000, "queries a second, over all clients (at most 20000)")
	every    = flag.Duration("report", time.Minute, "how often to print a line of figures")
	workDir  = flag.String("work", "", "directory for the config, zones and log (default: a temporary one)")
	rrlRate  = flag.Int("rrl", 5000, "[rrl] responses_per_second; below the load's rate per name, UDP queries without a server cookie are limited")
)

// Timing of the health checks, and how long after a backend stops its
// address may still be served: fall probes at interval, each up to
// timeout, plus slack for a loaded machine.
const (
	checkInterval = time.Second
	checkTimeout  = 500 * time.Millisecond
	checkFall     = 2
	downSlack     = 4 * time.Second
	downGrace     = checkFall*checkInterval + checkTimeout + downSlack
)

func main() {
	flag.Parse()
	if *binary == "" || *qps < 1 || *qps > 20000 || *duration <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// backend is one address that serves HTTP or accepts TCP, stopped and
// started by the flapper. down is when it last stopped, zero while up.
type backend struct {
	addr   netip.Addr
	port   int
	http   bool
	stable bool // never stopped nor drained: the pool always has a member

	mu      sync.Mutex
	ln      net.Listener
	srv     *http.Server
	down    time.Time // when stopped; zero while listening
	drained time.Time // when a drain was acknowledged; zero when not drained
}

func (b *backend) start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", netip.AddrPortFrom(b.addr, uint16(b.port)).String())
	if err != nil {
		return err
	}
	b.ln = ln
	if b.http {
		b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok\n")
		}), ReadHeaderTimeout: 5 * time.Second}
		go b.srv.Serve(ln)
	} else {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	b.down = time.Time{}
	return nil
}

func (b *backend) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ln == nil {
		return
	}
	if b.srv != nil {
		b.srv.Close()
		b.srv = nil
	} else {
		b.ln.Close()
	}
	b.ln = nil
	b.down = time.Now()
}

// mustNotServe reports why b must not be in an answer to a query sent at
// t, or "".
func (b *backend) mustNotServe(t time.Time) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.drained.IsZero() && t.After(b.drained) {
		return fmt.Sprintf("drained %v before the query", t.Sub(b.drained).Round(time.Millisecond))
	}
	if !b.down.IsZero() && t.Sub(b.down) > downGrace {
		return fmt.Sprintf("down %v before the query", t.Sub(b.down).Round(time.Millisecond))
	}
	return ""
}

// pool is what the driver knows of one pool: every address it may ever
// hold, and the backends whose state constrains answers. Every pool with
// checks has a stable member: a drained member is served when no other is
// up (README: a drain never leaves only dead servers in the answer), and
// the stable one keeps that from happening, so that a drained member in an
// answer is always wrong.
type pool struct {
	qname   string
	qtype   uint16
	members map[netip.Addr]*backend // nil value: no check
	// emptyOK: an answer may be empty (on_all_down = "none").
	emptyOK bool
	// ttls are the TTLs an answer may carry: the pool's, and its
	// ttl_degraded while a member is down or drained.
	ttls []uint32
}

type counters struct {
	sent, answered, lost, servfail, wrong, truncated, badcookie, refused atomic.Int64
	// lostExempt: lost although RRL may not touch it (TCP, or UDP with a
	// server cookie).
	lostExempt                                                atomic.Int64
	udp, tcp, cookies                                         atomic.Int64
	reloadsGood, reloadsBad, reloadsWrong                     atomic.Int64
	drains, undrains, adminErrors, pageFetches, statusFetches atomic.Int64
}

type sample struct {
	at                  time.Duration
	rssKB, threads, fds int64
}

func run(ctx context.Context) (bool, error) {
	dir := *workDir
	if dir == "" {
		d, err := os.MkdirTemp("", "dnsrr-soak.")
		if err != nil {
			return false, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	var c counters
	failures := &failureLog{}

	// Backends: HTTP on 127.0.0.11-.14, TCP on 127.0.0.21-.23, a web
	// server that answers 503 with escape sequences in its reason phrase
	// on 127.0.0.30. The first of each kind never stops.
	httpPort, err := freePort()
	if err != nil {
		return false, err
	}
	tcpPort, err := freePort()
	if err != nil {
		return false, err
	}
	var backends []*backend
	byAddr := map[netip.Addr]*backend{}
	add := func(a string, port int, isHTTP, stable bool) *backend {
		b := &backend{addr: netip.MustParseAddr(a), port: port, http: isHTTP, stable: stable}
		backends = append(backends, b)
		byAddr[b.addr] = b
		return b
	}
	for i, a := range []string{"127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14"} {
		add(a, httpPort, true, i == 0)
	}
	for i, a := range []string{"127.0.0.21", "127.0.0.22", "127.0.0.23"} {
		add(a, tcpPort, false, i == 0)
	}
	for _, b := range backends {
		if err := b.start(); err != nil {
			return false, fmt.Errorf("backend %s: %w", b.addr, err)
		}
	}
	defer func() {
		for _, b := range backends {
			b.stop()
		}
	}()
	evil, err := net.Listen("tcp", fmt.Sprintf("127.0.0.30:%d", httpPort))
	if err != nil {
		return false, err
	}
	defer evil.Close()
	go serveEvil(evil)

	pools := []*pool{
		{qname: "web.soak.test.", qtype: dns.TypeA, emptyOK: true, ttls: []uint32{30, 5}},
		{qname: "sticky.soak.test.", qtype: dns.TypeA, emptyOK: true, ttls: []uint32{30}},
		{qname: "tcp.soak.test.", qtype: dns.TypeA, emptyOK: true, ttls: []uint32{300}},
		{qname: "static.soak.test.", qtype: dns.TypeA, ttls: []uint32{60}},
		{qname: "api.m.test.", qtype: dns.TypeA, emptyOK: true, ttls: []uint32{30, 5}},
		{qname: "evil.soak.test.", qtype: dns.TypeA, emptyOK: true, ttls: []uint32{300}},
	}
	webAddrs := []string{"127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14"}
	set := func(p *pool, addrs []string, checked bool) {
		if p.members == nil {
			p.members = map[netip.Addr]*backend{}
		}
		for _, a := range addrs {
			ip := netip.MustParseAddr(a)
			if checked {
				p.members[ip] = byAddr[ip]
			} else {
				p.members[ip] = nil
			}
		}
	}
	set(pools[0], webAddrs, true)
	set(pools[1], webAddrs, true)
	set(pools[2], []string{"127.0.0.21", "127.0.0.22", "127.0.0.23"}, true)
	// static changes between zone versions: 10.0.0.1-3, then -4.
	set(pools[3], []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}, false)
	set(pools[4], webAddrs, true)
	evilAddr := netip.MustParseAddr("127.0.0.30")
	stable := byAddr[netip.MustParseAddr(webAddrs[0])]
	pools[5].members = map[netip.Addr]*backend{stable.addr: stable, evilAddr: {addr: evilAddr, down: time.Now().Add(-time.Hour)}}

	cookieSecret := make([]byte, 16)
	rand.Read(cookieSecret)
	writeFile := func(name, body string) error {
		return os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600)
	}
	if err := writeFile("cookie.secret", hex.EncodeToString(cookieSecret)+"\n"); err != nil {
		return false, err
	}
	if err := writeFile("dnsrr.toml", configFile(httpPort)); err != nil {
		return false, err
	}
	serial := 1
	if err := writeFile("soak.test.toml", tomlZone(serial, httpPort, tcpPort, false)); err != nil {
		return false, err
	}
	if err := writeFile("m.test.zone", masterZone(serial, false)); err != nil {
		return false, err
	}

	// Start dnsrr; its log is read for the addresses, reload outcomes and
	// anything alarming.
	logFile, err := os.Create(filepath.Join(dir, "dnsrr.log"))
	if err != nil {
		return false, err
	}
	defer logFile.Close()
	cmd := exec.Command(*binary, "serve", "-config", filepath.Join(dir, "dnsrr.toml"), "-log-format", "json")
	cmd.Env = append(os.Environ(), "GOMAXPROCS=2")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return false, err
	}
	if err := cmd.Start(); err != nil {
		return false, err
	}
	exited := make(chan error, 1)
	events := make(chan logEvent, 1024)
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		readLog(stderr, logFile, events, failures)
	}()
	go func() { <-logDone; exited <- cmd.Wait() }()
	pid := cmd.Process.Pid
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			<-exited
		}
	}()

	var dnsAddr, adminAddr, statusAddr string
	deadline := time.After(60 * time.Second)
	for dnsAddr == "" {
		select {
		case ev := <-events:
			switch ev.Msg {
			case "serving":
				if len(ev.Addrs) > 0 {
					dnsAddr = ev.Addrs[0]
				}
			case "admin API listening":
				if ev.ReadOnly {
					statusAddr = ev.Addr
				} else {
					adminAddr = ev.Addr
				}
			}
		case err := <-exited:
			return false, fmt.Errorf("dnsrr exited at startup: %v (log: %s)", err, logFile.Name())
		case <-deadline:
			return false, fmt.Errorf("dnsrr not serving after 60 s (log: %s)", logFile.Name())
		}
	}
	if adminAddr == "" || statusAddr == "" {
		return false, fmt.Errorf("no admin or status address in the log (%q, %q)", adminAddr, statusAddr)
	}
	fmt.Printf("# dnsrr pid %d on %s, admin %s, status %s; %v at %d qps; work %s\n", pid, dnsAddr, adminAddr, statusAddr, *duration, *qps, dir)

	begin := time.Now()
	loadCtx, endLoad := context.WithTimeout(ctx, *duration)
	defer endLoad()
	var wg sync.WaitGroup
	goLoop := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}

	// The query load: 8 UDP clients and 2 TCP ones, each paced.
	const udpClients, tcpClients = 8, 2
	perClient := time.Duration(float64(time.Second) * (udpClients + tcpClients) / float64(*qps))
	for i := range udpClients + tcpClients {
		isTCP := i >= udpClients
		withCookies := i%4 == 1
		goLoop(func() { queryLoop(loadCtx, dnsAddr, isTCP, withCookies, perClient, pools, &c, failures) })
	}

	// Backends flap: every 1-4 s one non-stable backend changes state.
	goLoop(func() {
		for sleep(loadCtx, time.Duration(1000+mrand.IntN(3000))*time.Millisecond) {
			b := backends[mrand.IntN(len(backends))]
			if b.stable {
				continue
			}
			b.mu.Lock()
			up := b.ln != nil
			b.mu.Unlock()
			if up {
				b.stop()
			} else if err := b.start(); err != nil {
				failures.add("restart backend %s: %v", b.addr, err)
			}
		}
	})

	// Drains: every 2-5 s one flapping member is drained (sometimes for
	// a while) or undrained.
	admin := &http.Client{Timeout: 30 * time.Second}
	goLoop(func() {
		for sleep(loadCtx, time.Duration(2000+mrand.IntN(3000))*time.Millisecond) {
			b := backends[mrand.IntN(len(backends))]
			if b.stable {
				continue
			}
			b.mu.Lock()
			drained := !b.drained.IsZero()
			b.mu.Unlock()
			method, q := http.MethodPost, "address="+b.addr.String()
			if drained {
				method = http.MethodDelete
				// Undrained from the request on: it may be served as
				// soon as the server acts on it.
				b.mu.Lock()
				b.drained = time.Time{}
				b.mu.Unlock()
			} else if mrand.IntN(3) == 0 {
				q += "&for=1h"
			}
			req, _ := http.NewRequestWithContext(loadCtx, method, "http://"+adminAddr+"/drain?"+q, nil)
			resp, err := admin.Do(req)
			if err != nil {
				if loadCtx.Err() == nil {
					c.adminErrors.Add(1)
					failures.add("%s /drain?%s: %v", method, q, err)
				}
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				c.adminErrors.Add(1)
				failures.add("%s /drain?%s: %s", method, q, resp.Status)
				continue
			}
			if drained {
				c.undrains.Add(1)
			} else {
				c.drains.Add(1)
				b.mu.Lock()
				b.drained = time.Now()
				b.mu.Unlock()
			}
		}
	})

	// The views: /status (a page at a time), the status page and the
	// health endpoints, on both listeners, twice a second.
	goLoop(func() {
		paths := []string{"/status?limit=2", "/", "/?limit=1&refresh=0", "/healthz", "/readyz", "/status?pool=web.soak.test."}
		for i := 0; sleep(loadCtx, 500*time.Millisecond); i++ {
			host := adminAddr
			if i%2 == 1 {
				host = statusAddr
			}
			path := paths[i%len(paths)]
			resp, err := admin.Get("http://" + host + path)
			if err != nil {
				if loadCtx.Err() == nil {
					c.adminErrors.Add(1)
					failures.add("GET %s%s: %v", host, path, err)
				}
				continue
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				c.adminErrors.Add(1)
				failures.add("GET %s%s: %s", host, path, resp.Status)
				continue
			}
			if strings.HasPrefix(path, "/status") {
				c.statusFetches.Add(1)
				var v map[string]any
				if err := json.Unmarshal(body, &v); err != nil {
					failures.add("GET %s%s: not JSON: %v", host, path, err)
				}
			} else if strings.HasPrefix(path, "/?") || path == "/" {
				c.pageFetches.Add(1)
				if strings.Contains(string(body), "\x1b") || strings.Contains(string(body), "<script") {
					failures.add("GET %s%s: the page holds an escape or a script", host, path)
				}
			}
		}
	})

	// Reloads: every 2-4 s, alternately a good version (new serial, the
	// static pool changes) and a broken one (a zone with an unknown key, a
	// master file with a bad address, a config with an unknown key, a zone
	// file gone), which must be rejected with the old serials kept.
	reloadOutcome := make(chan logEvent, 16)
	goLoop(func() {
		for {
			select {
			case <-loadCtx.Done():
				return
			case ev := <-events:
				switch ev.Msg {
				case "reload applied", "reload failed, keeping old zones":
					select {
					case reloadOutcome <- ev:
					default:
						failures.add("a reload outcome nobody asked for: %s", ev.Msg)
					}
				}
			}
		}
	})
	goLoop(func() {
		for i := 0; sleep(loadCtx, time.Duration(2000+mrand.IntN(2000))*time.Millisecond); i++ {
			broken := i%2 == 1
			var err error
			if broken {
				// Each broken in its own way; the other files stay good.
				switch i % 8 {
				case 1:
					err = writeFile("soak.test.toml", tomlZone(serial+1, httpPort, tcpPort, true))
				case 3:
					err = writeFile("m.test.zone", masterZone(serial+1, true))
				case 5:
					err = writeFile("dnsrr.toml", configFile(httpPort)+"\nreload_timout = \"1m\"\n")
				default:
					err = os.Remove(filepath.Join(dir, "m.test.zone"))
				}
			} else {
				// Rotate the cookie secret: the old one stays accepted.
				next := make([]byte, 16)
				rand.Read(next)
				secrets := hex.EncodeToString(next) + "\n" + hex.EncodeToString(cookieSecret) + "\n"
				cookieSecret = next
				if err = writeFile("cookie.secret", secrets); err != nil {
					failures.add("write cookie secret: %v", err)
					return
				}
				serial++
				if err = writeFile("soak.test.toml", tomlZone(serial, httpPort, tcpPort, false)); err == nil {
					err = writeFile("m.test.zone", masterZone(serial, false))
				}
			}
			if err != nil {
				failures.add("write zone: %v", err)
				return
			}
			syscall.Kill(pid, syscall.SIGHUP)
			select {
			case ev := <-reloadOutcome:
				applied := ev.Msg == "reload applied"
				if applied == broken {
					c.reloadsWrong.Add(1)
					failures.add("reload %d (broken %v): %s", i, broken, ev.Msg)
				} else if broken {
					c.reloadsBad.Add(1)
				} else {
					c.reloadsGood.Add(1)
				}
			case <-time.After(60 * time.Second):
				c.reloadsWrong.Add(1)
				failures.add("reload %d: no outcome in the log after 60 s (stuck?)", i)
				return
			case <-loadCtx.Done():
				return
			}
			// The served serials are those of the last good version.
			for _, zone := range []string{"soak.test.", "m.test."} {
				got, err := soaSerial(dnsAddr, zone)
				if err != nil {
					failures.add("SOA %s after reload %d: %v", zone, i, err)
				} else if got != uint32(serial) {
					c.reloadsWrong.Add(1)
					failures.add("SOA %s after reload %d (broken %v): serial %d, want %d", zone, i, broken, got, serial)
				}
			}
			if broken {
				// Put the good files back for the next round.
				writeFile("dnsrr.toml", configFile(httpPort))
				writeFile("soak.test.toml", tomlZone(serial, httpPort, tcpPort, false))
				writeFile("m.test.zone", masterZone(serial, false))
			}
		}
	})

	// Figures every minute, from /proc.
	var samples []sample
	take := func() {
		s := sample{at: time.Since(begin).Round(time.Second)}
		s.rssKB, s.threads = procStatus(pid)
		s.fds = countFDs(pid)
		samples = append(samples, s)
		fmt.Printf("%6v  rss %6d KB  threads %3d  fds %4d  | sent %d answered %d lost %d servfail %d wrong %d tc %d | reloads ok %d rejected %d wrong %d | drains %d/%d | pages %d status %d admin errors %d\n",
			s.at, s.rssKB, s.threads, s.fds, c.sent.Load(), c.answered.Load(), c.lost.Load(), c.servfail.Load(), c.wrong.Load(), c.truncated.Load(),
			c.reloadsGood.Load(), c.reloadsBad.Load(), c.reloadsWrong.Load(), c.drains.Load(), c.undrains.Load(), c.pageFetches.Load(), c.statusFetches.Load(), c.adminErrors.Load())
	}
	take()
	tick := time.NewTicker(*every)
wait:
	for {
		select {
		case <-tick.C:
			take()
		case <-loadCtx.Done():
			break wait
		case err := <-exited:
			failures.add("dnsrr exited during the soak: %v", err)
			killed = true
			break wait
		}
	}
	tick.Stop()
	endLoad()
	wg.Wait()
	if !killed {
		take()
	}

	// Stop: SIGTERM must end it, cleanly, in bounded time.
	if !killed {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				failures.add("dnsrr exit after SIGTERM: %v", err)
			}
		case <-time.After(30 * time.Second):
			failures.add("dnsrr still running 30 s after SIGTERM")
			cmd.Process.Kill()
			<-exited
		}
		killed = true
	}

	// Drains were saved atomically: nothing but the files written here
	// and the state file may be left in the directory.
	if es, err := os.ReadDir(dir); err == nil {
		for _, e := range es {
			switch e.Name() {
			case "dnsrr.toml", "soak.test.toml", "m.test.zone", "cookie.secret", "dnsrr.log", "drains.json":
			default:
				failures.add("a file left in the work directory: %s", e.Name())
			}
		}
	}

	first, last := samples[0], samples[len(samples)-1]
	fmt.Printf("\nsummary over %v at %d qps (UDP %d, TCP %d, with cookies %d):\n", time.Since(begin).Round(time.Second), *qps, c.udp.Load(), c.tcp.Load(), c.cookies.Load())
	fmt.Printf("  queries sent %d, answered %d, lost %d (%.4f %%; over TCP or with a server cookie %d), SERVFAIL %d, wrong %d, TC %d, BADCOOKIE %d\n",
		c.sent.Load(), c.answered.Load(), c.lost.Load(), 100*float64(c.lost.Load())/float64(max(1, c.sent.Load())), c.lostExempt.Load(), c.servfail.Load(), c.wrong.Load(), c.truncated.Load(), c.badcookie.Load())
	fmt.Printf("  reloads applied %d, rejected %d, wrong or stuck %d; drains %d, undrains %d; status page %d, /status %d; admin errors %d\n",
		c.reloadsGood.Load(), c.reloadsBad.Load(), c.reloadsWrong.Load(), c.drains.Load(), c.undrains.Load(), c.pageFetches.Load(), c.statusFetches.Load(), c.adminErrors.Load())
	fmt.Printf("  RSS %d -> %d KB (max %d), threads %d -> %d, fds %d -> %d\n", first.rssKB, last.rssKB, maxRSS(samples), first.threads, last.threads, first.fds, last.fds)
	if len(samples) >= 4 && last.fds > samples[1].fds+20 {
		failures.add("open files grew from %d to %d", samples[1].fds, last.fds)
	}
	if c.wrong.Load() > 0 {
		failures.add("%d wrong answers", c.wrong.Load())
	}
	if c.servfail.Load() > 0 {
		failures.add("%d SERVFAIL", c.servfail.Load())
	}
	if lost := c.lostExempt.Load(); lost*1000 > c.sent.Load() {
		failures.add("%d of %d queries over TCP or with a server cookie lost (more than 0.1 %%)", lost, c.sent.Load())
	}
	if lost := c.lost.Load(); *rrlRate >= 5000 && lost*1000 > c.sent.Load() {
		failures.add("%d of %d queries lost (more than 0.1 %%)", lost, c.sent.Load())
	}
	return failures.report(), nil
}

func maxRSS(s []sample) int64 {
	var m int64
	for _, x := range s {
		m = max(m, x.rssKB)
	}
	return m
}

// failureLog keeps the first problems of each kind and counts the rest.
type failureLog struct {
	mu     sync.Mutex
	n      int
	lines  []string
	byKind map[string]int
}

func (f *failureLog) add(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if f.byKind == nil {
		f.byKind = map[string]int{}
	}
	f.byKind[format]++
	if f.byKind[format] <= 5 && len(f.lines) < 100 {
		line := fmt.Sprintf(format, args...)
		f.lines = append(f.lines, line)
		fmt.Fprintln(os.Stderr, "PROBLEM:", line)
	}
}

func (f *failureLog) report() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		fmt.Println("  no problems")
		return true
	}
	fmt.Printf("  %d problems, the first %d:\n", f.n, len(f.lines))
	for _, l := range f.lines {
		fmt.Println("    " + l)
	}
	fmt.Println("  by kind:")
	for k, n := range f.byKind {
		fmt.Printf("    %6d  %s\n", n, k)
	}
	return false
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func freePort() (int, error) {
	// The same port must be free on every backend address: try a few.
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.11:0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		free := true
		for _, a := range []string{"127.0.0.12", "127.0.0.13", "127.0.0.14", "127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.30"} {
			l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", a, port))
			if err != nil {
				free = false
				break
			}
			l.Close()
		}
		if free {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no port free on all backend addresses")
}

// serveEvil answers every request with a 503 whose reason phrase holds
// terminal escape sequences and HTML: what a hostile or broken backend may
// send, to be shown in /status, the page and the logs harmlessly.
func serveEvil(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			bufio.NewReader(c).ReadString('\n')
			io.WriteString(c, "HTTP/1.1 503 \x1b[31mred\x1b[2J\x1b]0;title\x07<script>alert(1)</script>\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		}()
	}
}

func configFile(httpPort int) string {
	return fmt.Sprintf(`listen = ["127.0.0.1:0"]
zones = ["soak.test.toml", "m.test.zone"]

[log]
level = "info"

[health]
admin = "127.0.0.1:0"
status_listen = "127.0.0.1:0"
initial_state = "probe"
state_file = "drains.json"

[cookies]
secret_file = "cookie.secret"

# The load comes from loopback: limit it too, at a rate the load keeps
# under, so every answer runs through the limiter's accounting.
[rrl]
responses_per_second = %d
exempt_loopback = false

[checks.web]
type = "http"
port = %d
path = "/"
interval = "%s"
timeout = "%s"
fall = %d
rise = 2

[pools."api.m.test."]
check = "web"
max_answers = 2
weights = { "127.0.0.12" = 3 }
on_all_down = "none"
ttl_degraded = 5
`, *rrlRate, httpPort, checkInterval, checkTimeout, checkFall)
}

func tomlZone(serial, httpPort, tcpPort int, broken bool) string {
	static := `["10.0.0.1", "10.0.0.2", "10.0.0.3"]`
	if serial%2 == 0 {
		static = `["10.0.0.2", "10.0.0.3", "10.0.0.4"]`
	}
	z := fmt.Sprintf(`origin = "soak.test."
ttl = 300
ns = ["ns1"]

[soa]
serial = %d
minimum = 5

[checks.web]
type = "http"
port = %d
path = "/"
interval = "%s"
timeout = "%s"
fall = %d
rise = 2

[checks.tcp]
type = "tcp"
port = %d
interval = "%s"
timeout = "%s"
fall = %d
rise = 2

[pools.web]
addresses = ["127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14"]
ttl = 30
check = "web"
on_all_down = "none"
max_answers = 3
weights = { "127.0.0.11" = 2, "127.0.0.13" = 5 }
ttl_degraded = 5
ttl_degraded_drains = true
slow_start = "5s"

[pools.sticky]
addresses = ["127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14"]
ttl = 30
check = "web"
on_all_down = "none"
sticky = "client"
max_answers = 2
slow_start = "10s"

[pools.tcp]
addresses = ["127.0.0.21", "127.0.0.22", "127.0.0.23"]
check = "tcp"
on_all_down = "none"
order = "cyclic"

[pools.static]
addresses = %s
ttl = 60

[pools.evil]
addresses = ["127.0.0.11", "127.0.0.30"]
check = "web"
on_all_down = "none"

[records.ns1]
a = ["127.0.0.1"]
`, serial, httpPort, checkInterval, checkTimeout, checkFall, tcpPort, checkInterval, checkTimeout, checkFall, static)
	if broken {
		// A mistake an operator makes: a key the pool does not have.
		z = strings.Replace(z, "[pools.static]\n", "[pools.static]\nmax_anwsers = 2\n", 1)
	}
	return z
}

func masterZone(serial int, broken bool) string {
	z := fmt.Sprintf(`$ORIGIN m.test.
$TTL 300
@    IN SOA ns1 hostmaster %d 3600 900 1209600 5
@    IN NS  ns1
ns1  IN A   127.0.0.1
api  30 IN A 127.0.0.11
api  30 IN A 127.0.0.12
api  30 IN A 127.0.0.13
api  30 IN A 127.0.0.14
`, serial)
	if broken {
		z += "bad  IN A 300.1.2.3\n"
	}
	return z
}

// logEvent is what the driver reads of a log line.
type logEvent struct {
	Level    string   `json:"level"`
	Msg      string   `json:"message"`
	Addrs    []string `json:"addrs"`
	Addr     string   `json:"addr"`
	ReadOnly bool     `json:"read_only"`
}

var alarming = regexp.MustCompile(`(?i)panic|goroutine \d+ \[|fatal error|data race`)

func readLog(r io.Reader, out io.Writer, events chan<- logEvent, failures *failureLog) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		out.Write(line)
		out.Write([]byte{'\n'})
		if alarming.Match(line) {
			failures.add("log: %.300s", line)
		}
		var ev logEvent
		if json.Unmarshal(line, &ev) != nil {
			failures.add("log line not JSON: %.300q", line)
			continue
		}
		switch ev.Level {
		case "error", "fatal", "panic":
			if ev.Msg != "reload failed, keeping old zones" {
				failures.add("log: %.300s", line)
			}
		}
		select {
		case events <- ev:
		default:
		}
	}
}

// queryLoop sends queries at one per period until ctx ends, checking each
// answer.
func queryLoop(ctx context.Context, server string, isTCP, withCookies bool, period time.Duration, pools []*pool, c *counters, failures *failureLog) {
	client := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	if isTCP {
		client.Net = "tcp"
	}
	var conn *dns.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	clientCookie := make([]byte, 8)
	rand.Read(clientCookie)
	var serverCookie string
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		// Mostly pools; now and then a name that does not exist.
		var p *pool
		m := new(dns.Msg)
		if mrand.IntN(20) == 0 {
			m.SetQuestion(fmt.Sprintf("nx%d.soak.test.", mrand.IntN(1000)), dns.TypeA)
		} else {
			p = pools[mrand.IntN(len(pools))]
			m.SetQuestion(p.qname, p.qtype)
		}
		m.SetEdns0(1232, false)
		if withCookies {
			c.cookies.Add(1)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hex.EncodeToString(clientCookie) + serverCookie})
		}
		if conn == nil {
			var err error
			if conn, err = client.Dial(server); err != nil {
				c.sent.Add(1)
				c.lost.Add(1)
				failures.add("dial %s %s: %v", client.Net, server, err)
				continue
			}
		}
		sent := time.Now()
		// RRL limits UDP only, and a valid server cookie exempts a query.
		exempt := isTCP || withCookies && serverCookie != ""
		c.sent.Add(1)
		if isTCP {
			c.tcp.Add(1)
		} else {
			c.udp.Add(1)
		}
		r, _, err := client.ExchangeWithConnContext(ctx, m, conn)
		if err != nil {
			// A query cut short by the end of the run is not lost: the
			// exchange's deadline is the run's, and may expire a moment
			// before ctx reports it.
			if dl, ok := ctx.Deadline(); ctx.Err() != nil || ok && !time.Now().Before(dl) {
				c.sent.Add(-1)
				return
			}
			c.lost.Add(1)
			if exempt {
				c.lostExempt.Add(1)
			}
			// A TCP connection may be closed by the server (max_queries,
			// idle): redial; a UDP socket is kept unless broken.
			conn.Close()
			conn = nil
			continue
		}
		c.answered.Add(1)
		if r.Truncated {
			c.truncated.Add(1)
			if exempt {
				c.wrong.Add(1)
				failures.add("TC on a query RRL may not limit (TCP, or a server cookie)")
			}
		}
		if withCookies {
			// Every reply carries our client cookie and a fresh server
			// cookie (RFC 7873 §5.2), across secret rotations.
			var got string
			if opt := r.IsEdns0(); opt != nil {
				for _, o := range opt.Option {
					if ck, ok := o.(*dns.EDNS0_COOKIE); ok {
						got = ck.Cookie
					}
				}
			}
			if len(got) <= 16 || !strings.HasPrefix(got, hex.EncodeToString(clientCookie)) {
				c.wrong.Add(1)
				failures.add("reply to a query with a cookie carries cookie %q, want ours and a server cookie", got)
			} else {
				serverCookie = got[16:]
			}
			if r.Rcode == dns.RcodeBadCookie {
				c.badcookie.Add(1)
				continue
			}
		}
		if r.Rcode == dns.RcodeServerFailure {
			c.servfail.Add(1)
			continue
		}
		if why := check(m, r, p, sent); why != "" {
			c.wrong.Add(1)
			failures.add("%s %s over %s: %s", m.Question[0].Name, dns.TypeToString[m.Question[0].Qtype], client.Net, why)
		}
	}
}

// check says what is wrong with r, the answer to m sent at sent, or "".
func check(m, r *dns.Msg, p *pool, sent time.Time) string {
	if r.Id != m.Id || len(r.Question) != 1 || r.Question[0] != m.Question[0] {
		return "answer to another question"
	}
	if !r.Authoritative {
		return "not authoritative"
	}
	if p == nil {
		if r.Rcode != dns.RcodeNameError {
			return "want NXDOMAIN, got " + dns.RcodeToString[r.Rcode]
		}
		return ""
	}
	if r.Rcode != dns.RcodeSuccess {
		return "rcode " + dns.RcodeToString[r.Rcode]
	}
	if r.Truncated {
		return ""
	}
	var got []string
	for _, rr := range r.Answer {
		a, ok := rr.(*dns.A)
		if !ok || !strings.EqualFold(rr.Header().Name, p.qname) {
			return "unexpected record " + rr.String()
		}
		if ttl := rr.Header().Ttl; !slices.Contains(p.ttls, ttl) || ttl != r.Answer[0].Header().Ttl {
			return fmt.Sprintf("TTL %d in an answer of TTL %d, want one of %v for the whole RRset", ttl, r.Answer[0].Header().Ttl, p.ttls)
		}
		ip, _ := netip.AddrFromSlice(a.A.To4())
		b, member := p.members[ip]
		if !member {
			return fmt.Sprintf("%s is not a member of the pool", ip)
		}
		if b != nil {
			if why := b.mustNotServe(sent); why != "" {
				return fmt.Sprintf("%s served while %s", ip, why)
			}
		}
		got = append(got, ip.String())
	}
	sort.Strings(got)
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			return "duplicate " + got[i]
		}
	}
	if len(got) == 0 && !p.emptyOK {
		return "no addresses"
	}
	return ""
}

func soaSerial(server, zone string) (uint32, error) {
	m := new(dns.Msg)
	m.SetQuestion(zone, dns.TypeSOA)
	c := &dns.Client{Net: "tcp", Timeout: 10 * time.Second}
	r, _, err := c.Exchange(m, server)
	if err != nil {
		return 0, err
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial, nil
		}
	}
	return 0, fmt.Errorf("no SOA in the answer (%s)", dns.RcodeToString[r.Rcode])
}

// procStatus returns VmRSS (KB) and Threads of pid.
func procStatus(pid int) (rss, threads int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1, -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss, _ = strconv.ParseInt(f[1], 10, 64)
		case "Threads:":
			threads, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return rss, threads
}

func countFDs(pid int) int64 {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return int64(len(es))
}
