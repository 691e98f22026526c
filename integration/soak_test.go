package integration

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// soakDuration is short in CI; DNSRR_SOAK=10m runs the same test for long.
func soakDuration(t *testing.T) time.Duration {
	if v := os.Getenv("DNSRR_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("DNSRR_SOAK=%q: %v", v, err)
		}
		return d
	}
	return 4 * time.Second
}

// A soak: clients query over UDP and TCP without pause while the zone is
// reloaded many times a second and a backend fails and recovers under a
// health check. Every answer must be whole and from one zone version (a
// pool of exactly the members the zone lists, or of the healthy ones),
// nothing may be lost beyond the odd UDP timeout, the failing backend must
// be withdrawn and put back while the reloads go on, and the server must
// end as it began.
//
// The check must hold on a loaded 2-core machine, where a loopback HTTP
// probe can stall for a few hundred milliseconds: the backend that never
// fails is asserted to be in every answer, so it has a 400 ms timeout and
// must fail 3 probes in a row before it is withdrawn. The failing backend
// answers 503 at once, so it goes down after 3 probes whatever the load;
// the test polls for that state instead of expecting it at a given time.
func TestSoakReloadsAndFlappingBackend(t *testing.T) {
	t.Parallel()
	// Two backends on one port at two loopback addresses; one flaps.
	ln1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln1.Addr().(*net.TCPAddr).Port
	ln2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", port))
	if err != nil {
		t.Skipf("127.0.0.2 is not usable here: %v", err)
	}
	var flap atomic.Bool
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	flapping := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if flap.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	for _, srv := range []struct {
		ln net.Listener
		h  http.Handler
	}{{ln1, ok}, {ln2, flapping}} {
		hs := &http.Server{Handler: srv.h}
		go hs.Serve(srv.ln)
		t.Cleanup(func() { hs.Close() })
	}

	dir := t.TempDir()
	zone := filepath.Join(dir, "soak.test.toml")
	writeZone := func(serial int) {
		z := fmt.Sprintf(`origin = "soak.test."
ns = ["ns1"]
[soa]
serial = %d
[checks.web]
type = "http"
port = %d
interval = "500ms"
timeout = "400ms"
fall = 3
rise = 1
[pools.www]
addresses = ["127.0.0.1", "127.0.0.2"]
check = "web"
ttl = 1
[pools.static]
addresses = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]
ttl = %d
[records.ns1]
a = ["192.0.2.53"]
`, serial, port, 100+serial%2)
		// Write aside and rename, as an operator's deploy would, so the
		// server never reads a half-written file.
		tmp := zone + ".tmp"
		if err := os.WriteFile(tmp, []byte(z), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, zone); err != nil {
			t.Fatal(err)
		}
	}
	writeZone(1)
	cfg := filepath.Join(dir, "dnsrr.toml")
	if err := os.WriteFile(cfg, []byte("listen = [\"127.0.0.1:0\"]\nzones = [\"soak.test.toml\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "-config", cfg)
	addr := s.addrs[0]

	d := soakDuration(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var queries, timeouts atomic.Int64
	check := func(network string) {
		defer wg.Done()
		c := &dns.Client{Net: network, Timeout: time.Second}
		var co *dns.Conn
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			name := "www.soak.test."
			if i%2 == 1 {
				name = "static.soak.test."
			}
			q := new(dns.Msg).SetQuestion(name, dns.TypeA)
			var resp *dns.Msg
			var err error
			if co == nil {
				co, err = c.Dial(addr)
			}
			if err == nil {
				resp, _, err = c.ExchangeWithConn(q, co)
			}
			queries.Add(1)
			if err != nil {
				if network == "tcp" {
					t.Errorf("TCP query failed: %v", err)
					return
				}
				timeouts.Add(1)
				co.Close()
				co = nil
				continue
			}
			if resp.Rcode != dns.RcodeSuccess || !resp.Authoritative {
				t.Errorf("%s %s: rcode %s aa %v", network, name, dns.RcodeToString[resp.Rcode], resp.Authoritative)
				return
			}
			members := []string{"127.0.0.1", "127.0.0.2"}
			if i%2 == 1 {
				members = []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"}
			}
			ttl := uint32(0)
			got := map[string]bool{}
			for _, rr := range resp.Answer {
				a, ok := rr.(*dns.A)
				if !ok || !contains(members, a.A.String()) || got[a.A.String()] {
					t.Errorf("%s %s: unexpected or repeated record %v", network, name, rr)
					return
				}
				got[a.A.String()] = true
				if ttl != 0 && rr.Header().Ttl != ttl {
					t.Errorf("%s %s: TTLs differ within one answer: %v", network, name, resp.Answer)
				}
				ttl = rr.Header().Ttl
			}
			switch {
			case i%2 == 1 && len(got) != 4:
				t.Errorf("%s static pool: %d of 4 members in one answer: %v", network, len(got), resp.Answer)
				return
			case i%2 == 0 && (len(got) == 0 || !got["127.0.0.1"]):
				// 127.0.0.1 never fails, so it is always served.
				t.Errorf("%s www: healthy member missing: %v", network, resp.Answer)
				return
			}
		}
	}
	for range 3 {
		wg.Add(1)
		go check("udp")
	}
	wg.Add(1)
	go check("tcp")

	// Reload without pause; meanwhile fail the second backend until DNS
	// withdraws it, then let it recover until DNS serves it again, and go
	// on until the soak's duration is over.
	started := time.Now()
	giveUp := started.Add(d + 3*pollTimeout)
	flap.Store(true)
	var withdrawn, restored bool
	reloads := 0
	for serial := 2; !restored || time.Since(started) < d; serial++ {
		if time.Now().After(giveUp) {
			t.Errorf("after %v of reloads: failing backend withdrawn %v, put back %v; want both", time.Since(started), withdrawn, restored)
			break
		}
		writeZone(serial)
		s.signal(syscall.SIGHUP)
		reloads++
		time.Sleep(50 * time.Millisecond)
		if r, err := tryExchange("udp", addr, new(dns.Msg).SetQuestion("www.soak.test.", dns.TypeA)); err == nil {
			served := contains(addrsOf(r.Answer), "127.0.0.2")
			switch {
			case !withdrawn && !served:
				withdrawn = true
				flap.Store(false)
			case withdrawn && served:
				restored = true
			}
		}
	}
	close(stop)
	wg.Wait()

	t.Logf("%v: %d queries, %d UDP timeouts, %d reloads", time.Since(started).Round(time.Millisecond), queries.Load(), timeouts.Load(), reloads)
	if timeouts.Load() > queries.Load()/100 {
		t.Errorf("%d of %d UDP queries timed out", timeouts.Load(), queries.Load())
	}
	if s.exited() {
		t.Fatal("server exited during the soak")
	}
	for _, l := range s.snapshotLines() {
		if strings.Contains(l.raw, "panic") || strings.Contains(l.raw, "reload failed") {
			t.Errorf("server logged: %s", l.raw)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
