package integration

// /healthz, /readyz and the status page at / (internal/app/endpoints.go,
// statuspage.go), over HTTP; statuspage_browser_test.go reads the page in
// a real browser.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// readyWait bounds the waits of these tests for a state the server reaches
// on its own: generous, as the machine may be loaded.
const readyWait = 60 * time.Second

// adminListening waits for the "admin API listening" line of the read-only
// (status_listen) or the admin listener and returns its client. The line
// comes before "serving": the API answers during the first probe round.
func adminListening(t *testing.T, s *server, readOnly bool) *admin {
	t.Helper()
	line, ok := s.waitLog(0, startTimeout, func(l logLine) bool {
		ro, _ := l.fields["read_only"].(bool)
		return l.message() == "admin API listening" && ro == readOnly
	})
	if !ok {
		t.Fatalf("no \"admin API listening\" line with read_only %v within %v", readOnly, startTimeout)
	}
	a := line.str("addr")
	if _, port, err := net.SplitHostPort(a); err != nil || port == "0" {
		t.Fatalf("admin API listening on %q, want the bound address: %s", a, line.raw)
	}
	return &admin{t: t, base: "http://" + a}
}

// servingAddrs reads the DNS addresses from the "serving" line.
func servingAddrs(t *testing.T, s *server) {
	t.Helper()
	line, ok := s.waitLog(0, startTimeout, func(l logLine) bool { return l.message() == "serving" })
	if !ok {
		t.Fatalf("no serving line within %v", startTimeout)
	}
	raw, _ := line.fields["addrs"].([]any)
	for _, a := range raw {
		if as, ok := a.(string); ok {
			s.addrs = append(s.addrs, as)
		}
	}
}

// waitHTTP polls path until it answers code, and returns the body.
func (a *admin) waitHTTP(path string, code int, what string) string {
	a.t.Helper()
	deadline := time.Now().Add(readyWait)
	for {
		got, body, _ := a.do(http.MethodGet, path)
		if got == code {
			return string(body)
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("GET %s: still %d %q after %v, want %d (%s)", path, got, body, readyWait, code, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReadyzFirstRound: while the first probe round waits on a backend
// that holds its health check, /readyz is 503 and says so, on the admin and
// the status listener, /healthz is 200 and DNS is not served; once the
// backend answers, /readyz turns 200 and DNS answers with the member up.
func TestReadyzFirstRound(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	arrived := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	l.backend(1, kindHTTP, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, "ok")
	}), nil)
	released := false
	releaseOnce := func() {
		if !released {
			released = true
			close(release)
		}
	}
	t.Cleanup(releaseOnce)

	const org = "ready.status.test."
	// A timeout far beyond the test's waits: only the release ends the probe.
	zone := checkTOML("web", "http", l.port, `interval = "10m"`+"\n"+`timeout = "5m"`) +
		poolTOML("www", l.ips(1), `check = "web"`)
	dir := t.TempDir()
	writeFile(t, dir, "zone.toml", testZoneHeader(org)+zone)
	cfg := writeHealthConfig(t, dir, `status_listen = "127.0.0.1:0"`, "")
	s := startProcess(t, append([]string{"serve", "-log-format", "json", "-config", cfg}, listenArgs()...)...)
	adm, ro := adminListening(t, s, false), adminListening(t, s, true)

	select {
	case <-arrived:
	case <-time.After(readyWait):
		t.Fatalf("the health check did not reach the backend within %v", readyWait)
	}
	// The probe is held: the first round cannot be over.
	for _, a := range []*admin{adm, ro} {
		code, body, ct := a.do(http.MethodGet, "/readyz")
		if code != http.StatusServiceUnavailable || string(body) != "not ready: first probe round running: 1 of 1 targets not probed yet\n" ||
			ct != "text/plain; charset=utf-8" {
			t.Errorf("%s/readyz while the first round runs: %d %q %q, want 503 with the reason", a.base, code, body, ct)
		}
		if code, body, _ := a.do(http.MethodGet, "/healthz"); code != http.StatusOK || string(body) != "ok\n" {
			t.Errorf("%s/healthz while the first round runs: %d %q, want 200", a.base, code, body)
		}
		if code, body, _ := a.do(http.MethodGet, "/"); code != http.StatusOK ||
			!strings.Contains(string(body), "no: first probe round running") || !strings.Contains(string(body), `class="state-unknown"`) {
			t.Errorf("%s/ while the first round runs: %d, want the page to say not ready and the member unknown:\n%s", a.base, code, body)
		}
	}
	if lines := findLogLines(s, 0, "serving", nil); len(lines) > 0 {
		// Only if the machine took firstRoundLimit (30 s) to get here.
		t.Logf("DNS was served before the release (first round given up): %s", lines[0].raw)
	}

	releaseOnce()
	adm.waitHTTP("/readyz", http.StatusOK, "ready once the first round is over")
	if code, body, _ := ro.do(http.MethodGet, "/readyz"); code != http.StatusOK || string(body) != "ready\n" {
		t.Errorf("status listener /readyz after the first round: %d %q", code, body)
	}
	servingAddrs(t, s)
	wantDNS(t, s.addr("4"), "www."+org, dns.TypeA, served(l.ip(1)))
	if m := adm.member("www."+org, l.ip(1)); m.State != "up" {
		t.Errorf("member after its first probe: %v, want up", m)
	}
}

// evilBackend answers every HTTP request with a 503 whose reason phrase is
// markup: the prober's error string carries it to the page.
func evilBackend(t *testing.T, addr, reason string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil || line == "\r\n" {
						break
					}
				}
				fmt.Fprintf(c, "HTTP/1.1 503 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", reason)
			})
		}
	})
}

// TestStatusPageHTTP: the page's markup as served on both listeners: what
// it shows of the server, zone and members, escaping of an error string a
// backend chose, drains, paging parameters, and the Host check.
func TestStatusPageHTTP(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.backend(1, kindHTTP, nil, nil)
	const evil = `<script>alert(1)</script>`
	evilBackend(t, l.hostport(2), evil)
	// 3: nothing listens.
	const org = "page.status.test."
	zone := checkTOML("web", "http", l.port, fast) +
		poolTOML("www", l.ips(1, 2, 3), `check = "web"`) +
		poolTOML("static", []string{"192.0.2.1", "192.0.2.2"}, "")
	dir := t.TempDir()
	writeFile(t, dir, "zone.toml", testZoneHeader(org)+zone)
	cfg := writeFile(t, dir, "dnsrr.toml", `zones = ["zone.toml"]
nsid = "page-test-nsid"

[health]
admin = "127.0.0.1:0"
status_listen = "127.0.0.1:0"
`)
	s := startServer(t, "-config", cfg)
	adm, ro := adminOf(t, s), adminListening(t, s, true)
	www := "www." + org
	adm.waitMember(www, l.ip(2), "down with the backend's reason", func(m memberDoc) bool {
		return m.State == "down" && strings.Contains(m.LastError, evil)
	})
	adm.waitMember(www, l.ip(3), "down", func(m memberDoc) bool { return m.State == "down" })
	adm.drain(l.ip(1), "30m")

	for _, a := range []*admin{adm, ro} {
		code, raw, ct := a.do(http.MethodGet, "/")
		body := string(raw)
		if code != http.StatusOK || ct != "text/html; charset=utf-8" {
			t.Fatalf("%s/: %d %q", a.base, code, ct)
		}
		if strings.Contains(body, "<script") {
			t.Errorf("%s/: the backend's <script> reached the page unescaped", a.base)
		}
		for _, want := range []string{
			"&lt;script&gt;alert(1)&lt;/script&gt;",
			"page-test-nsid",
			`<dd id="ready" class="good">yes</dd>`,
			`<tr data-zone="page.status.test.">`,
			`<td data-label="Serial">1</td>`,
			`<section class="pool" data-pool="www.page.status.test.">`,
			`<tr data-member="` + l.ip(2) + `" class="state-down">`,
			`<tr data-member="` + l.ip(1) + `" class="state-up">`,
			`<span class="bad">drained</span>`,
			`<tr data-drain="` + l.ip(1) + `">`,
			`2 of 2 served`, // the static pool
			`<span class="state">no check</span>`,
			`<meta http-equiv="refresh" content="10">`,
			`name="viewport"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s/ lacks %q", a.base, want)
			}
		}
	}
	// What DNS serves agrees with the page's "served" column.
	servedWWW := adm.status()
	for i := 1; i <= 3; i++ {
		m, _ := servedWWW.member(www, l.ip(i))
		_, body, _ := adm.do(http.MethodGet, "/?pool="+www)
		row := rowOf(string(body), l.ip(i))
		if want := map[bool]string{true: ">served<", false: ">not served<"}[m.Serving]; !strings.Contains(row, want) {
			t.Errorf("member %s: /status says serving=%v, the page's row: %s", l.ip(i), m.Serving, row)
		}
	}

	for path, want := range map[string]int{
		"/?limit=0":                  http.StatusBadRequest,
		"/?address=x":                http.StatusBadRequest,
		"/?pool=nope." + org:         http.StatusNotFound,
		"/?pool=" + www + "&limit=1": http.StatusOK,
		"/index.html":                http.StatusNotFound,
	} {
		if code, body, _ := ro.do(http.MethodGet, path); code != want {
			t.Errorf("GET %s: %d, want %d: %s", path, code, want, body)
		}
	}
	if code, _, _ := ro.do(http.MethodPost, "/drain?address="+l.ip(2)); code != http.StatusForbidden {
		t.Errorf("POST /drain on the status listener: %d, want 403", code)
	}
	// A page from elsewhere, through a name that resolves to loopback, is
	// refused: Host must name the listener.
	for _, a := range []*admin{adm, ro} {
		req, _ := http.NewRequest(http.MethodGet, a.base+"/", nil)
		req.Host = "rebind.example:80"
		resp, err := adminClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s/ with Host %s: %d, want 403", a.base, req.Host, resp.StatusCode)
		}
	}
}

// rowOf is the <tr> of member addr in an HTML page.
func rowOf(body, addr string) string {
	i := strings.Index(body, `<tr data-member="`+addr+`"`)
	if i < 0 {
		return ""
	}
	j := strings.Index(body[i:], "</tr>")
	if j < 0 {
		return body[i:]
	}
	return body[i : i+j]
}
