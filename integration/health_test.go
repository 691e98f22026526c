package integration

// Black-box tests of the health prober (issue 4): real HTTP, HTTPS and TCP
// backends on private loopback addresses, the real binary probing them, and
// the verdict read over DNS and from the admin API. Intervals are 100–200
// ms; every wait is a bounded poll for a state, never a timing assertion.

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// checkTOML is a [checks.NAME] table of the given type on port, plus extra
// lines.
func checkTOML(checkName, kind string, port int, extra string) string {
	return fmt.Sprintf("\n[checks.%s]\ntype = %q\nport = %d\n%s\n", checkName, kind, port, extra)
}

// poolTOML is a [pools.LABEL] table of addrs with a short TTL, plus extra
// lines (check, min_healthy, on_all_down).
func poolTOML(label string, addrs []string, extra string) string {
	return fmt.Sprintf("\n[pools.%q]\naddresses = %s\nttl = 5\n%s\n", label, tomlList(addrs), extra)
}

// fast is the timing of most tests' checks: short, with a timeout that a
// loopback HTTP probe meets even on a loaded machine.
const fast = "interval = \"400ms\"\ntimeout = \"300ms\"\n"

// TestHealthStopStart: a stopped backend leaves the answers once fall
// probes failed, and returns once rise probes succeeded, for tcp and http
// checks; /status and the log say why.
func TestHealthStopStart(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{kindHTTP, kindTCP} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			var bs []*backend
			for i := 1; i <= 3; i++ {
				bs = append(bs, l.backend(i, kind, nil, nil))
			}
			org := kind + ".stop.health.test."
			zone := checkTOML("web", kind, l.port, fast+"fall = 3\nrise = 2") +
				poolTOML("www", l.ips(1, 2, 3), `check = "web"`)
			s, adm, _ := startHealthServer(t, org, zone, "", "")
			dnsAddr, www := s.addr("4"), "www."+org
			wantDNS(t, dnsAddr, www, dns.TypeA, served(l.ips(1, 2, 3)...))

			mark := s.logMark()
			bs[1].stop()
			took := waitDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(1), l.ip(3)))
			t.Logf("%s withdrawn %v after its backend stopped (fall 3 × interval 400ms)", l.ip(2), took)
			m := adm.member(www, l.ip(2))
			if m.State != "down" || m.Serving || m.Drained || m.LastOK || m.ConsecutiveFail < 3 || m.LastError == "" {
				t.Errorf("stopped member: %v; want down, not serving, last_ok false, consecutive_fail >= fall (3), a last_error", m)
			}
			line := waitLogLine(t, s, mark, "target down", map[string]string{"target": l.hostport(2), "from": "up", "state": "down"})
			if line.str("error") == "" {
				t.Errorf("transition line gives no reason: %s", line.raw)
			}
			for _, i := range []int{1, 3} {
				if m := adm.member(www, l.ip(i)); m.State != "up" || !m.Serving || m.ConsecutiveFail != 0 {
					t.Errorf("untouched member %s: %v, want up", l.ip(i), m)
				}
			}

			mark = s.logMark()
			bs[1].start()
			took = waitDNS(t, dnsAddr, www, dns.TypeA, served(l.ips(1, 2, 3)...))
			t.Logf("%s back %v after its backend started (rise 2 × interval 400ms)", l.ip(2), took)
			m = adm.member(www, l.ip(2))
			if m.State != "up" || !m.Serving || !m.LastOK || m.ConsecutiveOK < 2 || m.ConsecutiveFail != 0 {
				t.Errorf("restarted member: %v; want up, serving, consecutive_ok >= rise (2)", m)
			}
			if m.LastError == "" || m.LastFailure == nil {
				t.Errorf("restarted member: %v; the last outage's reason should stay visible", m)
			}
			waitLogLine(t, s, mark, "target up", map[string]string{"target": l.hostport(2), "from": "down", "state": "up"})
		})
	}
}

// TestHealthHungBackend: a backend that accepts and never answers is down
// with a timeout reason, costs only its timeout, and the other members keep
// being answered and probed. A tcp check, which only connects, finds the
// same backend up.
func TestHealthHungBackend(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.backend(1, kindHTTP, nil, nil)
	l.backend(2, kindHung, nil, nil)
	b3 := l.backend(3, kindHTTP, nil, nil)
	const org = "hung.health.test."
	zone := checkTOML("web", "http", l.port, `interval = "200ms"`+"\n"+`timeout = "100ms"`+"\nfall = 2\nrise = 2") +
		checkTOML("conn", "tcp", l.port, fast) +
		poolTOML("www", l.ips(1, 2, 3), `check = "web"`) +
		poolTOML("conn", l.ips(1, 2, 3), `check = "conn"`)
	s, adm, _ := startHealthServer(t, org, zone, "", "")
	dnsAddr, www := s.addr("4"), "www."+org

	// Hung from the start: the first round waited for its timeout, no more.
	wantDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(1), l.ip(3)))
	wantDNS(t, dnsAddr, "conn."+org, dns.TypeA, served(l.ips(1, 2, 3)...))
	if m := adm.member(www, l.ip(2)); m.State != "down" || !strings.Contains(m.LastError, "timed out after 100ms") {
		t.Errorf("hung member: %v; want down with last_error \"timed out after 100ms: ...\"", m)
	}
	if m := adm.member("conn."+org, l.ip(2)); m.State != "up" {
		t.Errorf("hung member under a tcp check: %v; want up (it accepts connections)", m)
	}

	// A healthy backend starts hanging.
	before := adm.member(www, l.ip(1))
	b3.hang.Store(true)
	waitDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(1)))
	if m := adm.member(www, l.ip(3)); m.State != "down" || !strings.Contains(m.LastError, "timed out") {
		t.Errorf("member that started hanging: %v; want down with a timeout reason", m)
	}
	// Meanwhile the healthy member's probes went on.
	adm.waitMember(www, l.ip(1), "probed 4 more times", func(m memberDoc) bool {
		return m.State == "up" && m.ConsecutiveOK >= before.ConsecutiveOK+4
	})
	wantDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(1)))

	b3.hang.Store(false)
	waitDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(1), l.ip(3)))
}

// TestHealthFlapping: a backend failing every other request never reaches
// fall = 3 consecutive failures, so it never leaves; one that starts
// failing never reaches rise = 3 and never returns. With fall = rise = 1
// the same backend does flap the answer (the control).
func TestHealthFlapping(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.backend(1, kindHTTP, nil, nil)
	b2 := l.backend(2, kindHTTP, flapper(true), nil)
	b3 := l.backend(3, kindHTTP, flapper(false), nil)
	l.backend(4, kindHTTP, flapper(true), nil)
	const org = "flap.health.test."
	timing := `interval = "200ms"` + "\n" + `timeout = "150ms"` + "\n"
	zone := checkTOML("steady", "http", l.port, timing+"fall = 3\nrise = 3") +
		checkTOML("twitchy", "http", l.port, timing+"fall = 1\nrise = 1") +
		poolTOML("www", l.ips(1, 2, 3), `check = "steady"`) +
		poolTOML("twitchy", l.ips(1, 4), `check = "twitchy"`)
	s, adm, _ := startHealthServer(t, org, zone, "", "")
	dnsAddr, www, twitchy := s.addr("4"), "www."+org, "twitchy."+org
	mark := s.logMark()

	want := served(l.ip(1), l.ip(2))
	wantDNS(t, dnsAddr, www, dns.TypeA, want)
	first := adm.status()
	m2, _ := first.member(www, l.ip(2))
	m3, _ := first.member(www, l.ip(3))

	seen := map[string]bool{}
	deadline := time.Now().Add(healthWait)
	for b2.hits.Load() < 12 || b3.hits.Load() < 12 || len(seen) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d and %d probes of the flapping backends, twitchy answers seen %v", healthWait, b2.hits.Load(), b3.hits.Load(), seen)
		}
		got, _, err := ask(dnsAddr, ways[0], www, dns.TypeA)
		if err != nil {
			t.Fatal(err)
		}
		if !got.equal(want) {
			t.Fatalf("after %d probes of %s and %d of %s: www answers %v, want %v (fall = rise = 3)", b2.hits.Load(), l.ip(2), b3.hits.Load(), l.ip(3), got, want)
		}
		if got, _, err := ask(dnsAddr, ways[0], twitchy, dns.TypeA); err == nil {
			seen[got.String()] = true
		}
		time.Sleep(pollInterval)
	}
	if !seen[served(l.ip(1)).String()] || !seen[served(l.ip(1), l.ip(4)).String()] {
		t.Errorf("fall = rise = 1: twitchy answers seen %v, want both with and without %s", seen, l.ip(4))
	}
	last := adm.status()
	n2, _ := last.member(www, l.ip(2))
	n3, _ := last.member(www, l.ip(3))
	if n2.State != "up" || !n2.Since.Equal(*m2.Since) || n2.ConsecutiveFail > 1 || n2.LastError == "" {
		t.Errorf("%s (ok first): %v; want still up since %v, at most 1 failure in a row, a last_error", l.ip(2), n2, m2.Since)
	}
	if n3.State != "down" || !n3.Since.Equal(*m3.Since) || n3.ConsecutiveOK > 1 {
		t.Errorf("%s (fail first): %v; want still down since %v, at most 1 success in a row", l.ip(3), n3, m3.Since)
	}
	for _, tr := range []struct{ msg, target string }{{"target down", l.hostport(2)}, {"target up", l.hostport(3)}} {
		if ls := findLogLines(s, mark, tr.msg, map[string]string{"target": tr.target}); len(ls) > 0 {
			t.Errorf("a flapping backend changed state: %s", ls[0].raw)
		}
	}
}

// TestHealthAllDown: when every member is down, each policy serves what it
// says; an operator's drain still holds under fail open while other members
// are left; and the pools recover when a member comes up.
func TestHealthAllDown(t *testing.T) {
	t.Parallel()
	l := newLab(t) // no backends yet: every member refuses
	const org = "alldown.health.test."
	zone := checkTOML("conn", "tcp", l.port, fast+"fall = 2\nrise = 1")
	// Pool label → the policy it sets ("" for none: the default, all).
	policies := map[string]string{"all": "all", "dflt": "", "none": "none", "servfail": "servfail"}
	labels := []string{"all", "dflt", "none", "servfail"}
	for _, p := range labels {
		keys := `check = "conn"`
		if policies[p] != "" {
			keys += fmt.Sprintf("\non_all_down = %q", policies[p])
		}
		zone += poolTOML(p, l.ips(1, 2), keys)
	}
	s, adm, _ := startHealthServer(t, org, zone, "", "")
	dnsAddr := s.addr("4")
	want := map[string]reply{"all": served(l.ips(1, 2)...), "dflt": served(l.ips(1, 2)...), "none": nodata, "servfail": servfail}
	for _, p := range labels {
		wantDNS(t, dnsAddr, p+"."+org, dns.TypeA, want[p])
	}
	if r, msg, err := ask(dnsAddr, ways[0], "none."+org, dns.TypeA); err != nil || !msg.Authoritative || !r.soa {
		t.Errorf("policy none: %v (err %v), want an authoritative NODATA with the SOA", msg, err)
	}
	wantDNS(t, dnsAddr, "none."+org, dns.TypeAAAA, nodata)
	waitLogLine(t, s, 0, "too few pool members up", map[string]string{"pool": "servfail." + org, "policy": "servfail"})
	st := adm.status()
	for _, p := range labels {
		pd, ok := st.pool(p + "." + org)
		wantPolicy := policies[p]
		if wantPolicy == "" {
			wantPolicy = "all"
		}
		if !ok || pd.Policy != wantPolicy || pd.Check != "conn" {
			t.Errorf("/status pool %s: %+v, want check conn, on_all_down %s", p, pd, wantPolicy)
		}
	}

	// Fail open serves every member but the drained one.
	adm.drain(l.ip(1), "")
	for _, p := range []string{"all", "dflt"} {
		waitDNS(t, dnsAddr, p+"."+org, dns.TypeA, served(l.ip(2)))
	}
	wantDNS(t, dnsAddr, "none."+org, dns.TypeA, nodata)
	wantDNS(t, dnsAddr, "servfail."+org, dns.TypeA, servfail)
	adm.undrain(l.ip(1))
	waitDNS(t, dnsAddr, "all."+org, dns.TypeA, served(l.ips(1, 2)...))

	// One member comes up: every policy serves just it.
	l.backend(2, kindTCP, nil, nil)
	for _, p := range labels {
		waitDNS(t, dnsAddr, p+"."+org, dns.TypeA, served(l.ip(2)))
	}
}

// TestHealthMinHealthy: min_healthy as a count and as a fraction of the
// members; below it, the pool's policy.
func TestHealthMinHealthy(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.backend(1, kindHTTP, nil, nil)
	l.backend(2, kindHTTP, nil, nil)
	const org = "min.health.test."
	zone := checkTOML("web", "http", l.port, fast+"fall = 2\nrise = 1")
	pools := []struct {
		label, keys string
		now, later  reply // 2 of 4 up, then 3 of 4
	}{
		{"count2", "min_healthy = 2\non_all_down = \"none\"", served(l.ips(1, 2)...), served(l.ips(1, 2, 3)...)},
		{"count3", "min_healthy = 3\non_all_down = \"none\"", nodata, served(l.ips(1, 2, 3)...)},
		{"count3sf", "min_healthy = 3\non_all_down = \"servfail\"", servfail, served(l.ips(1, 2, 3)...)},
		{"count9", "min_healthy = 9\non_all_down = \"none\"", nodata, nodata}, // more than the members: all of them
		{"frac50", "min_healthy = 0.5\non_all_down = \"none\"", served(l.ips(1, 2)...), served(l.ips(1, 2, 3)...)},
		{"frac75", "min_healthy = 0.75\non_all_down = \"none\"", nodata, served(l.ips(1, 2, 3)...)},
		{"frac75all", "min_healthy = 0.75", served(l.ips(1, 2, 3, 4)...), served(l.ips(1, 2, 3)...)},
		{"frac100", "min_healthy = 1.0\non_all_down = \"none\"", nodata, nodata},
	}
	for _, p := range pools {
		zone += poolTOML(p.label, l.ips(1, 2, 3, 4), "check = \"web\"\n"+p.keys)
	}
	s, _, _ := startHealthServer(t, org, zone, "", "")
	dnsAddr := s.addr("4")
	for _, p := range pools {
		t.Run("2of4/"+p.label, func(t *testing.T) { wantDNS(t, dnsAddr, p.label+"."+org, dns.TypeA, p.now) })
	}
	l.backend(3, kindHTTP, nil, nil)
	waitDNS(t, dnsAddr, "count2."+org, dns.TypeA, served(l.ips(1, 2, 3)...))
	for _, p := range pools {
		t.Run("3of4/"+p.label, func(t *testing.T) { waitDNS(t, dnsAddr, p.label+"."+org, dns.TypeA, p.later) })
	}
}

// TestHealthDrain: the admin API withdraws a healthy member and puts it
// back, drains expire, drains survive a restart through the state file,
// and static (unchecked) members can be drained too.
func TestHealthDrain(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	for i := 1; i <= 3; i++ {
		l.backend(i, kindHTTP, nil, nil)
	}
	const org = "drain.health.test."
	static := []string{"192.0.2.10", "192.0.2.11"} // no check: never contacted
	zone := checkTOML("web", "http", l.port, fast+"fall = 2\nrise = 2") +
		poolTOML("www", l.ips(1, 2, 3), `check = "web"`) +
		poolTOML("static", static, "")
	s, adm, dir := startHealthServer(t, org, zone, "", "")
	dnsAddr, www, stat := s.addr("4"), "www."+org, "static."+org
	wantDNS(t, dnsAddr, www, dns.TypeA, served(l.ips(1, 2, 3)...))

	// Drain and undrain a healthy member.
	if got := adm.drain(l.ip(2), ""); got["address"] != l.ip(2) || got["until"] != nil {
		t.Errorf("POST /drain: %v, want address %s and no until", got, l.ip(2))
	}
	waitDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(1), l.ip(3)))
	m := adm.member(www, l.ip(2))
	if !m.Drained || m.Serving || m.State != "up" || m.DrainUntil != nil {
		t.Errorf("drained member: %v; want drained, not serving, state still up, no drain_until", m)
	}
	adm.waitMember(www, l.ip(2), "still probed while drained", func(n memberDoc) bool {
		return n.ConsecutiveOK >= m.ConsecutiveOK+2 && n.State == "up"
	})
	if d := adm.status().Drains; len(d) != 1 || d[0].Address != l.ip(2) {
		t.Errorf("/status drains: %+v, want just %s", d, l.ip(2))
	}
	adm.undrain(l.ip(2))
	waitDNS(t, dnsAddr, www, dns.TypeA, served(l.ips(1, 2, 3)...))
	// Once /drain has answered, DNS follows it: the very next query, on
	// every path, already leaves the member out (or puts it back). A
	// drained member served after the 200 was seen by a soak, 2 in ~120.
	for range 15 {
		adm.drain(l.ip(2), "")
		wantDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(1), l.ip(3)))
		adm.undrain(l.ip(2))
		wantDNS(t, dnsAddr, www, dns.TypeA, served(l.ips(1, 2, 3)...))
	}
	if code, body, _ := adm.do(http.MethodDelete, "/drain?address="+l.ip(2)); code != http.StatusNotFound {
		t.Errorf("DELETE /drain of an address not drained: %d %s, want 404", code, body)
	}

	// A drain with an expiry ends by itself.
	mark := s.logMark()
	got := adm.drain(l.ip(3), "2s")
	if _, ok := got["until"].(string); !ok {
		t.Errorf("POST /drain for=2s: %v, want an until", got)
	}
	waitDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(1), l.ip(2)))
	if m := adm.member(www, l.ip(3)); m.DrainUntil == nil || time.Until(*m.DrainUntil) > 2*time.Second {
		t.Errorf("member drained for 2s: %v, want a drain_until at most 2s ahead", m)
	}
	took := waitDNS(t, dnsAddr, www, dns.TypeA, served(l.ips(1, 2, 3)...))
	t.Logf("drain for=2s ended %v after it was observed", took)
	waitLogLine(t, s, mark, "drain expired", map[string]string{"target": l.ip(3)})

	// A static member.
	wantDNS(t, dnsAddr, stat, dns.TypeA, served(static...))
	adm.drain(static[0], "")
	waitDNS(t, dnsAddr, stat, dns.TypeA, served(static[1]))
	if m := adm.member(stat, static[0]); m.State != "static" || !m.Drained || m.Serving {
		t.Errorf("drained static member: %v, want state static, drained, not serving", m)
	}

	// Restart with the same state file: both drains, and an expiry, are
	// remembered, and the first answer already honours them.
	adm.drain(l.ip(1), "")
	until := adm.drain(l.ip(2), "1h")["until"]
	waitDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(3)))
	if code, stopped := s.stop(); !stopped || code != 0 {
		t.Fatalf("stop: code %d, stopped %v", code, stopped)
	}
	var sf struct {
		Drains []map[string]any `json:"drains"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "state.json"))), &sf); err != nil || len(sf.Drains) != 3 {
		t.Errorf("state.json: %+v (err %v), want 3 drains", sf, err)
	}
	s2 := startServer(t, "-config", filepath.Join(dir, "dnsrr.toml"))
	adm2 := adminOf(t, s2)
	dnsAddr = s2.addr("4")
	wantDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(3)))
	wantDNS(t, dnsAddr, stat, dns.TypeA, served(static[1]))
	m2 := adm2.member(www, l.ip(2))
	wantUntil, err := time.Parse(time.RFC3339Nano, fmt.Sprint(until))
	if err != nil {
		t.Fatalf("POST /drain for=1h: until %v: %v", until, err)
	}
	if !m2.Drained || m2.DrainUntil == nil || !m2.DrainUntil.Equal(wantUntil) {
		t.Errorf("after restart: %v, want drained until %v", m2, until)
	}
	for _, a := range []string{l.ip(1), l.ip(2), static[0]} {
		adm2.undrain(a)
	}
	waitDNS(t, dnsAddr, www, dns.TypeA, served(l.ips(1, 2, 3)...))
	wantDNS(t, dnsAddr, stat, dns.TypeA, served(static...))
}

// TestHealthReload: SIGHUP with one check changed and one unchanged keeps
// the unchanged target's state (its counters keep growing, its since stays)
// and starts the changed one afresh.
func TestHealthReload(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	pki := newPKI(t, l.ips(1))
	l.backend(1, kindHTTPS, nil, &pki.leaf)
	l.backend(2, kindHTTP, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "ok")
	}), nil)
	const org = "reload.health.test."
	dir := t.TempDir()
	writeFile(t, dir, "ca.pem", string(pki.caPEM))
	zoneText := func(serial int, apiPath string) string {
		z := strings.Replace(testZoneHeader(org), "serial = 1\n", fmt.Sprintf("serial = %d\n", serial), 1)
		// The stable target must stay up through the reload: a loaded
		// machine may let a TLS handshake outlast a short timeout now and
		// then, so it gets a long one and many failures before it falls.
		return z + checkTOML("stable", "https", l.port, "interval = \"1s\"\ntimeout = \"900ms\"\nfall = 10\nrise = 2\nca_file = \"ca.pem\"") +
			checkTOML("api", "http", l.port, fast+"fall = 2\nrise = 2\npath = "+fmt.Sprintf("%q", apiPath)) +
			poolTOML("www", l.ips(1), `check = "stable"`) +
			poolTOML("api", l.ips(2), "check = \"api\"\non_all_down = \"none\"")
	}
	writeFile(t, dir, "zone.toml", zoneText(1, "/missing"))
	s := startServer(t, "-config", writeHealthConfig(t, dir, "", ""))
	adm := adminOf(t, s)
	dnsAddr, www, api := s.addr("4"), "www."+org, "api."+org
	wantDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(1)))
	wantDNS(t, dnsAddr, api, dns.TypeA, nodata)
	if m := adm.member(api, l.ip(2)); m.State != "down" || !strings.Contains(m.LastError, "404") {
		t.Errorf("api member before reload: %v, want down with a 404 reason", m)
	}
	before := adm.waitMember(www, l.ip(1), "probed 5 times", func(m memberDoc) bool { return m.ConsecutiveOK >= 5 })

	writeFile(t, dir, "zone.toml", zoneText(2, "/"))
	mark := s.logMark()
	hup := time.Now()
	s.signal(syscall.SIGHUP)
	line, ok := s.waitLog(mark, healthWait, func(l logLine) bool {
		return l.message() == "reload applied" || strings.HasPrefix(l.message(), "reload failed")
	})
	if !ok || line.message() != "reload applied" {
		t.Fatalf("SIGHUP: %q, want reload applied", line.raw)
	}
	after := adm.member(www, l.ip(1))
	if after.State != "up" || after.Since == nil || !after.Since.Equal(*before.Since) || after.ConsecutiveOK < before.ConsecutiveOK {
		t.Errorf("unchanged target after reload: %v; before: %v; want the same since and consecutive_ok not reset", after, before)
	}
	adm.waitMember(www, l.ip(1), "counting on from before the reload", func(m memberDoc) bool {
		return m.ConsecutiveOK >= before.ConsecutiveOK+3
	})
	if m := adm.member(www, l.ip(1)); !m.Since.Equal(*before.Since) {
		t.Errorf("unchanged target: since %v, was %v", m.Since, before.Since)
	}
	if ls := findLogLines(s, mark, "target up", map[string]string{"target": l.hostport(1)}); len(ls) > 0 {
		t.Errorf("unchanged target was decided afresh after the reload: %s", ls[0].raw)
	}

	// The changed check is a new target, probed at once.
	waitDNS(t, dnsAddr, api, dns.TypeA, served(l.ip(2)))
	if m := adm.member(api, l.ip(2)); m.State != "up" || m.Since == nil || m.Since.Before(hup) || m.LastError != "" {
		t.Errorf("changed target after reload: %v, want a new target, up since after the SIGHUP (%v), with no history", m, hup)
	}
	wantDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(1)))
}

// TestHealthHTTPChecks: wrong status, body mismatch and an untrusted or
// mismatched certificate take a member down with the reason in /status;
// accepted statuses, redirects, the Host override, HEAD, ca_file and
// insecure keep it up.
func TestHealthHTTPChecks(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	pki := newPKI(t, l.ips(2), "backend.test")
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "status: healthy") })
	mux.HandleFunc("/503", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "overloaded", 503) })
	mux.HandleFunc("/sick", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "status: sick") })
	mux.HandleFunc("/teapot", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(418) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://192.0.2.1/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/vhost", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "www.example.test" {
			http.Error(w, "unknown vhost "+r.Host, http.StatusMisdirectedRequest)
		}
	})
	plain := l.backend(1, kindHTTP, mux, nil)
	l.backend(2, kindHTTPS, mux, &pki.leaf)

	const org = "http.health.test."
	dir := t.TempDir()
	writeFile(t, dir, "ca.pem", string(pki.caPEM))
	cases := []struct {
		label, kind, keys string
		up                bool
		reason            string // in last_error when down
	}{
		{"status-default", "http", `path = "/503"`, false, "503"},
		{"status-expect", "http", `expect = ["204"]`, false, "want 204"},
		{"status-list", "http", `path = "/teapot"` + "\n" + `expect = ["200-299", "418"]`, true, ""},
		{"redirect", "http", `path = "/moved"`, true, ""},
		{"redirect-expect", "http", `path = "/moved"` + "\n" + `expect = ["200"]`, false, "302"},
		{"body-bad", "http", `path = "/sick"` + "\n" + `body = "healthy"`, false, "body"},
		{"body-ok", "http", `body = "healthy"`, true, ""},
		{"vhost", "http", `path = "/vhost"` + "\n" + `host = "www.example.test"`, true, ""},
		{"vhost-missing", "http", `path = "/vhost"`, false, "421"},
		{"head", "http", `method = "HEAD"`, true, ""},
		{"tls-untrusted", "https", "", false, "certificate signed by unknown authority"},
		{"tls-ca", "https", `ca_file = "ca.pem"`, true, ""},
		{"tls-insecure", "https", "insecure = true", true, ""},
		{"tls-sni", "https", `ca_file = "ca.pem"` + "\n" + `host = "backend.test"`, true, ""},
		{"tls-sni-wrong", "https", `ca_file = "ca.pem"` + "\n" + `host = "wrong.test"`, false, "not wrong.test"},
		{"https-on-http", "https", "insecure = true", false, "HTTP response to HTTPS client"},
	}
	zone := testZoneHeader(org)
	for _, c := range cases {
		member := l.ip(2)
		if c.kind == "http" || c.label == "https-on-http" {
			member = l.ip(1)
		}
		checkName := strings.ReplaceAll(c.label, "-", "_")
		// A longer timeout than the other tests: a TLS handshake under -race
		// on a loaded machine can take longer than 100 ms, and the reason
		// checked here must be the certificate, not a timeout.
		zone += checkTOML(checkName, c.kind, l.port, "interval = \"1s\"\ntimeout = \"800ms\"\nfall = 2\nrise = 2\n"+c.keys) +
			poolTOML(c.label, []string{member}, fmt.Sprintf("check = %q\non_all_down = \"none\"", checkName))
	}
	writeFile(t, dir, "zone.toml", zone)
	s := startServer(t, "-config", writeHealthConfig(t, dir, "", ""))
	adm := adminOf(t, s)
	dnsAddr := s.addr("4")
	st := adm.status()
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			qname := c.label + "." + org
			p, ok := st.pool(qname)
			if !ok || len(p.Members) != 1 {
				t.Fatalf("/status has no pool %s with one member", qname)
			}
			m := p.Members[0]
			if c.up {
				if m.State != "up" || !m.LastOK {
					t.Errorf("%v, want up", m)
				}
				wantDNS(t, dnsAddr, qname, dns.TypeA, served(m.Address))
				return
			}
			if m.State != "down" || m.LastOK || !strings.Contains(m.LastError, c.reason) {
				t.Errorf("%v, want down with %q in last_error", m, c.reason)
			}
			wantDNS(t, dnsAddr, qname, dns.TypeA, nodata)
		})
	}
	if ua := plain.userAgent(); !strings.HasPrefix(ua, "dnsrr-healthprobe/") {
		t.Errorf("probe User-Agent %q, want dnsrr-healthprobe/...", ua)
	}
}

// TestHealthStartup: the first answer after "serving" is already informed
// by the first probe round (here the only one: the interval is a minute);
// initial_state up and down are what they say until probes decide.
func TestHealthStartup(t *testing.T) {
	t.Parallel()
	t.Run("probe", func(t *testing.T) {
		t.Parallel()
		l := newLab(t)
		l.backend(1, kindHTTP, nil, nil)
		l.backend(3, kindHung, nil, nil) // 2: nothing listens
		const org = "startup.health.test."
		zone := checkTOML("web", "http", l.port, `interval = "1m"`+"\n"+`timeout = "300ms"`) +
			poolTOML("www", l.ips(1, 2, 3), `check = "web"`) +
			poolTOML("*.wild", l.ips(1, 2, 3), `check = "web"`) +
			"\n[records.alias]\ncname = \"www\"\n"
		s, adm, _ := startHealthServer(t, org, zone, "", "")
		dnsAddr := s.addr("4")
		wantDNS(t, dnsAddr, "www."+org, dns.TypeA, served(l.ip(1)))
		wantDNS(t, dnsAddr, "any.wild."+org, dns.TypeA, served(l.ip(1)))
		wantDNS(t, dnsAddr, "alias."+org, dns.TypeA, served(l.ip(1)))
		st := adm.status()
		for i, reason := range map[int]string{2: "refused", 3: "timed out"} {
			if m, _ := st.member("www."+org, l.ip(i)); m.State != "down" || !strings.Contains(m.LastError, reason) {
				t.Errorf("%s: %v, want down with %q", l.ip(i), m, reason)
			}
		}
	})
	t.Run("up", func(t *testing.T) {
		t.Parallel()
		l := newLab(t)
		l.backend(1, kindHTTP, nil, nil)
		const org = "startup-up.health.test."
		zone := checkTOML("web", "http", l.port, `interval = "1m"`+"\nfall = 2") + poolTOML("www", l.ips(1, 2), `check = "web"`)
		s, adm, _ := startHealthServer(t, org, zone, `initial_state = "up"`, "")
		wantDNS(t, s.addr("4"), "www."+org, dns.TypeA, served(l.ips(1, 2)...))
		if m := adm.member("www."+org, l.ip(2)); m.State != "up" || m.ConsecutiveFail != 1 {
			t.Errorf("dead member, initial state up, after one failure of fall 2: %v, want still up", m)
		}
	})
	t.Run("down", func(t *testing.T) {
		t.Parallel()
		l := newLab(t)
		l.backend(1, kindHTTP, nil, nil)
		const org = "startup-down.health.test."
		zone := checkTOML("web", "http", l.port, `interval = "1m"`+"\nrise = 2") +
			poolTOML("www", l.ips(1, 2), "check = \"web\"\non_all_down = \"none\"")
		s, adm, _ := startHealthServer(t, org, zone, `initial_state = "down"`, "")
		wantDNS(t, s.addr("4"), "www."+org, dns.TypeA, nodata)
		if m := adm.member("www."+org, l.ip(1)); m.State != "down" || m.ConsecutiveOK != 1 {
			t.Errorf("live member, initial state down, after one success of rise 2: %v, want still down", m)
		}
	})
}

// TestHealthStatus: the JSON shape of GET /status, a check shared from the
// configuration, one probe for an (address, check) named by two pools, and
// 400 for bad /drain requests.
func TestHealthStatus(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	b1 := l.backend(1, kindHTTP, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
		}
	}), nil)
	const org = "status.health.test."
	shared := checkTOML("shared", "http", l.port, fast+"fall = 2\nrise = 2\npath = \"/health\"")
	zone := poolTOML("www", l.ips(1, 2), `check = "shared"`) +
		poolTOML("alt", l.ips(1), `check = "shared"`) +
		poolTOML("static", []string{"192.0.2.10"}, "")
	s, adm, _ := startHealthServer(t, org, zone, "", shared)
	www := "www." + org
	adm.waitMember(www, l.ip(1), "probed 10 times", func(m memberDoc) bool { return m.ConsecutiveOK >= 10 })

	code, body, ctype := adm.do(http.MethodGet, "/status")
	hits := b1.hits.Load()
	if code != 200 || ctype != "application/json" {
		t.Fatalf("GET /status: %d %q", code, ctype)
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	// server: the host name (no server_name, no nsid); no cluster.
	if got := slices.Sorted(maps.Keys(raw)); !slices.Equal(got, []string{"drains", "pools", "server", "time", "truncated"}) {
		t.Errorf("/status keys %v, want drains pools server time truncated", got)
	}
	if host, _ := os.Hostname(); raw["server"] != host {
		t.Errorf("/status server %v, want the host name %q", raw["server"], host)
	}
	pools, _ := raw["pools"].([]any)
	byName := map[string]map[string]any{}
	for _, p := range pools {
		pm, _ := p.(map[string]any)
		byName[fmt.Sprint(pm["name"])] = pm
	}
	if len(byName) != 3 {
		t.Fatalf("/status pools %v, want www, alt and static", slices.Sorted(maps.Keys(byName)))
	}
	members := func(pool string) map[string]map[string]any {
		out := map[string]map[string]any{}
		ms, _ := byName[pool]["members"].([]any)
		for _, m := range ms {
			mm, _ := m.(map[string]any)
			out[fmt.Sprint(mm["address"])] = mm
		}
		return out
	}
	if p := byName[www]; p["check"] != "shared" || p["on_all_down"] != "all" {
		t.Errorf("pool www: check %v, on_all_down %v; want shared, all", p["check"], p["on_all_down"])
	}
	up, down := members(www)[l.ip(1)], members(www)[l.ip(2)]
	wantKeys := func(what string, m map[string]any, keys ...string) {
		t.Helper()
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				t.Errorf("%s: no %q in %v", what, k, m)
			}
		}
	}
	times := []string{"since", "last_check"}
	wantKeys("up member", up, append(times, "address", "state", "serving", "drained", "last_ok", "consecutive_ok", "consecutive_fail")...)
	wantKeys("down member", down, append(times, "last_error", "last_failure")...)
	if up["state"] != "up" || up["serving"] != true || up["last_ok"] != true || down["state"] != "down" || down["serving"] != false {
		t.Errorf("members: up %v, down %v", up, down)
	}
	for _, m := range []map[string]any{up, down} {
		for _, k := range append(times, "last_failure") {
			if v, ok := m[k]; ok {
				if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(v)); err != nil {
					t.Errorf("%s = %v: not an RFC 3339 time", k, v)
				}
			}
		}
		for _, k := range []string{"consecutive_ok", "consecutive_fail"} {
			if _, ok := m[k].(float64); !ok {
				t.Errorf("%s = %v: not a number", k, m[k])
			}
		}
	}
	stat := byName["static."+org]
	sm := members("static." + org)["192.0.2.10"]
	if _, has := stat["check"]; has || sm["state"] != "static" || sm["serving"] != true || sm["since"] != nil || sm["last_check"] != nil {
		t.Errorf("static pool %v: want no check, member state static, serving, no since or last_check", stat)
	}

	// www's and alt's first lab address are one target: one probe, one status.
	alt := members("alt." + org)[l.ip(1)]
	if alt["last_check"] != up["last_check"] || alt["consecutive_ok"] != up["consecutive_ok"] {
		t.Errorf("same address and check in two pools: last_check %v / %v, consecutive_ok %v / %v; want one target", up["last_check"], alt["last_check"], up["consecutive_ok"], alt["consecutive_ok"])
	}
	if ok := int64(up["consecutive_ok"].(float64)); hits > ok*3/2+2 {
		t.Errorf("backend saw %d requests for %d successful probes: probed more than once per interval", hits, ok)
	}

	// A timed drain shows in drains and on the member.
	adm.drain("192.0.2.10", "1h")
	st := adm.status()
	if len(st.Drains) != 1 || st.Drains[0].Address != "192.0.2.10" || st.Drains[0].Until == nil {
		t.Errorf("drains %+v, want 192.0.2.10 with an until", st.Drains)
	}
	if m, _ := st.member("static."+org, "192.0.2.10"); m.DrainUntil == nil || !m.DrainUntil.Equal(*st.Drains[0].Until) {
		t.Errorf("drained static member %v, want drain_until %v", m, st.Drains[0].Until)
	}
	adm.undrain("192.0.2.10")

	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"POST", "/drain", 400},
		{"POST", "/drain?address=", 400},
		{"POST", "/drain?address=not-an-ip", 400},
		{"POST", "/drain?address=127.0.0.300", 400},
		{"POST", "/drain?address=" + l.ip(1) + "&for=soon", 400},
		{"POST", "/drain?address=" + l.ip(1) + "&for=-5s", 400},
		{"POST", "/drain?address=" + l.ip(1) + "&for=0s", 400},
		{"DELETE", "/drain", 400},
		{"DELETE", "/drain?address=www", 400},
		{"DELETE", "/drain?address=192.0.2.99", 404},
		{"GET", "/drain", 405},
		{"POST", "/status", 405},
	} {
		code, body, _ := adm.do(c.method, c.path)
		if code != c.code {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, code, body, c.code)
			continue
		}
		if code == 400 || code == 404 {
			var e map[string]string
			if err := json.Unmarshal(body, &e); err != nil || e["error"] == "" {
				t.Errorf("%s %s: %d body %q, want {\"error\": ...}", c.method, c.path, code, body)
			}
		}
	}
	if d := adm.status().Drains; len(d) != 0 {
		t.Errorf("bad requests left drains: %+v", d)
	}
	wantDNS(t, s.addr("4"), www, dns.TypeA, served(l.ip(1)))
}

// TestHealthPerFamily: each address family is judged on its own, so IPv6
// clients are not withdrawn from because the IPv4 members are down.
func TestHealthPerFamily(t *testing.T) {
	t.Parallel()
	if !haveIPv6 {
		t.Skip("no IPv6 loopback")
	}
	l := newLab(t)
	v6 := &backend{t: t, addr: fmt.Sprintf("[::1]:%d", l.port), kind: kindTCP}
	if ln, err := net.Listen("tcp", v6.addr); err != nil {
		t.Skipf("port %d is taken on ::1: %v", l.port, err)
	} else {
		ln.Close()
	}
	t.Cleanup(v6.stop)
	v6.start()
	const org = "family.health.test."
	zone := checkTOML("conn", "tcp", l.port, fast+"fall = 2\nrise = 1") +
		poolTOML("www", []string{l.ip(1), l.ip(2), "::1"}, "check = \"conn\"\non_all_down = \"none\"")
	s, _, _ := startHealthServer(t, org, zone, "", "")
	dnsAddr := s.addr("4")
	wantDNS(t, dnsAddr, "www."+org, dns.TypeA, nodata)
	wantDNS(t, dnsAddr, "www."+org, dns.TypeAAAA, served("::1"))
	l.backend(2, kindTCP, nil, nil)
	waitDNS(t, dnsAddr, "www."+org, dns.TypeA, served(l.ip(2)))
	v6.stop()
	waitDNS(t, dnsAddr, "www."+org, dns.TypeAAAA, nodata)
	wantDNS(t, dnsAddr, "www."+org, dns.TypeA, served(l.ip(2)))
}
