package app

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/healthprobe"
	"github.com/rs/zerolog"
)

// testPage is the status page of h's zones, served by a server that is
// not listening (the page asks it only what it answers).
func testPage(t *testing.T, h *health) *statusPage {
	t.Helper()
	srv := dnsrr.New(nil, dnsrr.Chaos{ID: "ns1.example"}, h.plan.snap, zerolog.Nop())
	srv.SetHealth(h)
	p := &statusPage{health: h, srv: srv, ready: newReadiness(notReadyListening), version: "v-test",
		id: "ns1.example", started: time.Now().Add(-time.Hour), maxPools: healthprobe.DefaultMaxGroups}
	p.served(h.plan.snap, time.Now(), "nsid-test")
	return p
}

func getPage(t *testing.T, h http.Handler, query string) (int, string, http.Header) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/"+query, nil))
	return w.Code, w.Body.String(), w.Header()
}

var (
	poolAttr   = regexp.MustCompile(`data-pool="([^"]*)"`)
	memberAttr = regexp.MustCompile(`data-member="`)
	nextLink   = regexp.MustCompile(`<a href="(\?[^"]*)" rel="next">`)
)

// TestStatusPageBounds: a zone of 200,000 pools gives a page of 50 pools
// (limit= up to status_max_pools), a page of pools with many members
// stops at pageMaxMembers rows, a pool of 3,000 members shows
// pagePoolMembers of them (a pool holds at most 4096: [limits] max_rrset_records), and following "next page" walks the pools in
// order without repeating one.
func TestStatusPageBounds(t *testing.T) {
	const pools = 200_000
	var b strings.Builder
	for i := range pools {
		fmt.Fprintf(&b, "p%06d IN A 10.%d.%d.1\np%06d IN A 10.%d.%d.2\n", i, i/256%256, i%256, i, i/256%256, i%256)
	}
	for i := range 3000 {
		fmt.Fprintf(&b, "zbig IN A 172.16.%d.%d\n", i/250, i%250+1)
	}
	start := time.Now()
	h := testHealth(t, map[string]string{"big.test.": b.String()})
	t.Logf("loaded %d pools in %v", pools+1, time.Since(start))
	page := testPage(t, h)

	code, body, hdr := getPage(t, page, "")
	if code != http.StatusOK || hdr.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %q", code, hdr.Get("Content-Type"))
	}
	if n := len(poolAttr.FindAllString(body, -1)); n != pageDefaultPools {
		t.Errorf("default page: %d pools, want %d", n, pageDefaultPools)
	}
	t.Logf("default page of %d pools: %d bytes", pageDefaultPools, len(body))

	// The largest limit: the member budget ends the page first.
	code, body, _ = getPage(t, page, fmt.Sprintf("?limit=%d", healthprobe.DefaultMaxGroups))
	if code != http.StatusOK {
		t.Fatalf("limit=%d: %d", healthprobe.DefaultMaxGroups, code)
	}
	if n := len(memberAttr.FindAllString(body, -1)); n > pageMaxMembers {
		t.Errorf("limit=%d: %d member rows, want at most %d", healthprobe.DefaultMaxGroups, n, pageMaxMembers)
	}
	if len(body) > 2<<20 {
		t.Errorf("limit=%d: a page of %d bytes, want at most 2 MiB", healthprobe.DefaultMaxGroups, len(body))
	}
	t.Logf("page at limit=%d: %d pools, %d bytes", healthprobe.DefaultMaxGroups, len(poolAttr.FindAllString(body, -1)), len(body))

	// Walk a few pages: in order, none repeated, the last name of one
	// page is the after= of the next.
	var seen []string
	query := "?limit=7"
	for range 4 {
		code, body, _ := getPage(t, page, query)
		if code != http.StatusOK {
			t.Fatalf("GET /%s: %d", query, code)
		}
		for _, m := range poolAttr.FindAllStringSubmatch(body, -1) {
			seen = append(seen, m[1])
		}
		next := nextLink.FindStringSubmatch(body)
		if next == nil {
			t.Fatalf("GET /%s: no next page link", query)
		}
		query = strings.ReplaceAll(next[1], "&amp;", "&") // the link as HTML writes it
	}
	for i, name := range seen {
		if want := fmt.Sprintf("p%06d.big.test.", i); name != want {
			t.Fatalf("pool %d of the walk: %s, want %s (all: %v)", i, name, want, seen)
		}
	}

	// One pool larger than a page's share.
	code, body, _ = getPage(t, page, "?pool=zbig.big.test.")
	if code != http.StatusOK {
		t.Fatalf("pool=zbig: %d", code)
	}
	if n := len(memberAttr.FindAllString(body, -1)); n != pagePoolMembers {
		t.Errorf("pool of 3000: %d member rows, want %d", n, pagePoolMembers)
	}
	if want := fmt.Sprintf("%d more members not shown", 3000-pagePoolMembers); !strings.Contains(body, want) {
		t.Errorf("pool of 3000: the page does not say %q", want)
	}
}

// TestStatusPageQuery: bad parameters are 400 with the parameter named,
// an unknown pool 404, and both still render the page.
func TestStatusPageQuery(t *testing.T) {
	h := testHealth(t, map[string]string{"q.test.": "www IN A 192.0.2.1\nwww IN A 192.0.2.2\n"})
	page := testPage(t, h)
	for query, want := range map[string]struct {
		code int
		text string
	}{
		"?limit=0":            {http.StatusBadRequest, `limit=&#34;0&#34;: give 1 to 1000`},
		"?limit=1001":         {http.StatusBadRequest, `limit=&#34;1001&#34;`},
		"?address=nope":       {http.StatusBadRequest, `address=&#34;nope&#34; is not an IP address`},
		"?refresh=-1":         {http.StatusBadRequest, `refresh=&#34;-1&#34;`},
		"?refresh=3601":       {http.StatusBadRequest, `refresh=&#34;3601&#34;`},
		"?pool=nope.q.test.":  {http.StatusNotFound, `no such pool`},
		"?pool=WWW.q.test":    {http.StatusOK, `data-pool="www.q.test."`},
		"?address=192.0.2.2":  {http.StatusOK, `data-pool="www.q.test."`},
		"?address=192.0.2.99": {http.StatusOK, `No pools match.`},
		"?refresh=0":          {http.StatusOK, `data-pool="www.q.test."`},
		"?refresh=30&limit=1": {http.StatusOK, `content="30"`},
		"":                    {http.StatusOK, `<meta http-equiv="refresh" content="10">`},
	} {
		code, body, _ := getPage(t, page, query)
		if code != want.code || !strings.Contains(body, want.text) {
			t.Errorf("GET /%s: %d, want %d with %q in:\n%s", query, code, want.code, want.text, body)
		}
		if !strings.Contains(body, `data-zone="q.test."`) {
			t.Errorf("GET /%s: the zones are missing", query)
		}
	}
	if _, body, _ := getPage(t, page, "?refresh=0"); strings.Contains(body, `http-equiv="refresh"`) {
		t.Errorf("refresh=0 still reloads itself")
	}
	// Identity, zone and pool, as a person reads them.
	_, body, hdr := getPage(t, page, "")
	for _, want := range []string{"v-test", "nsid-test", "ns1.example", "no: DNS listeners not started", "1h00m",
		`<td data-label="Serial">1</td>`, "2 of 2 served", "no check"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "style-src 'sha256-") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}

// TestStatusPageEscapes: names, files and error strings come from zone
// files and backends; none of them can add markup to the page.
func TestStatusPageEscapes(t *testing.T) {
	evil := `<script>alert(1)</script>"'><img src=x onerror=alert(2)>`
	d := pageData{
		Version: evil, NSID: evil, ID: evil, NotReady: evil, Error: evil, Pool: evil, Address: evil,
		Zones: []zoneRow{{Origin: evil, File: evil}},
		Pools: []poolRow{{Name: evil, Check: evil, Policy: evil, Hidden: 1, Members: []memberRow{{
			Addr: evil, State: evil, LastError: evil, LastFailureAgo: evil, Drained: true, DrainLeft: evil, DrainUntil: evil,
		}}}},
		NextPage:  template.URL("?" + url.Values{"after": {evil}}.Encode()),
		FirstPage: template.URL(evil),
		Drains:    []drainRow{{Addr: evil, Until: evil, Left: evil}},
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, struct {
		pageData
		CSS template.CSS
	}{d, template.CSS(pageCSS)}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, bad := range []string{"<script", "<img", `"'>`} {
		if strings.Contains(out, bad) {
			t.Errorf("page contains %q unescaped", bad)
		}
	}
	if n := strings.Count(out, "&lt;script&gt;alert(1)&lt;/script&gt;"); n < 10 {
		t.Errorf("the evil string appears escaped %d times, want it in every field", n)
	}
}

// TestEndpoints: /healthz is 200 always, /readyz 503 with the reason until
// ready and after shutdown begins, the page at / only, and every other
// path goes to the API.
func TestEndpoints(t *testing.T) {
	h := testHealth(t, map[string]string{"e.test.": "www IN A 192.0.2.1\n"})
	ready := newReadiness(notReadyFirstRound)
	ready.prober.Store(h.prober)
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	e := &endpoints{ready: ready, page: testPage(t, h)}
	mux := e.wrap(api)
	get := func(method, path string) (int, string, string) {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(method, path, nil))
		return w.Code, w.Body.String(), w.Header().Get("Content-Type")
	}
	if code, body, ct := get("GET", "/healthz"); code != 200 || body != "ok\n" || ct != "text/plain; charset=utf-8" {
		t.Errorf("/healthz: %d %q %q", code, body, ct)
	}
	if code, body, _ := get("GET", "/readyz"); code != 503 || body != "not ready: first probe round running: 0 of 0 targets not probed yet\n" {
		t.Errorf("/readyz in the first round: %d %q", code, body)
	}
	ready.notReady(notReadyListening)
	if code, body, _ := get("GET", "/readyz"); code != 503 || body != "not ready: DNS listeners not started\n" {
		t.Errorf("/readyz before listening: %d %q", code, body)
	}
	ready.ready()
	if code, body, _ := get("GET", "/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz when ready: %d %q", code, body)
	}
	if code, _, _ := get("HEAD", "/readyz"); code != 200 {
		t.Errorf("HEAD /readyz: %d", code)
	}
	ready.notReady(notReadyStopping)
	if code, body, _ := get("GET", "/readyz"); code != 503 || body != "not ready: shutting down\n" {
		t.Errorf("/readyz when stopping: %d %q", code, body)
	}
	if code, _, ct := get("GET", "/"); code != 200 || ct != "text/html; charset=utf-8" {
		t.Errorf("GET /: %d %q", code, ct)
	}
	for _, path := range []string{"/status", "/drain", "/index.html", "/healthz/x"} {
		if code, _, _ := get("GET", path); code != http.StatusTeapot {
			t.Errorf("GET %s: %d, want the API's answer", path, code)
		}
	}
}

func TestClip(t *testing.T) {
	for _, c := range []struct {
		s    string
		max  int
		want string
	}{
		{"short", 10, "short"}, {"exactly10!", 10, "exactly10!"}, {"abcdefghijk", 10, "abcdefghij…"},
		{"ab€cd", 4, "ab…"}, // the euro sign's 3 bytes are not cut
	} {
		if got := clip(c.s, c.max); got != c.want {
			t.Errorf("clip(%q, %d) = %q, want %q", c.s, c.max, got, c.want)
		}
	}
}

// TestPrintable: what a terminal or a browser would act on is written as
// an escape; text, quotes and non-ASCII letters are kept.
func TestPrintable(t *testing.T) {
	for _, c := range []struct{ s, want string }{
		{"status 503 Service Unavailable", "status 503 Service Unavailable"},
		{`Get "http://192.0.2.1/": EOF`, `Get "http://192.0.2.1/": EOF`},
		{"caf\u00e9 €", "caf\u00e9 €"},
		{"status 503 \x1b[31mred\x1b]0;title\x07", `status 503 \x1b[31mred\x1b]0;title\x07`},
		{"a\r\nb\tc\x7f", `a\x0d\x0ab\x09c\x7f`},
		{"\u009b2J", `\x9b2J`},             // C1 CSI
		{"abc\u202edcba", `abc\u202edcba`}, // right-to-left override
		{"bad \xff\xfe utf-8", `bad \xff\xfe utf-8`},
		{"\ufffd", `\ufffd`},
	} {
		if got := healthprobe.Printable(c.s); got != c.want {
			t.Errorf("Printable(%q) = %q, want %q", c.s, got, c.want)
		}
	}
}

func TestRoughDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 0: "0s", 59 * time.Second: "59s", 61 * time.Second: "1m01s",
		time.Hour + 5*time.Minute: "1h05m", 50 * time.Hour: "2d02h",
	} {
		if got := roughDuration(d); got != want {
			t.Errorf("roughDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestZoneClock: a zone keeps its load time while the same version is
// served (a reload whose file failed keeps it), and a new version gets
// the new time.
func TestZoneClock(t *testing.T) {
	h1 := testHealth(t, map[string]string{"a.test.": "www IN A 192.0.2.1\n", "b.test.": "www IN A 192.0.2.2\n"})
	h2 := testHealth(t, map[string]string{"a.test.": "www IN A 192.0.2.9\n"})
	first, second := h1.plan.snap, h2.plan.snap
	t0, t1 := time.Unix(1000, 0), time.Unix(2000, 0)
	var c zoneClock
	c.served(first, t0)
	// The next snapshot: b.test. as it was (its file failed), a.test. new.
	kept := first.Zone("b.test.")
	c.served(first, t1)
	if got := c.when(kept); !got.Equal(t0) {
		t.Errorf("zone served on: loaded %v, want %v", got, t0)
	}
	c.served(second, t1)
	if got := c.when(second.Zone("a.test.")); !got.Equal(t1) {
		t.Errorf("new zone: loaded %v, want %v", got, t1)
	}
	if got := c.when(kept); !got.IsZero() {
		t.Errorf("a zone no longer served is still remembered: %v", got)
	}
}
