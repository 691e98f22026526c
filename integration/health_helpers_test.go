package integration

// Helpers of the health prober's tests (health_test.go): a private loopback
// network per test with real HTTP, HTTPS and TCP backends on it, a test CA,
// the admin API's client, and DNS polls that judge rcode, addresses and the
// negative SOA together.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// healthWait bounds every wait for the prober to reach a state. It is only
// a guard against hanging: the tests use intervals of 100–200 ms, so every
// state they wait for is reached in well under a second on an idle machine.
const healthWait = 10 * time.Second

// --- a loopback network per test ---------------------------------------------

// labSeq numbers the tests' networks: test n owns 127.X.n.0/24, so tests
// running in parallel never share an address; X comes from the process ID,
// so that concurrent runs of the suite rarely do.
var (
	labSeq   atomic.Int32
	labOctet = 20 + os.Getpid()%200
)

// lab is one test's private network 127.X.N.0/24 (all loopback on Linux)
// and one port number that all its backends use, so that one check (one
// port) covers a pool of several addresses. Addresses with no backend
// refuse connections at once.
type lab struct {
	t    *testing.T
	n    int
	port int
}

func newLab(t *testing.T) *lab {
	t.Helper()
	n := int(labSeq.Add(1))
	if n > 250 {
		t.Fatalf("more than 250 labs: widen the address plan")
	}
	l := &lab{t: t, n: n}
	// A free port on the lab's first address; the other addresses of the
	// lab are used by nobody else.
	ln, err := net.Listen("tcp", l.ip(1)+":0")
	if err != nil {
		t.Skipf("cannot listen on %s (is 127.0.0.0/8 loopback here?): %v", l.ip(1), err)
	}
	l.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return l
}

// ip is the lab's i-th address, 127.X.N.i.
func (l *lab) ip(i int) string { return fmt.Sprintf("127.%d.%d.%d", labOctet, l.n, i) }

// ips lists the lab's addresses for the given indexes.
func (l *lab) ips(idx ...int) []string {
	out := make([]string, len(idx))
	for k, i := range idx {
		out[k] = l.ip(i)
	}
	return out
}

// hostport is ip(i) with the lab's port, as the prober names its targets.
func (l *lab) hostport(i int) string { return net.JoinHostPort(l.ip(i), fmt.Sprint(l.port)) }

// --- backends ------------------------------------------------------------------

// Kinds of backend.
const (
	kindHTTP  = "http"  // an HTTP server running the handler
	kindHTTPS = "https" // the same over TLS with the lab's certificate
	kindTCP   = "tcp"   // accepts connections and closes them
	kindHung  = "hung"  // accepts connections and never reads or writes
)

// backend is a server on one lab address and the lab's port. It can be
// stopped (connections are then refused) and started again on the same
// address and port.
type backend struct {
	t       *testing.T
	addr    string // ip:port
	kind    string
	handler http.Handler
	cert    *tls.Certificate

	hits   atomic.Int64 // requests (http, https) or connections (tcp, hung)
	lastUA atomic.Value // string: User-Agent of the latest request
	hang   atomic.Bool  // http, https: hold requests until the client gives up
	mu     sync.Mutex   // guards stopFn
	stopFn func()       // nil while stopped
}

// backend starts a backend of kind on the lab's i-th address. h serves
// http and https (nil: 200 "ok"); cert is needed for https.
func (l *lab) backend(i int, kind string, h http.Handler, cert *tls.Certificate) *backend {
	l.t.Helper()
	if h == nil {
		h = okHandler("ok")
	}
	b := &backend{t: l.t, addr: l.hostport(i), kind: kind, handler: h, cert: cert}
	l.t.Cleanup(b.stop)
	b.start()
	return b
}

func okHandler(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
}

// start listens again on the backend's address. A port just released is
// bound again at once (Go sets SO_REUSEADDR); the retry only covers a
// listener whose close has not completed yet.
func (b *backend) start() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopFn != nil {
		return
	}
	var ln net.Listener
	deadline := time.Now().Add(3 * time.Second)
	for {
		var err error
		if ln, err = net.Listen("tcp", b.addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("backend %s: listen: %v", b.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	done := make(chan struct{})
	switch b.kind {
	case kindHTTP, kindHTTPS:
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b.hits.Add(1)
			b.lastUA.Store(r.UserAgent())
			if b.hang.Load() {
				<-r.Context().Done() // the prober's timeout ends it
				return
			}
			b.handler.ServeHTTP(w, r)
		})
		srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 5 * time.Second}
		if b.kind == kindHTTPS {
			ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*b.cert}})
		}
		go func() {
			defer close(done)
			_ = srv.Serve(ln)
		}()
		b.stopFn = func() {
			srv.Close()
			<-done
		}
	case kindTCP, kindHung:
		var mu sync.Mutex
		var held []net.Conn
		go func() {
			defer close(done)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				b.hits.Add(1)
				if b.kind == kindTCP {
					c.Close()
					continue
				}
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
			}
		}()
		b.stopFn = func() {
			ln.Close()
			<-done
			mu.Lock()
			for _, c := range held {
				c.Close()
			}
			mu.Unlock()
		}
	default:
		b.t.Fatalf("backend kind %q", b.kind)
	}
}

// stop closes the listener and every connection: the address then refuses
// connections.
func (b *backend) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopFn != nil {
		b.stopFn()
		b.stopFn = nil
	}
}

func (b *backend) userAgent() string {
	s, _ := b.lastUA.Load().(string)
	return s
}

// flapper answers 200 and 500 alternately, by request; okFirst says which
// comes first.
func flapper(okFirst bool) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := n.Add(1)%2 == 1
		if !okFirst {
			ok = !ok
		}
		if !ok {
			http.Error(w, "flap: failing this time", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "flap: fine this time")
	})
}

// --- a test CA -------------------------------------------------------------------

// testPKI is a CA the prober does not know and a server certificate it
// signed, valid for the given IP addresses and DNS names.
type testPKI struct {
	caPEM []byte
	leaf  tls.Certificate
}

func newPKI(t *testing.T, ips []string, names ...string) *testPKI {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dnsrr integration test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "backend"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{
		caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		leaf:  tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
	}
}

// --- files -------------------------------------------------------------------------

// writeHealthConfig writes dir/dnsrr.toml, serving dir/zone.toml, with the
// admin API on a free loopback port and drains kept in dir/state.json.
// health adds lines to [health]; tail appends tables (shared [checks]).
func writeHealthConfig(t *testing.T, dir, health, tail string) string {
	t.Helper()
	return writeFile(t, dir, "dnsrr.toml", fmt.Sprintf(`zones = ["zone.toml"]

[health]
admin = "127.0.0.1:0"
state_file = "state.json"
%s
%s`, health, tail))
}

// startHealthServer writes zone (a zone file body after testZoneHeader) and
// a config around it into a new temp dir and starts the server.
func startHealthServer(t *testing.T, origin, zone, health, tail string) (*server, *admin, string) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "zone.toml", testZoneHeader(origin)+zone)
	cfg := writeHealthConfig(t, dir, health, tail)
	s := startServer(t, "-config", cfg)
	return s, adminOf(t, s), dir
}

// --- the admin API ----------------------------------------------------------------

// admin is a client of one server's admin API.
type admin struct {
	t    *testing.T
	base string // http://127.0.0.1:PORT
}

var adminClient = &http.Client{
	Timeout:   3 * time.Second,
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
}

// adminOf reads the bound admin address from the "serving" line.
func adminOf(t *testing.T, s *server) *admin {
	t.Helper()
	line, ok := s.waitLog(0, startTimeout, func(l logLine) bool { return l.message() == "serving" })
	if !ok {
		t.Fatal("no serving line")
	}
	a := line.str("admin")
	host, port, err := net.SplitHostPort(a)
	if err != nil || port == "0" || !net.ParseIP(host).IsLoopback() {
		t.Fatalf("serving line: admin = %q, want the bound loopback address: %s", a, line.raw)
	}
	return &admin{t: t, base: "http://" + a}
}

// do sends one request and returns the status code, the body and the
// Content-Type.
func (a *admin) do(method, path string) (int, []byte, string) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	resp, err := adminClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, body, resp.Header.Get("Content-Type")
}

// must sends a request that must succeed with 200 and a JSON body.
func (a *admin) must(method, path string) map[string]any {
	a.t.Helper()
	code, body, _ := a.do(method, path)
	if code != http.StatusOK {
		a.t.Fatalf("%s %s: %d %s, want 200", method, path, code, body)
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		a.t.Fatalf("%s %s: body is not a JSON object: %v\n%s", method, path, err, body)
	}
	return v
}

func (a *admin) drain(addr string, forDur string) map[string]any {
	a.t.Helper()
	p := "/drain?address=" + addr
	if forDur != "" {
		p += "&for=" + forDur
	}
	return a.must(http.MethodPost, p)
}

func (a *admin) undrain(addr string) {
	a.t.Helper()
	a.must(http.MethodDelete, "/drain?address="+addr)
}

// statusDoc is GET /status.
type statusDoc struct {
	Time   time.Time  `json:"time"`
	Pools  []poolDoc  `json:"pools"`
	Drains []drainDoc `json:"drains"`
}

type poolDoc struct {
	Name    string      `json:"name"`
	Check   string      `json:"check"`
	Policy  string      `json:"on_all_down"`
	Members []memberDoc `json:"members"`
}

type memberDoc struct {
	Address         string     `json:"address"`
	State           string     `json:"state"`
	Serving         bool       `json:"serving"`
	Since           *time.Time `json:"since"`
	Drained         bool       `json:"drained"`
	DrainUntil      *time.Time `json:"drain_until"`
	LastCheck       *time.Time `json:"last_check"`
	LastOK          bool       `json:"last_ok"`
	LastError       string     `json:"last_error"`
	LastFailure     *time.Time `json:"last_failure"`
	ConsecutiveOK   int        `json:"consecutive_ok"`
	ConsecutiveFail int        `json:"consecutive_fail"`
}

func (m memberDoc) String() string {
	b, _ := json.Marshal(m)
	return string(b)
}

type drainDoc struct {
	Address string     `json:"address"`
	Until   *time.Time `json:"until"`
}

func (a *admin) status() statusDoc {
	a.t.Helper()
	code, body, ctype := a.do(http.MethodGet, "/status")
	if code != http.StatusOK || !strings.HasPrefix(ctype, "application/json") {
		a.t.Fatalf("GET /status: %d %s, want 200 application/json\n%s", code, ctype, body)
	}
	var d statusDoc
	if err := json.Unmarshal(body, &d); err != nil {
		a.t.Fatalf("GET /status: %v\n%s", err, body)
	}
	return d
}

// member finds addr in pool (a fully qualified name) in d.
func (d statusDoc) member(pool, addr string) (memberDoc, bool) {
	for _, p := range d.Pools {
		if p.Name != pool {
			continue
		}
		for _, m := range p.Members {
			if m.Address == addr {
				return m, true
			}
		}
	}
	return memberDoc{}, false
}

func (d statusDoc) pool(pool string) (poolDoc, bool) {
	for _, p := range d.Pools {
		if p.Name == pool {
			return p, true
		}
	}
	return poolDoc{}, false
}

// member returns the current status of addr in pool, failing the test if
// /status does not list it.
func (a *admin) member(pool, addr string) memberDoc {
	a.t.Helper()
	d := a.status()
	m, ok := d.member(pool, addr)
	if !ok {
		a.t.Fatalf("/status has no member %s in pool %s: %+v", addr, pool, d.Pools)
	}
	return m
}

// waitMember polls /status until addr in pool satisfies cond (described by
// what), and returns that status.
func (a *admin) waitMember(pool, addr, what string, cond func(memberDoc) bool) memberDoc {
	a.t.Helper()
	deadline := time.Now().Add(healthWait)
	for {
		m := a.member(pool, addr)
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("%s in %s: not %s within %v; last status %v", addr, pool, what, healthWait, m)
		}
		time.Sleep(pollInterval)
	}
}

// --- DNS -----------------------------------------------------------------------------

// reply is what the health tests judge of a DNS response.
type reply struct {
	rcode int
	addrs []string // A and AAAA of the answer, sorted
	soa   bool     // an SOA in the authority section (negative answer)
}

func (r reply) String() string {
	s := dns.RcodeToString[r.rcode]
	if len(r.addrs) > 0 {
		s += " " + strings.Join(r.addrs, " ")
	}
	if r.soa {
		s += " (SOA in authority)"
	}
	return s
}

func (r reply) equal(o reply) bool {
	return r.rcode == o.rcode && r.soa == o.soa && slices.Equal(r.addrs, o.addrs)
}

// served is a positive answer with exactly these addresses.
func served(addrs ...string) reply {
	a := slices.Clone(addrs)
	slices.Sort(a)
	return reply{rcode: dns.RcodeSuccess, addrs: a}
}

// Negative outcomes of a pool.
var (
	nodata   = reply{rcode: dns.RcodeSuccess, soa: true}
	servfail = reply{rcode: dns.RcodeServerFailure}
)

// way is one way of asking: UDP without EDNS takes the server's fast path,
// UDP with EDNS and TCP the full one; all must agree.
type way struct {
	net  string
	edns bool
}

var ways = []way{{"udp", false}, {"udp", true}, {"tcp", false}}

func (w way) String() string {
	if w.edns {
		return w.net + "+edns"
	}
	return w.net
}

// ask sends one query and reduces the response to a reply.
func ask(dnsAddr string, w way, qname string, qtype uint16) (reply, *dns.Msg, error) {
	m := newQuery(qname, qtype)
	if w.edns {
		m = newEDNSQuery(qname, qtype, 1232)
	}
	r, err := tryExchange(w.net, dnsAddr, m)
	if err != nil {
		return reply{}, nil, err
	}
	if r.Id != m.Id {
		return reply{}, r, fmt.Errorf("reply ID %d, want %d", r.Id, m.Id)
	}
	out := reply{rcode: r.Rcode, addrs: addrsOf(r.Answer)}
	slices.Sort(out.addrs)
	for _, rr := range r.Ns {
		if rr.Header().Rrtype == dns.TypeSOA {
			out.soa = true
		}
	}
	return out, r, nil
}

// wantDNS asks once, every way, and checks the reply.
func wantDNS(t *testing.T, dnsAddr, qname string, qtype uint16, want reply) {
	t.Helper()
	for _, w := range ways {
		got, msg, err := ask(dnsAddr, w, qname, qtype)
		if err != nil {
			t.Fatalf("%s %s %s: %v", w, qname, dns.TypeToString[qtype], err)
		}
		if !got.equal(want) {
			t.Errorf("%s %s %s: got %v, want %v\n%v", w, qname, dns.TypeToString[qtype], got, want, msg)
		}
	}
}

// waitDNS polls over UDP until qname answers want (bounded by healthWait),
// then checks that every other way answers the same. It returns how long
// that took.
func waitDNS(t *testing.T, dnsAddr, qname string, qtype uint16, want reply) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(healthWait)
	var last reply
	var lastErr error
	for {
		got, _, err := ask(dnsAddr, ways[0], qname, qtype)
		if err == nil && got.equal(want) {
			break
		}
		last, lastErr = got, err
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: not %v within %v; last %v (err %v)", qname, dns.TypeToString[qtype], want, healthWait, last, lastErr)
		}
		time.Sleep(pollInterval)
	}
	took := time.Since(start)
	wantDNS(t, dnsAddr, qname, qtype, want)
	return took
}

// waitLogLine waits for a log line with message msg whose string fields
// match fields, at or after mark.
func waitLogLine(t *testing.T, s *server, mark int, msg string, fields map[string]string) logLine {
	t.Helper()
	l, ok := s.waitLog(mark, healthWait, func(l logLine) bool {
		if l.message() != msg {
			return false
		}
		for k, v := range fields {
			if l.str(k) != v {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("no log line %q with %v within %v", msg, fields, healthWait)
	}
	return l
}

// findLogLines returns the lines from mark on with message msg and the
// given string fields.
func findLogLines(s *server, mark int, msg string, fields map[string]string) []logLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []logLine
	for _, l := range s.lines[min(mark, len(s.lines)):] {
		if l.message() != msg {
			continue
		}
		match := true
		for k, v := range fields {
			if l.str(k) != v {
				match = false
			}
		}
		if match {
			out = append(out, l)
		}
	}
	return out
}
