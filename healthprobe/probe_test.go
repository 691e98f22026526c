package healthprobe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// These tests use real sockets on loopback, outside any synctest bubble.

// quietLog silences the TLS handshake errors our failing probes cause.
var quietLog = stdlog.New(io.Discard, "", 0)

func addrPortOf(t *testing.T, a net.Addr) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// runProbe runs one probe of c against ap, as the prober would.
func runProbe(t *testing.T, ap netip.AddrPort, c Check, userAgent string) error {
	t.Helper()
	_, err := runProbeWeight(t, ap, c, userAgent)
	return err
}

// runProbeWeight is runProbe with the weight the probe read.
func runProbeWeight(t *testing.T, ap netip.AddrPort, c Check, userAgent string) (weightReport, error) {
	t.Helper()
	c.Port = int(ap.Port())
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Second
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.ApplyDefaults()
	probe, release := newProbe(Target{ap.Addr(), &c}, &c, userAgent)
	defer release()
	ctx, cancel := context.WithTimeout(t.Context(), c.Timeout)
	defer cancel()
	return probe(ctx)
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) netip.AddrPort {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := addrPortOf(t, l.Addr())
	l.Close()
	return ap
}

func TestTCPProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := runProbe(t, addrPortOf(t, l.Addr()), Check{Kind: KindTCP}, ""); err != nil {
		t.Errorf("listening port: %v", err)
	}
	err = runProbe(t, closedPort(t), Check{Kind: KindTCP}, "")
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("closed port: %v, want connection refused", err)
	}
}

// recorder is an HTTP backend that remembers what it saw.
type recorder struct {
	mu       sync.Mutex
	method   string
	host     string
	ua       string
	uri      string
	sni      string
	newConns int
	hits     map[string]int
}

func (r *recorder) handler(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.method, r.host, r.ua, r.uri = req.Method, req.Host, req.UserAgent(), req.RequestURI
		if r.hits == nil {
			r.hits = map[string]int{}
		}
		r.hits[req.URL.Path]++
		r.mu.Unlock()
		h(w, req)
	})
}

func (r *recorder) get() recorder {
	r.mu.Lock()
	defer r.mu.Unlock()
	return recorder{method: r.method, host: r.host, ua: r.ua, uri: r.uri, sni: r.sni, newConns: r.newConns}
}

func newHTTPBackend(t *testing.T, h http.HandlerFunc) (*recorder, netip.AddrPort) {
	rec := &recorder{}
	srv := httptest.NewUnstartedServer(rec.handler(h))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			rec.mu.Lock()
			rec.newConns++
			rec.mu.Unlock()
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return rec, addrPortOf(t, srv.Listener.Addr())
}

func TestHTTPProbe(t *testing.T) {
	body := strings.Repeat("x", 100) + "healthy"
	rec, ap := newHTTPBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			io.WriteString(w, body)
		case "/503":
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		case "/404":
			http.NotFound(w, r)
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/elsewhere":
			io.WriteString(w, "followed")
		}
	})
	ranges := func(s ...string) []StatusRange {
		r, err := ParseStatusRanges(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	cases := []struct {
		name string
		c    Check
		want string // "" for success, else part of the error
	}{
		{"ok", Check{Path: "/ok"}, ""},
		{"wrong status", Check{Path: "/503"}, "status 503 Service Unavailable, want 200-399"},
		{"not found", Check{Path: "/404"}, "status 404 Not Found"},
		{"listed status", Check{Path: "/404", Status: ranges("200", "404")}, ""},
		{"status range", Check{Path: "/204", Status: ranges("200-299")}, ""},
		{"status outside range", Check{Path: "/ok", Status: ranges("204-299")}, "status 200 OK, want 204-299"},
		{"body found", Check{Path: "/ok", BodyContains: "healthy"}, ""},
		{"body mismatch", Check{Path: "/ok", BodyContains: "sick"}, `body does not contain "sick"`},
		{"body beyond limit", Check{Path: "/ok", BodyContains: "healthy", BodyLimit: 50}, "in its first 50 bytes"},
		{"redirect is the result", Check{Path: "/redirect"}, ""},
		{"redirect not accepted", Check{Path: "/redirect", Status: ranges("200")}, "status 302 Found"},
		{"query kept", Check{Path: "/ok?deep=1"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.c.Kind = KindHTTP
			err := runProbe(t, ap, c.c, DefaultUserAgent)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("unexpected failure: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	rec.mu.Lock()
	followed := rec.hits["/elsewhere"]
	rec.mu.Unlock()
	if followed != 0 {
		t.Errorf("a redirect was followed %d times", followed)
	}

	t.Run("request", func(t *testing.T) {
		if err := runProbe(t, ap, Check{Kind: KindHTTP, Path: "/ok?deep=1"}, "custom/2"); err != nil {
			t.Fatal(err)
		}
		got := rec.get()
		if got.method != "GET" || got.host != ap.String() || got.ua != "custom/2" || got.uri != "/ok?deep=1" {
			t.Errorf("server saw %s %s Host=%s UA=%q", got.method, got.uri, got.host, got.ua)
		}
	})
	t.Run("HEAD and Host override", func(t *testing.T) {
		if err := runProbe(t, ap, Check{Kind: KindHTTP, Path: "/ok", Method: "HEAD", Host: "www.example.org"}, DefaultUserAgent); err != nil {
			t.Fatal(err)
		}
		got := rec.get()
		if got.method != "HEAD" || got.host != "www.example.org" || got.ua != DefaultUserAgent {
			t.Errorf("server saw %s Host=%s UA=%q", got.method, got.host, got.ua)
		}
	})
	t.Run("a new connection per probe", func(t *testing.T) {
		c := Check{Kind: KindHTTP, Path: "/ok", Port: int(ap.Port()), Timeout: 2 * time.Second}
		c.ApplyDefaults()
		probe, release := newProbe(Target{ap.Addr(), &c}, &c, DefaultUserAgent)
		defer release()
		before := rec.get().newConns
		for range 3 {
			if _, err := probe(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if n := rec.get().newConns - before; n != 3 {
			t.Errorf("3 probes used %d connections, want 3", n)
		}
	})
	t.Run("closed port", func(t *testing.T) {
		err := runProbe(t, closedPort(t), Check{Kind: KindHTTP}, DefaultUserAgent)
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%v, want connection refused", err)
		}
	})
}

func TestHTTPSProbe(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewUnstartedServer(rec.handler(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	srv.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		rec.mu.Lock()
		rec.sni = h.ServerName
		rec.mu.Unlock()
		return nil, nil
	}}
	srv.Config.ErrorLog = quietLog
	srv.StartTLS()
	defer srv.Close()
	ap := addrPortOf(t, srv.Listener.Addr())
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate()) // valid for 127.0.0.1, ::1 and example.com

	cases := []struct {
		name    string
		c       Check
		want    string
		wantSNI string
	}{
		{"verified by the CA", Check{RootCAs: pool}, "", ""},
		{"unknown CA", Check{}, "certificate", ""},
		{"insecure", Check{InsecureSkipVerify: true}, "", ""},
		{"SNI from Host", Check{RootCAs: pool, Host: "example.com"}, "", "example.com"},
		{"SNI with port in Host", Check{RootCAs: pool, Host: "example.com:8443"}, "", "example.com"},
		{"name mismatch", Check{RootCAs: pool, Host: "www.example.org"}, "certificate is valid for", "www.example.org"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.c.Kind = KindHTTPS
			err := runProbe(t, ap, c.c, DefaultUserAgent)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("unexpected failure: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
			if got := rec.get().sni; got != c.wantSNI {
				t.Errorf("server saw SNI %q, want %q", got, c.wantSNI)
			}
		})
	}
	if err := runProbe(t, ap, Check{Kind: KindHTTP}, DefaultUserAgent); err == nil {
		t.Error("plain http against a TLS port succeeded")
	}
}

// hungBackend accepts connections and never answers.
func hungBackend(t *testing.T) netip.AddrPort {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return addrPortOf(t, l.Addr())
}

// runProber starts p.Run and returns a function that stops it and reports
// how long Run took to return.
func runProber(t *testing.T, p *Prober) (stop func() time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	var once sync.Once
	var took time.Duration
	stop = func() time.Duration {
		once.Do(func() {
			start := time.Now()
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return within 10s of cancel")
			}
			took = time.Since(start)
		})
		return took
	}
	t.Cleanup(func() { stop() })
	return stop
}

// TestProberRealBackends runs the whole prober against real backends and
// checks the states and reasons after the first round, then that every
// goroutine stops on cancel.
func TestProberRealBackends(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, web := newHTTPBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "all good")
	})
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tlsSrv.Config.ErrorLog = quietLog
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	tlsAP := addrPortOf(t, tlsSrv.Listener.Addr())
	pool := x509.NewCertPool()
	pool.AddCert(tlsSrv.Certificate())

	base := runtime.NumGoroutine()
	log, logs := testLogger(t)
	p, err := New(Options{}, log)
	if err != nil {
		t.Fatal(err)
	}
	lo := netip.MustParseAddr("127.0.0.1")
	check := func(c Check) *Check {
		c.Interval, c.Timeout = 3*time.Second, 2*time.Second
		return &c
	}
	tcpUp := Target{lo, check(Check{Kind: KindTCP, Port: int(addrPortOf(t, l.Addr()).Port())})}
	tcpDown := Target{lo, check(Check{Kind: KindTCP, Port: int(closedPort(t).Port())})}
	httpUp := Target{lo, check(Check{Kind: KindHTTP, Port: int(web.Port()), BodyContains: "good"})}
	httpStatus := Target{lo, check(Check{Kind: KindHTTP, Port: int(web.Port()), Path: "/down"})}
	httpBody := Target{lo, check(Check{Kind: KindHTTP, Port: int(web.Port()), BodyContains: "bad"})}
	httpsUp := Target{lo, check(Check{Kind: KindHTTPS, Port: int(tlsAP.Port()), RootCAs: pool})}
	httpsBadCA := Target{lo, check(Check{Kind: KindHTTPS, Port: int(tlsAP.Port())})}
	httpsInsecure := Target{lo, check(Check{Kind: KindHTTPS, Port: int(tlsAP.Port()), InsecureSkipVerify: true})}
	all := []Target{tcpUp, tcpDown, httpUp, httpStatus, httpBody, httpsUp, httpsBadCA, httpsInsecure}
	if err := p.SetTargets(all); err != nil {
		t.Fatal(err)
	}
	stop := runProber(t, p)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := p.FirstRound(ctx); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		tg     Target
		state  State
		reason string
	}{
		{tcpUp, Up, ""},
		{tcpDown, Down, "connection refused"},
		{httpUp, Up, ""},
		{httpStatus, Down, "status 503"},
		{httpBody, Down, `body does not contain "bad"`},
		{httpsUp, Up, ""},
		{httpsBadCA, Down, "certificate"},
		{httpsInsecure, Up, ""},
	}
	for _, w := range want {
		st := status(t, p, w.tg)
		if st.State != w.state || !strings.Contains(st.LastError, w.reason) {
			t.Errorf("%s: %s %q, want %s with %q", w.tg.Key(), st.State, st.LastError, w.state, w.reason)
		}
	}
	if n := logs.count(`"message":"target down"`, `"level":"warn"`); n != 4 {
		t.Errorf("%d down transitions logged, want 4", n)
	}

	stop()
	pollUntil(t, 5*time.Second, fmt.Sprintf("goroutines back to %d", base), func() bool {
		return runtime.NumGoroutine() <= base
	})
}

// TestHungBackend: a backend that accepts and never answers costs its
// timeout, and does not delay a healthy target's probes nor shutdown.
func TestHungBackend(t *testing.T) {
	hung := hungBackend(t)
	var hits atomic.Int64
	_, web := newHTTPBackend(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })

	p, err := New(Options{Concurrency: 3}, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel))
	if err != nil {
		t.Fatal(err)
	}
	lo := netip.MustParseAddr("127.0.0.1")
	short := Target{lo, &Check{Kind: KindHTTP, Port: int(hung.Port()), Interval: time.Second, Timeout: 300 * time.Millisecond}}
	// long is still waiting for its answer while the others are probed.
	long := Target{lo, &Check{Kind: KindHTTP, Port: int(hung.Port()), Interval: 30 * time.Second, Timeout: 20 * time.Second}}
	healthy := Target{lo, &Check{Kind: KindHTTP, Port: int(web.Port()), Interval: 100 * time.Millisecond, Timeout: 90 * time.Millisecond, Fall: 1000}}
	if err := p.SetTargets([]Target{long, short, healthy}); err != nil {
		t.Fatal(err)
	}
	stop := runProber(t, p)

	pollUntil(t, 10*time.Second, "the short-timeout hung target to go down", func() bool {
		st, _ := p.View().Status(short.Key())
		return st.State == Down
	})
	if st := status(t, p, short); !strings.Contains(st.LastError, "timed out after 300ms") {
		t.Errorf("hung target's reason: %q", st.LastError)
	}
	pollUntil(t, 10*time.Second, "5 probes of the healthy target", func() bool { return hits.Load() >= 5 })
	if st := status(t, p, long); !st.LastCheck.IsZero() {
		t.Logf("the 20s probe finished already (a very slow machine?): %+v", st)
	}
	pollUntil(t, 10*time.Second, "the healthy target up", func() bool { return status(t, p, healthy).State == Up })
	// Shutdown cancels the 20s probe in flight rather than waiting for it.
	if took := stop(); took > 5*time.Second {
		t.Errorf("Run took %s to return after cancel", took)
	}
	if st := status(t, p, long); !st.LastCheck.IsZero() {
		t.Errorf("a probe cancelled by shutdown was recorded: %+v", st)
	}
}
