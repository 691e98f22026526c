package app

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/healthprobe"
	"github.com/dnsrr/dnsrr/internal/config"
	"github.com/dnsrr/dnsrr/zones"
	"github.com/rs/zerolog"
)

// testHealth loads master files (origin → records) into a plan, as Serve
// does, with a prober that probes nothing.
func testHealth(t *testing.T, files map[string]string) *health {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for origin, records := range files {
		p := filepath.Join(dir, origin+"zone")
		body := fmt.Sprintf("$ORIGIN %s\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 900 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\n%s", origin, records)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	snap, err := zones.Loader{}.Load(paths)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := planProbes(snap, zones.DefaultLimits(), netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := healthprobe.New(healthprobe.Options{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return &health{prober: p, plan: plan}
}

func names(gs []healthprobe.Group) string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return strings.Join(out, " ")
}

func TestGroupPage(t *testing.T) {
	var a, b strings.Builder
	for i := range 6 {
		fmt.Fprintf(&a, "p%d IN A 10.0.0.%d\np%d IN A 10.0.1.%d\n", i, i, i, i)
	}
	// A second zone whose pools sort among the first's.
	fmt.Fprintf(&b, "q IN A 10.0.0.1\nq IN A 10.9.9.9\n")
	h := testHealth(t, map[string]string{"a.test.": a.String(), "p3.a.test.": b.String()})
	never := func(string, netip.Addr) bool { return false }
	cases := []struct {
		q    healthprobe.GroupQuery
		want string
		more bool
	}{
		{healthprobe.GroupQuery{Limit: 100}, "p0.a.test. p1.a.test. p2.a.test. p3.a.test. p4.a.test. p5.a.test. q.p3.a.test.", false},
		{healthprobe.GroupQuery{Limit: 3}, "p0.a.test. p1.a.test. p2.a.test.", true},
		{healthprobe.GroupQuery{Limit: 3, After: "p2.a.test."}, "p3.a.test. p4.a.test. p5.a.test.", true},
		{healthprobe.GroupQuery{Limit: 3, After: "p5.a.test."}, "q.p3.a.test.", false},
		{healthprobe.GroupQuery{Limit: 3, Name: "P4.A.test"}, "p4.a.test.", false},
		{healthprobe.GroupQuery{Limit: 3, Name: "p9.a.test."}, "", false},
		{healthprobe.GroupQuery{Limit: 3, Address: netip.MustParseAddr("10.0.0.1")}, "p1.a.test. q.p3.a.test.", false},
		{healthprobe.GroupQuery{Limit: 1, Address: netip.MustParseAddr("10.0.0.1")}, "p1.a.test.", true},
	}
	for _, c := range cases {
		gs, more := h.groupPage(c.q, never)
		if got := names(gs); got != c.want || more != c.more {
			t.Errorf("%+v: %q more=%v, want %q more=%v", c.q, got, more, c.want, c.more)
		}
	}
	gs, _ := h.groupPage(healthprobe.GroupQuery{Name: "p2.a.test.", Limit: 1}, func(pool string, a netip.Addr) bool {
		return pool == "p2.a.test." && a == netip.MustParseAddr("10.0.1.2")
	})
	if len(gs) != 1 || len(gs[0].Members) != 2 || gs[0].Answered(gs[0].Members[0].Addr) || !gs[0].Answered(gs[0].Members[1].Addr) {
		t.Errorf("p2: %+v, want two members, Answered asking the server for the pool", gs)
	}
	for addr, want := range map[string]bool{"10.0.0.3": true, "10.9.9.9": true, "192.0.2.53": false, "10.0.2.1": false} {
		if got := h.isMember(netip.MustParseAddr(addr)); got != want {
			t.Errorf("isMember(%s) = %v, want %v", addr, got, want)
		}
	}
}

// keepAlive is a client connection that sent one request and, having read
// the answer, stays open (idle on the server's side).
type keepAlive struct {
	c net.Conn
	r *bufio.Reader
}

func dialKeepAlive(t *testing.T, addr string) *keepAlive {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	k := &keepAlive{c: c, r: bufio.NewReader(c)}
	if err := k.get(addr, "/fast"); err != nil {
		t.Fatal(err)
	}
	return k
}

func (k *keepAlive) get(host, path string) error {
	_ = k.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(k.c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host); err != nil {
		return err
	}
	resp, err := http.ReadResponse(k.r, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err
}

// closed reports whether the server closed the connection (within a
// generous bound; false if it is still open then).
func (k *keepAlive) closed() bool {
	_ = k.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := k.r.ReadByte()
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// waitOpen polls until the limiter counts n connections.
func waitOpen(t *testing.T, cl *connLimit, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); cl.open() != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want %d", cl.open(), n)
		}
	}
}

func TestConnLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const max = 4
	cl := newConnLimit(ln, max, zerolog.Nop())
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { <-release })
	hs := &http.Server{Handler: mux, ConnState: cl.track, IdleTimeout: time.Minute}
	go hs.Serve(cl)
	t.Cleanup(func() { hs.Close() })
	addr := ln.Addr().String()

	// At the cap, a new connection closes one of the idle ones (the one
	// idle longest, by the server's clock: which one that is depends on
	// when the server marked each idle, so the test does not say).
	var idle []*keepAlive
	for range max {
		idle = append(idle, dialKeepAlive(t, addr))
	}
	waitOpen(t, cl, max)
	fresh := dialKeepAlive(t, addr)
	waitOpen(t, cl, max)
	var busy []*keepAlive
	for _, k := range idle {
		if k.get(addr, "/fast") == nil {
			busy = append(busy, k)
		}
	}
	if len(busy) != max-1 {
		t.Fatalf("%d of the %d idle connections still work after one more came, want %d", len(busy), max, max-1)
	}

	// With every connection busy, a new one is closed at once.
	busy = append(busy, fresh)
	for _, k := range busy {
		go fmt.Fprintf(k.c, "GET /slow HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		cl.mu.Lock()
		active := 0
		for c := range cl.conns {
			if c.state == http.StateActive {
				active++
			}
		}
		cl.mu.Unlock()
		if active == max {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections busy, want %d", active, max)
		}
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	refused := &keepAlive{c: c, r: bufio.NewReader(c)}
	if !refused.closed() {
		t.Error("a connection beyond the cap of busy ones was kept")
	}
	close(release)
	for _, k := range busy {
		resp, err := http.ReadResponse(k.r, nil)
		if err != nil {
			t.Errorf("a busy request was cut: %v", err)
			continue
		}
		resp.Body.Close()
	}
	// Room again: a fresh connection gets in.
	dialKeepAlive(t, addr)
}

func TestListenAdminUnix(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "admin.sock")
	ln, bound, err := listenAdmin("unix:" + path)
	if err != nil {
		t.Fatal(err)
	}
	if bound != "unix:"+path {
		t.Errorf("bound %q, want unix:%s", bound, path)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v (%v), want 0660", st.Mode(), err)
	}
	// A second instance must not take a socket that answers.
	if _, _, err := listenAdmin("unix:" + path); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second listen on a live socket: %v, want in use", err)
	}
	// A socket left behind (its listener gone, the file kept) is replaced.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln2, _, err := listenAdmin("unix:" + path)
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	ln2.Close()
	// Anything else at the path is left alone.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := listenAdmin("unix:" + file); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("listen on a regular file: %v, want not a socket", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep" {
		t.Error("the regular file was replaced")
	}
}

// TestServeAdminLimits: the listener's header and body limits, the token
// and the Host check, as serveAdmin puts them together.
func TestServeAdminLimits(t *testing.T) {
	limits := config.DefaultAdminLimits
	limits.MaxBodyBytes = 16
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		}
	})
	token := "0123456789abcdef0123456789abcdef"
	stop, bound, err := serveAdmin("127.0.0.1:0", ok, []byte(token), limits, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	send := func(host, auth string, header int, body string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+bound+"/drain", strings.NewReader(body))
		req.Host = host
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		if header > 0 {
			req.Header.Set("X-Padding", strings.Repeat("x", header))
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("POST: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	cases := []struct {
		name, host, auth string
		header           int
		body             string
		want             int
	}{
		{"fine", bound, token, 0, "", http.StatusOK},
		{"small body", bound, token, 0, "address=x", http.StatusOK},
		{"no token", bound, "", 0, "", http.StatusUnauthorized},
		{"rebound host", "evil.example:80", token, 0, "", http.StatusForbidden},
		{"large body", bound, token, 0, strings.Repeat("a", 17), http.StatusRequestEntityTooLarge},
		{"huge header", bound, token, 64 << 10, "", http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, c := range cases {
		if got := send(c.host, c.auth, c.header, c.body); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

// TestAdminSlowBodyHold: clients that send a request's headers and then its
// declared body a byte at a time hold every slot of the cap busy, unless
// the server answers without waiting for the body: an operator must still
// get in.
func TestAdminSlowBodyHold(t *testing.T) {
	limits := config.DefaultAdminLimits
	limits.MaxConns = 2
	limits.ReadTimeout = 10 * time.Minute // the hold would last this long
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	stop, bound, err := serveAdmin("127.0.0.1:0", ok, nil, limits, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, declared := range []string{"Content-Length: 100", "Transfer-Encoding: chunked", "Content-Length: 100000"} {
		for range limits.MaxConns {
			c, err := net.Dial("tcp", bound)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /drain HTTP/1.1\r\nHost: %s\r\n%s\r\n\r\n1", bound, declared)
			k := &keepAlive{c: c, r: bufio.NewReader(c)}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(k.r, nil)
			if err != nil {
				t.Fatalf("%s: no answer before the body was sent: %v", declared, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if !k.closed() {
				t.Errorf("%s: the connection stays open waiting for the body", declared)
			}
		}
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
		resp, err := client.Get("http://" + bound + "/status")
		if err != nil {
			t.Fatalf("%s: an operator's request while slow bodies are held: %v", declared, err)
		}
		resp.Body.Close()
	}
}

// TestConnLimitWriteStall: clients that ask for a large response and never
// read it are evicted for a new connection once their response has waited
// writeStall, instead of holding the cap for the whole write timeout.
func TestConnLimitWriteStall(t *testing.T) {
	// Restored last, once the server below has stopped reading it.
	t.Cleanup(func(d time.Duration) func() { return func() { writeStall = d } }(writeStall))
	writeStall = 50 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const max = 2
	cl := newConnLimit(ln, max, zerolog.Nop())
	big := strings.Repeat("x", 64<<20) // more than any socket buffers hold
	mux := http.NewServeMux()
	mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) })
	hs := &http.Server{Handler: mux, ConnState: cl.track, WriteTimeout: 10 * time.Minute}
	served := make(chan struct{})
	go func() { hs.Serve(cl); close(served) }()
	t.Cleanup(func() { hs.Close(); <-served })
	addr := ln.Addr().String()
	for range max {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /big HTTP/1.1\r\nHost: %s\r\n\r\n", addr) // and never read
	}
	waitOpen(t, cl, max)
	// Poll: the stalled writes become evictable after writeStall.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		k := &keepAlive{c: c, r: bufio.NewReader(c)}
		err = k.get(addr, "/fast")
		c.Close()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a new connection is refused while clients that read nothing hold the cap: %v", err)
		}
	}
}

// TestConnLimitFreshAge: a connection that has not sent its request yet is
// not evicted before freshEvictAge (its request may be on its way); past
// it, it is.
func TestConnLimitFreshAge(t *testing.T) {
	l := newConnLimit(nil, 1, zerolog.Nop())
	now := time.Now()
	c := &limitedConn{l: l, state: http.StateNew, since: now}
	l.conns[c] = struct{}{}
	if v := l.evictable(now.Add(freshEvictAge / 2)); v != nil {
		t.Errorf("evictable %p before freshEvictAge", v)
	}
	if v := l.evictable(now.Add(freshEvictAge)); v != c {
		t.Errorf("evictable %p, want %p once freshEvictAge has passed", v, c)
	}
}
