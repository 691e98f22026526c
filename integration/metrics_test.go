package integration

import (
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape is one /metrics response, parsed.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics GETs base/metrics and parses it with Prometheus's own
// text parser.
func scrapeMetrics(t *testing.T, base string) scrape {
	t.Helper()
	resp, err := adminClient.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", base, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics of %s: %v", base, err)
	}
	return fams
}

// value is the value of the series of name whose labels include labels
// ("k=v" each); ok false when there is none.
func (s scrape) value(name string, labels ...string) (float64, bool) {
	f, ok := s[name]
	if !ok {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for _, kv := range labels {
			k, v, _ := strings.Cut(kv, "=")
			if have[k] != v {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// series lists the label sets of name's series, "k=v,k=v" each, sorted,
// with their values.
func (s scrape) series(name string) []string {
	var out []string
	for _, m := range s[name].GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		v, _ := s.value(name, ls...)
		out = append(out, fmt.Sprintf("%s %g", strings.Join(ls, ","), v))
	}
	sort.Strings(out)
	return out
}

// want checks one series' value.
func (s scrape) want(t *testing.T, v float64, name string, labels ...string) {
	t.Helper()
	got, ok := s.value(name, labels...)
	if !ok {
		t.Errorf("%s%v: no such series; have %v", name, labels, s.series(name))
		return
	}
	if got != v {
		t.Errorf("%s%v = %g, want %g", name, labels, got, v)
	}
}

// metricsZone has a TXT set too large for 512 bytes: TC over UDP without
// EDNS.
func metricsZone(origin, serial string) string {
	big := strings.Repeat("x", 200)
	return strings.Replace(testZoneHeader(origin), "serial = 1", "serial = "+serial, 1) + fmt.Sprintf(`
[pools.www]
addresses = ["192.0.2.1", "192.0.2.2", "2001:db8::1"]

[records.big]
txt = ["%s", "%s", "%s"]
`, big, big+"y", big+"z")
}

// TestMetricsAfterQueries sends real queries of every kind over UDP and
// TCP, then scrapes /metrics from the admin and the status listeners and
// checks the exact counts; then reloads (a new serial, then a broken
// file) and checks the zone and reload metrics follow.
func TestMetricsAfterQueries(t *testing.T) {
	t.Parallel()
	const origin = "metrics.test."
	dir := t.TempDir()
	zone := writeFile(t, dir, "zone.toml", metricsZone(origin, "7"))
	cfg := writeFile(t, dir, "dnsrr.toml", `zones = ["zone.toml"]
[health]
admin = "127.0.0.1:0"
status_listen = "127.0.0.1:0"
`)
	s := startServer(t, "-config", cfg, "-listen", "127.0.0.1:0")
	line, ok := s.waitLog(0, startTimeout, func(l logLine) bool { return l.message() == "serving" })
	if !ok {
		t.Fatal("no serving line")
	}
	adminBase, statusBase := "http://"+line.str("admin"), "http://"+line.str("status")
	addr := s.addr("4")

	ask := func(network, qname string, qtype uint16, edns bool) *dns.Msg {
		t.Helper()
		m := newQuery(qname, qtype)
		if edns {
			m = newEDNSQuery(qname, qtype, 1232)
		}
		return exchange(t, network, addr, m)
	}
	for range 3 {
		ask("udp", "www."+origin, dns.TypeA, true)
	}
	ask("udp", "www."+origin, dns.TypeAAAA, false)
	if r := ask("udp", "nope."+origin, dns.TypeA, true); r.Rcode != dns.RcodeNameError {
		t.Fatalf("nope: %s", dns.RcodeToString[r.Rcode])
	}
	if r := ask("udp", "www.example.org.", dns.TypeA, true); r.Rcode != dns.RcodeRefused {
		t.Fatalf("out of zone: %s", dns.RcodeToString[r.Rcode])
	}
	// exchange retries a truncated answer over TCP; send it raw instead.
	if r := rawExchange(t, "udp", addr, pack(t, newQuery("big."+origin, dns.TypeTXT))); !r.Truncated {
		t.Fatalf("big TXT over UDP without EDNS: not truncated:\n%v", r)
	}
	ask("tcp", "big."+origin, dns.TypeTXT, false)
	ask("tcp", "www."+origin, dns.TypeA, false)
	ask("tcp", origin, dns.TypeMX, true)
	withCookie := newEDNSQuery("www."+origin, dns.TypeA, 1232)
	withCookie.IsEdns0().Option = append(withCookie.IsEdns0().Option,
		&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
	exchange(t, "udp", addr, withCookie)
	// A response is never answered: dropped, counted.
	resp := newQuery("www."+origin, dns.TypeA)
	resp.Response = true
	if out, err := rawUDP(t, addr, pack(t, resp), 300*time.Millisecond); err == nil {
		t.Fatalf("a response was answered: %x", out)
	}

	for _, base := range []string{adminBase, statusBase} {
		m := scrapeMetrics(t, base)
		q := "dnsrr_queries_total"
		m.want(t, 4, q, "transport=udp", "qtype=A", "rcode=NOERROR") // 3 and the cookie one
		m.want(t, 1, q, "transport=udp", "qtype=AAAA", "rcode=NOERROR")
		m.want(t, 1, q, "transport=udp", "qtype=A", "rcode=NXDOMAIN")
		m.want(t, 1, q, "transport=udp", "qtype=A", "rcode=REFUSED")
		m.want(t, 1, q, "transport=udp", "qtype=TXT", "rcode=NOERROR")
		m.want(t, 1, q, "transport=tcp", "qtype=TXT", "rcode=NOERROR")
		m.want(t, 1, q, "transport=tcp", "qtype=A", "rcode=NOERROR")
		m.want(t, 1, q, "transport=tcp", "qtype=MX", "rcode=NOERROR")
		if got := m.series(q); len(got) != 8 {
			t.Errorf("%d series of %s, want 8: %v", len(got), q, got)
		}
		m.want(t, 1, "dnsrr_responses_truncated_total", "transport=udp")
		m.want(t, 0, "dnsrr_responses_truncated_total", "transport=tcp")
		m.want(t, 1, "dnsrr_queries_dropped_total", "transport=udp", "reason=not_query")
		m.want(t, 0, "dnsrr_queries_dropped_total", "transport=udp", "reason=rrl")
		// Every answer is measured once.
		m.want(t, 8, "dnsrr_answer_duration_seconds", "transport=udp")
		m.want(t, 3, "dnsrr_answer_duration_seconds", "transport=tcp")
		m.want(t, 1, "dnsrr_cookies_total", "result=client_only")
		m.want(t, 3, "dnsrr_tcp_connections_accepted_total")
		m.want(t, 0, "dnsrr_tcp_connections_refused_total")
		m.want(t, 7, "dnsrr_zone_serial", "zone="+origin)
		m.want(t, 9, "dnsrr_zone_records", "zone="+origin) // SOA, NS, ns1 A, 3 www, 3 TXT
		m.want(t, 1, "dnsrr_zone_last_reload_success", "zone="+origin)
		m.want(t, 0, "dnsrr_reloads_total", "result=success")
		if _, ok := m["go_goroutines"]; !ok {
			t.Error("no Go runtime metrics")
		}
		if _, ok := m["process_open_fds"]; !ok {
			t.Error("no process metrics")
		}
	}

	// Only GET and HEAD.
	req, _ := http.NewRequest(http.MethodPost, adminBase+"/metrics", nil)
	if resp, err := adminClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %v %v, want 405", resp, err)
	} else {
		resp.Body.Close()
	}

	// A reload with a new serial: applied, and the zone's metrics follow.
	loadedBefore, _ := scrapeMetrics(t, statusBase).value("dnsrr_zone_last_load_timestamp_seconds", "zone="+origin)
	writeFile(t, dir, "zone.toml", metricsZone(origin, "8"))
	mark := s.logMark()
	s.signal(syscall.SIGHUP)
	if _, ok := s.waitLog(mark, 60*time.Second, func(l logLine) bool { return l.message() == "reload applied" }); !ok {
		t.Fatal("no reload applied")
	}
	m := scrapeMetrics(t, statusBase)
	m.want(t, 8, "dnsrr_zone_serial", "zone="+origin)
	m.want(t, 1, "dnsrr_zone_last_reload_success", "zone="+origin)
	m.want(t, 1, "dnsrr_reloads_total", "result=success")
	m.want(t, 0, "dnsrr_reloads_total", "result=failure")
	m.want(t, 1, "dnsrr_last_reload_success")
	if at, _ := m.value("dnsrr_zone_last_load_timestamp_seconds", "zone="+origin); at <= loadedBefore {
		t.Errorf("zone load time %v after the reload, was %v", at, loadedBefore)
	}

	// A broken file: the old zone is kept, and the metrics say so.
	if err := os.WriteFile(zone, []byte("origin = \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mark = s.logMark()
	s.signal(syscall.SIGHUP)
	if _, ok := s.waitLog(mark, 60*time.Second, func(l logLine) bool { return l.message() == "reload failed, keeping old zones" }); !ok {
		t.Fatal("no reload failed")
	}
	m = scrapeMetrics(t, statusBase)
	m.want(t, 8, "dnsrr_zone_serial", "zone="+origin)
	m.want(t, 0, "dnsrr_zone_last_reload_success", "zone="+origin)
	m.want(t, 1, "dnsrr_reloads_total", "result=success")
	m.want(t, 1, "dnsrr_reloads_total", "result=failure")
	m.want(t, 0, "dnsrr_last_reload_success")
}

// TestMetricsOff: [metrics] enabled = false serves no /metrics.
func TestMetricsOff(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "zone.toml", metricsZone("off.metrics.test.", "1"))
	cfg := writeFile(t, dir, "dnsrr.toml", `zones = ["zone.toml"]
[health]
admin = "127.0.0.1:0"
[metrics]
enabled = false
`)
	s := startServer(t, "-config", cfg, "-listen", "127.0.0.1:0")
	code, _, _ := adminOf(t, s).do(http.MethodGet, "/metrics")
	if code != http.StatusNotFound {
		t.Errorf("GET /metrics with metrics off: %d, want 404", code)
	}
}

// TestMetricsHealth: a real backend goes down; the member's state, probe
// failures by reason, failures in a row and transitions follow, per
// member and per pool; with max_member_series below the members, only the
// pool's series remain.
func TestMetricsHealth(t *testing.T) {
	t.Parallel()
	for _, perMember := range []bool{true, false} {
		t.Run(fmt.Sprintf("per-member=%v", perMember), func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			var bs []*backend
			for i := 1; i <= 3; i++ {
				bs = append(bs, l.backend(i, kindHTTP, nil, nil))
			}
			org := fmt.Sprintf("m%v.metrics.health.test.", perMember)
			zone := checkTOML("web", kindHTTP, l.port, fast+"fall = 2\nrise = 2") +
				poolTOML("www", l.ips(1, 2, 3), `check = "web"`)
			tail := ""
			if !perMember {
				tail = "[metrics]\nmax_member_series = 2\n"
			}
			s, adm, _ := startHealthServer(t, org, zone, "", tail)
			www := "www." + org
			m := scrapeMetrics(t, adm.base)
			m.want(t, 3, "dnsrr_pool_members", "pool="+www, "state=up")
			m.want(t, 3, "dnsrr_probe_targets", "state=up")

			bs[1].stop()
			waitDNS(t, s.addr("4"), www, dns.TypeA, served(l.ip(1), l.ip(3)))
			// The member is down once DNS withdrew it; its failures go on
			// being counted, so wait for fall (2) of them and read once.
			member := l.ip(2)
			deadline := time.Now().Add(60 * time.Second)
			for {
				m = scrapeMetrics(t, adm.base)
				n, _ := m.value("dnsrr_probe_failures_total", "reason=refused")
				if n >= 2 || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			m.want(t, 1, "dnsrr_pool_members", "pool="+www, "state=down")
			m.want(t, 2, "dnsrr_pool_members", "pool="+www, "state=up")
			m.want(t, 1, "dnsrr_probe_targets", "state=down")
			m.want(t, 1, "dnsrr_probe_transitions_total")
			failures, _ := m.value("dnsrr_probe_failures_total", "reason=refused")
			if failures < 2 {
				t.Errorf("refused failures %v, want at least fall (2)", failures)
			}
			if perMember {
				m.want(t, 1, "dnsrr_pool_member_state", "pool="+www, "member="+member, "state=down")
				m.want(t, 0, "dnsrr_pool_member_state", "pool="+www, "member="+member, "state=up")
				m.want(t, 1, "dnsrr_pool_member_state", "pool="+www, "member="+l.ip(1), "state=up")
				m.want(t, 1, "dnsrr_pool_member_transitions_total", "pool="+www, "member="+member)
				m.want(t, 0, "dnsrr_pool_member_transitions_total", "pool="+www, "member="+l.ip(3))
				// The totals are read a moment before the members' (a
				// probe may land between): the member's own series agree.
				mf, _ := m.value("dnsrr_pool_member_probe_failures_total", "pool="+www, "member="+member, "reason=refused")
				if mf < failures {
					t.Errorf("member's refused failures %v, fewer than the total %v read before", mf, failures)
				}
				// The member failed only since it went down, so its failures
				// in a row are all its failures. A probe can land between the
				// reads of the two series in one scrape (every 400 ms here, more
				// often than a scrape on a loaded machine), so scrape until one
				// scrape reads both between two probes.
				for agree := time.Now().Add(60 * time.Second); ; {
					cf, _ := m.value("dnsrr_pool_member_consecutive_failures", "pool="+www, "member="+member)
					if cf == mf || time.Now().After(agree) {
						m.want(t, mf, "dnsrr_pool_member_consecutive_failures", "pool="+www, "member="+member)
						break
					}
					m = scrapeMetrics(t, adm.base)
					mf, _ = m.value("dnsrr_pool_member_probe_failures_total", "pool="+www, "member="+member, "reason=refused")
				}
				if d, ok := m.value("dnsrr_pool_member_probe_duration_seconds", "pool="+www, "member="+l.ip(1)); !ok || d <= 0 {
					t.Errorf("probe duration of an up member: %v %v", d, ok)
				}
				if _, ok := m["dnsrr_pool_probe_failures_total"]; ok {
					t.Error("pool failure series beside the members'")
				}
			} else {
				for _, name := range []string{"dnsrr_pool_member_state", "dnsrr_pool_member_probe_failures_total", "dnsrr_pool_member_transitions_total"} {
					if _, ok := m[name]; ok {
						t.Errorf("%s present with 3 members over max_member_series 2", name)
					}
				}
				if pf, _ := m.value("dnsrr_pool_probe_failures_total", "pool="+www, "reason=refused"); pf < failures {
					t.Errorf("pool's refused failures %v, fewer than the total %v read before", pf, failures)
				}
				m.want(t, 1, "dnsrr_pool_transitions_total", "pool="+www)
			}

			// Drained and back: the gauges follow, the transition count stays.
			adm.drain(l.ip(1), "")
			m = scrapeMetrics(t, adm.base)
			m.want(t, 1, "dnsrr_pool_members_drained", "pool="+www)
			m.want(t, 1, "dnsrr_drained_addresses")
			if perMember {
				m.want(t, 1, "dnsrr_pool_member_drained", "pool="+www, "member="+l.ip(1))
			}
		})
	}
}

// TestMetricsRateLimiting: what rate limiting does to a client over its
// limit shows in its own counters and in the answers': every limited
// response is slipped (counted truncated) or dropped (counted as a drop).
func TestMetricsRateLimiting(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const origin = "rrl.metrics.test."
	writeFile(t, dir, "zone.toml", metricsZone(origin, "1"))
	cfg := writeFile(t, dir, "dnsrr.toml", `zones = ["zone.toml"]
[health]
admin = "127.0.0.1:0"
[rrl]
responses_per_second = 1
exempt_loopback = false
slip = 2
`)
	s := startServer(t, "-config", cfg, "-listen", "127.0.0.1:0")
	adm := adminOf(t, s)
	addr := s.addr("4")
	// At 1 a second, most of a quick run of queries is limited, however
	// slow the machine: each answered one must be sent within a second
	// of the previous for the next to be limited.
	const n = 20
	pkt := pack(t, newEDNSQuery("www."+origin, dns.TypeA, 1232))
	for range n {
		_, _ = rawUDPFrom(t, "127.0.0.10", addr, pkt, 100*time.Millisecond)
	}
	m := scrapeMetrics(t, adm.base)
	passed, _ := m.value("dnsrr_rrl_responses_total", "verdict=passed")
	slipped, _ := m.value("dnsrr_rrl_responses_total", "verdict=slipped")
	rrlDropped, _ := m.value("dnsrr_rrl_responses_total", "verdict=dropped")
	if passed+slipped+rrlDropped != n || slipped == 0 || rrlDropped == 0 {
		t.Errorf("rrl passed %v, slipped %v, dropped %v; want %d in all, some slipped and dropped", passed, slipped, rrlDropped, n)
	}
	m.want(t, rrlDropped, "dnsrr_queries_dropped_total", "transport=udp", "reason=rrl")
	m.want(t, slipped, "dnsrr_responses_truncated_total", "transport=udp")
	m.want(t, passed+slipped, "dnsrr_queries_total", "transport=udp", "qtype=A", "rcode=NOERROR")
	if e, _ := m.value("dnsrr_rrl_episodes_total"); e < 1 {
		t.Errorf("%v limiting episodes, want at least 1", e)
	}
}

// TestMetricsTCPLimits: at [tcp] max_connections = 1, an idle connection
// gives way to a new one, and /metrics counts the eviction; the open
// connection shows as open.
func TestMetricsTCPLimits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const origin = "tcp.metrics.test."
	writeFile(t, dir, "zone.toml", metricsZone(origin, "1"))
	cfg := writeFile(t, dir, "dnsrr.toml", `zones = ["zone.toml"]
[health]
admin = "127.0.0.1:0"
[tcp]
max_connections = 1
`)
	s := startServer(t, "-config", cfg, "-listen", "127.0.0.1:0")
	adm := adminOf(t, s)
	addr := s.addr("4")
	idle := dialTCP(t, addr)
	defer idle.Close()
	exchangeConn(t, idle, newQuery("www."+origin, dns.TypeA)) // now idle, evictable after 200 ms
	// A new connection evicts the idle one once it has been idle long
	// enough; until then it waits in the listen queue. Either way its
	// query is answered.
	fresh := dialTCP(t, addr)
	defer fresh.Close()
	exchangeConn(t, fresh, newQuery("www."+origin, dns.TypeAAAA))
	m := scrapeMetrics(t, adm.base)
	m.want(t, 1, "dnsrr_tcp_connections_evicted_total")
	m.want(t, 2, "dnsrr_tcp_connections_accepted_total")
	m.want(t, 1, "dnsrr_tcp_connections_open")
	m.want(t, 1, "dnsrr_tcp_connections_max")
	m.want(t, 0, "dnsrr_tcp_connections_refused_total")
	m.want(t, 1, "dnsrr_queries_total", "transport=tcp", "qtype=A", "rcode=NOERROR")
	m.want(t, 1, "dnsrr_queries_total", "transport=tcp", "qtype=AAAA", "rcode=NOERROR")
}
