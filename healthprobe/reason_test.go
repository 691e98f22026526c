package healthprobe

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

// TestFailureReasons probes real backends on loopback, each failing in
// its own way, through a real Prober, and checks the reason each failure
// is counted under, per target and in the totals.
func TestFailureReasons(t *testing.T) {
	httpBackend := func(h http.HandlerFunc) netip.AddrPort {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return addrPortOf(t, srv.Listener.Addr())
	}
	ok := httpBackend(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	status := httpBackend(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	body := httpBackend(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "maintenance") })
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tlsSrv.Config.ErrorLog = quietLog
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	// Accepts and closes at once: the HTTP client reads EOF.
	closer, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closer.Close() })
	go func() {
		for {
			c, err := closer.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()

	check := func(kind string, ap netip.AddrPort, mod func(*Check)) Target {
		c := &Check{Kind: kind, Port: int(ap.Port()), Interval: time.Hour, Timeout: 500 * time.Millisecond}
		if mod != nil {
			mod(c)
		}
		return Target{Addr: ap.Addr(), Check: c}
	}
	cases := []struct {
		name   string
		target Target
		want   ErrorReason // NumErrorReasons: the probe succeeds
	}{
		{"ok", check(KindHTTP, ok, nil), NumErrorReasons},
		{"refused", check(KindTCP, closedPort(t), nil), ReasonRefused},
		{"timeout", check(KindHTTP, hungBackend(t), nil), ReasonTimeout},
		{"status", check(KindHTTP, status, nil), ReasonHTTPStatus},
		{"body", check(KindHTTP, body, func(c *Check) { c.BodyContains = "ok" }), ReasonBody},
		{"tls", check(KindHTTPS, addrPortOf(t, tlsSrv.Listener.Addr()), nil), ReasonTLS},
		{"reset", check(KindHTTP, addrPortOf(t, closer.Addr()), nil), ReasonReset},
	}
	var targets []Target
	for _, c := range cases {
		targets = append(targets, c.target)
	}
	p, err := New(Options{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetTargets(targets); err != nil {
		t.Fatal(err)
	}
	stop := runProber(t, p)
	defer stop()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := p.FirstRound(ctx); err != nil {
		t.Fatal(err)
	}
	var wantTotals [NumErrorReasons]uint64
	for _, c := range cases {
		st, found := p.View().Status(c.target.Key())
		if !found {
			t.Fatalf("%s: no status", c.name)
		}
		var want [NumErrorReasons]uint64
		if c.want < NumErrorReasons {
			want[c.want] = 1
			wantTotals[c.want]++
		}
		if st.Failures != want {
			t.Errorf("%s: failures %v, want one %v (last error %q)", c.name, st.Failures, c.want, st.LastError)
		}
		if st.LastDuration <= 0 {
			t.Errorf("%s: last duration %v", c.name, st.LastDuration)
		}
	}
	if got := p.Counts(); got.Probes != uint64(len(cases)) || got.Failures != wantTotals || got.Transitions != 0 {
		t.Errorf("counts %+v, want %d probes, failures %v, no transitions", got, len(cases), wantTotals)
	}
}

// TestClassifyTLSAlert: a TLS alert from the server is a TLS failure.
func TestClassifyTLSAlert(t *testing.T) {
	if r := classify(tls.AlertError(40), false); r != ReasonTLS {
		t.Errorf("alert: %v", r)
	}
	if r := classify(io.ErrUnexpectedEOF, true); r != ReasonTimeout {
		t.Errorf("timed out: %v, want timeout whatever the error", r)
	}
}

// TestTransitionsCounted: changes between up and down are counted, per
// target and in total; the first decision is not a change.
func TestTransitionsCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		tg := Target{addrA, fakeCheck()}
		p, _ := startFake(t, Options{}, f, tg)
		results := []bool{true, false, false, false, true, true, false, false, false}
		for i, ok := range results {
			f.set(addrA, ok)
			f.waitCalls(t, addrA, i+1)
		}
		st := status(t, p, tg)
		if st.State != Down || st.Transitions != 3 {
			t.Errorf("state %s after %d transitions, want down after 3 (down, up, down)", st.State, st.Transitions)
		}
		if st.Failures[ReasonOther] != 6 {
			t.Errorf("failures %v, want 6 other", st.Failures)
		}
		if c := p.Counts(); c.Transitions != 3 || c.Probes != uint64(len(results)) || c.Failures[ReasonOther] != 6 {
			t.Errorf("counts %+v", c)
		}
	})
}
