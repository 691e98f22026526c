// Package integration holds the black-box tests of dnsrr: they build the real
// binary once, start it on free loopback ports and judge it only by what it
// says on the wire, on stderr and through its exit code.
package integration

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Bounds used throughout the suite. They are generous on purpose: they only
// keep a broken server from hanging the suite, they never assert speed.
const (
	startTimeout = 10 * time.Second // until the "serving" log line
	stopTimeout  = 10 * time.Second // from SIGTERM until exit, then SIGKILL
	queryTimeout = 3 * time.Second  // one DNS exchange
	pollTimeout  = 10 * time.Second // polling for a reload to take effect
	pollInterval = 20 * time.Millisecond
	// silenceWait is how long we listen for a reply that must NOT come
	// (e.g. to a packet with QR=1). A late reply after this is not caught,
	// but a server that answers at all answers well within it.
	silenceWait = 700 * time.Millisecond
)

var (
	// binPath is the dnsrr binary built once by TestMain.
	binPath string
	// repoRoot is the module root; go test runs in the package directory.
	repoRoot string
	// haveIPv6 tells whether this machine has a usable ::1.
	haveIPv6 bool
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: module root:", err)
		return 1
	}
	repoRoot = root
	dir, err := os.MkdirTemp("", "dnsrr-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "dnsrr")
	args := []string{"build", "-o", binPath}
	if os.Getenv("DNSRR_TEST_RACE") != "" {
		args = append(args, "-race") // the server under the race detector (.ci/run)
	}
	build := exec.Command("go", append(args, "./cmd/dnsrr")...)
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "integration: go build ./cmd/dnsrr: %v\n%s", err, out)
		return 1
	}
	haveIPv6 = canBindIPv6Loopback()
	return m.Run()
}

// TestServerSources stats every Go file the server is built from. go test
// caches a passing result until a file the test itself read changes; the
// binary is built by a child process (in TestMain, before go test starts
// watching), so without this an edit to the server would still get the
// cached "ok".
func TestServerSources(t *testing.T) {
	_ = filepath.WalkDir(repoRoot, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && (d.Name() == "integration" || d.Name() == "examples" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".go") || d.Name() == "go.mod" || d.Name() == "go.sum") {
			_, _ = os.Stat(path)
		}
		return nil
	})
}

// canBindIPv6Loopback reports whether [::1] can be bound; containers without
// IPv6 exist, and on them the ::1 half of the suite is skipped.
func canBindIPv6Loopback() bool {
	c, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// repoPath returns a path inside the module, e.g. repoPath("examples", "dnsrr.toml").
func repoPath(elem ...string) string {
	return filepath.Join(append([]string{repoRoot}, elem...)...)
}

// exampleConfig is the shipped example configuration.
func exampleConfig() string { return repoPath("examples", "dnsrr.toml") }

// exampleZone is the shipped TOML zone of lb.example.test.
func exampleZone() string { return repoPath("examples", "zones", "lb.example.test.toml") }

// exampleMaster is the same zone as an RFC 1035 master file.
func exampleMaster() string { return repoPath("examples", "master", "lb.example.test.zone") }

// listenArgs are the -listen flags for free ports on every loopback we have.
func listenArgs() []string {
	args := []string{"-listen", "127.0.0.1:0"}
	if haveIPv6 {
		args = append(args, "-listen", "[::1]:0")
	}
	return args
}

// logLine is one line the server wrote to stderr. fields is nil when the
// line was not a JSON object (e.g. a panic trace).
type logLine struct {
	raw    string
	fields map[string]any
}

func (l logLine) str(key string) string {
	s, _ := l.fields[key].(string)
	return s
}

func (l logLine) message() string { return l.str("message") }

// server is one running dnsrr process.
type server struct {
	t     *testing.T
	cmd   *exec.Cmd
	addrs []string // bound addresses from the "serving" line, each UDP and TCP

	mu      sync.Mutex
	lines   []logLine
	changed chan struct{} // closed and replaced whenever a line is appended

	done     chan struct{} // closed once the process has exited and stderr is drained
	exitCode int           // valid after done is closed
	stopOnce sync.Once
}

// startServer runs `dnsrr serve -log-format json ARGS...`, waits for the
// "serving" line and registers a cleanup that stops the process. Unless
// args has its own -listen, the server listens on free ports of 127.0.0.1
// and ::1 (listenArgs), never on the example's fixed 5353.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	if !slices.Contains(args, "-listen") {
		args = append(args, listenArgs()...)
	}
	return startServing(t, append([]string{"serve", "-log-format", "json"}, args...)...)
}

// startServing runs the binary with the full argv (which must select JSON
// logs) and waits for the "serving" line.
func startServing(t *testing.T, argv ...string) *server {
	t.Helper()
	return startServingCommand(t, exec.Command(binPath, argv...))
}

// startServingCommand is startServing for a command of its own (the binary
// run through nsenter, say), which must exec dnsrr with JSON logs.
func startServingCommand(t *testing.T, cmd *exec.Cmd) *server {
	t.Helper()
	s := startCommand(t, cmd)
	line, ok := s.waitLog(0, startTimeout, func(l logLine) bool { return l.message() == "serving" })
	if !ok {
		t.Fatalf("%s: no \"serving\" log line within %v (exited: %v)", strings.Join(cmd.Args, " "), startTimeout, s.exited())
	}
	raw, _ := line.fields["addrs"].([]any)
	for _, a := range raw {
		if as, ok := a.(string); ok {
			s.addrs = append(s.addrs, as)
		}
	}
	if len(s.addrs) == 0 {
		t.Fatalf("serving line has no addrs: %s", line.raw)
	}
	for _, a := range s.addrs {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "0" {
			t.Fatalf("serving line has a bad address %q (want the bound port): %s", a, line.raw)
		}
	}
	return s
}

// startProcess starts the binary with argv and pumps its stderr into the
// test log and into s.lines. The cleanup sends SIGTERM, waits up to
// stopTimeout and then kills the process by PID.
func startProcess(t *testing.T, argv ...string) *server {
	t.Helper()
	return startCommand(t, exec.Command(binPath, argv...))
}

// startCommand is startProcess for a command built by the caller.
func startCommand(t *testing.T, cmd *exec.Cmd) *server {
	t.Helper()
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	s := &server{t: t, cmd: cmd, changed: make(chan struct{}), done: make(chan struct{})}
	go s.pump(stderr)
	t.Cleanup(func() {
		if code, stopped := s.stop(); stopped && code != 0 {
			// Graceful stop must exit 0 (issue 3); report it wherever it shows.
			t.Errorf("dnsrr exited with code %d after SIGTERM", code)
		}
	})
	return s
}

// pump reads stderr until EOF, then reaps the process. Lines are logged
// with the test's name so that failures show the server's side.
func (s *server) pump(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		l := logLine{raw: sc.Text()}
		var f map[string]any
		if json.Unmarshal(sc.Bytes(), &f) == nil {
			l.fields = f
		}
		s.t.Log("dnsrr: " + l.raw)
		s.mu.Lock()
		s.lines = append(s.lines, l)
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}
	err := s.cmd.Wait()
	s.exitCode = exitCode(err)
	close(s.done)
}

func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode() // -1 when killed by a signal
	default:
		return -2
	}
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// logMark returns the number of lines seen so far; waitLog(mark, ...) only
// looks at later lines.
func (s *server) logMark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lines)
}

// waitLog waits up to d for a line at index >= from that satisfies match.
// It gives up early when the process has exited and every line was seen.
func (s *server) waitLog(from int, d time.Duration, match func(logLine) bool) (logLine, bool) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		for ; from < len(s.lines); from++ {
			if match(s.lines[from]) {
				l := s.lines[from]
				s.mu.Unlock()
				return l, true
			}
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-s.done:
			// Drained: check the lines appended before exit once more.
			s.mu.Lock()
			n := len(s.lines)
			s.mu.Unlock()
			if from >= n {
				return logLine{}, false
			}
		case <-deadline.C:
			return logLine{}, false
		}
	}
}

// signal sends sig to the server process by PID.
func (s *server) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal %v: %v", sig, err)
	}
}

// stop sends SIGTERM and waits for the exit, killing by PID after
// stopTimeout. It returns the exit code and whether the process stopped by
// itself (false: it had to be killed, or was already gone before stop).
func (s *server) stop() (code int, stopped bool) {
	return s.stopWith(syscall.SIGTERM)
}

func (s *server) stopWith(sig syscall.Signal) (code int, stopped bool) {
	s.stopOnce.Do(func() {
		if s.exited() {
			return
		}
		_ = s.cmd.Process.Signal(sig)
		select {
		case <-s.done:
			stopped = true
		case <-time.After(stopTimeout):
			s.t.Errorf("dnsrr did not exit within %v of %v; killing PID %d", stopTimeout, sig, s.cmd.Process.Pid)
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	<-s.done
	return s.exitCode, stopped
}

// addr returns the server's bound address of the given family ("4" or "6").
func (s *server) addr(family string) string {
	for _, a := range s.addrs {
		host, _, _ := net.SplitHostPort(a)
		if ip := net.ParseIP(host); ip != nil && (ip.To4() != nil) == (family == "4") {
			return a
		}
	}
	s.t.Fatalf("no IPv%s address among %v", family, s.addrs)
	return ""
}

// endpoints lists every (network, address) pair the server must answer on.
type endpoint struct{ net, addr string }

func (e endpoint) String() string { return e.net + "/" + e.addr }

func (s *server) endpoints() []endpoint {
	var eps []endpoint
	for _, a := range s.addrs {
		for _, n := range []string{"udp", "tcp"} {
			eps = append(eps, endpoint{n, a})
		}
	}
	return eps
}

// runDNSRR runs the binary to completion (check, version, bad flags) with
// a bound, returning stdout, stderr and the exit code.
func runDNSRR(t *testing.T, argv ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binPath, argv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		code = exitCode(err)
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("dnsrr %s did not finish within %v", strings.Join(argv, " "), stopTimeout)
	}
	t.Logf("dnsrr %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(argv, " "), code, out.String(), errb.String())
	return out.String(), errb.String(), code
}

// --- queries -------------------------------------------------------------

// newQuery returns a query for name/qtype with a random ID and RD clear, as
// a resolver talking to an authoritative server sends it.
func newQuery(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	return m
}

// newEDNSQuery is newQuery plus an OPT RR advertising size.
func newEDNSQuery(name string, qtype uint16, size uint16) *dns.Msg {
	m := newQuery(name, qtype)
	m.SetEdns0(size, false)
	return m
}

// exchange sends m over network ("udp" or "tcp") to addr and fails the test
// on any transport error.
func exchange(t testing.TB, network, addr string, m *dns.Msg) *dns.Msg {
	t.Helper()
	r, err := tryExchange(network, addr, m)
	if err != nil {
		t.Fatalf("%s %s %s %s: %v", network, addr, m.Question[0].Name, dns.TypeToString[m.Question[0].Qtype], err)
	}
	return r
}

func tryExchange(network, addr string, m *dns.Msg) (*dns.Msg, error) {
	// UDPSize lets the client read replies larger than 512 bytes to
	// queries whose OPT advertises less (payload-below-512 test).
	c := &dns.Client{Net: network, Timeout: queryTimeout, UDPSize: dns.MaxMsgSize}
	r, _, err := c.Exchange(m, addr)
	return r, err
}

// dialTCP opens a DNS-over-TCP connection (RFC 7766) for several queries.
func dialTCP(t testing.TB, addr string) *dns.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, queryTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &dns.Conn{Conn: c}
}

// exchangeConn sends m on an open connection and reads the reply.
func exchangeConn(t testing.TB, co *dns.Conn, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: "tcp", Timeout: queryTimeout}
	r, _, err := c.ExchangeWithConn(m, co)
	if err != nil {
		t.Fatalf("tcp %s %s: %v", m.Question[0].Name, dns.TypeToString[m.Question[0].Qtype], err)
	}
	return r
}

// --- raw wire --------------------------------------------------------------

// errNoReply is returned by the raw helpers when the deadline passed
// without a reply.
var errNoReply = errors.New("no reply before deadline")

// rawUDP sends pkt as one datagram and returns the first reply datagram,
// or errNoReply after wait.
func rawUDP(t testing.TB, addr string, pkt []byte, wait time.Duration) ([]byte, error) {
	t.Helper()
	return rawUDPFrom(t, "", addr, pkt, wait)
}

// rawUDPFrom is rawUDP from the local address src ("": any).
func rawUDPFrom(t testing.TB, src, addr string, pkt []byte, wait time.Duration) ([]byte, error) {
	t.Helper()
	d := net.Dialer{}
	if src != "" {
		d.LocalAddr = &net.UDPAddr{IP: net.ParseIP(src)}
	}
	c, err := d.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil, errNoReply
	}
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// tcpFrame prefixes pkt with its two-byte length (RFC 1035 4.2.2).
func tcpFrame(pkt []byte) []byte {
	f := make([]byte, 2, 2+len(pkt))
	binary.BigEndian.PutUint16(f, uint16(len(pkt)))
	return append(f, pkt...)
}

// readFrame reads one length-prefixed message before the deadline.
// It returns errNoReply on timeout and io.EOF when the server closed.
func readFrame(c net.Conn, wait time.Duration) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return nil, classifyReadErr(err)
	}
	buf := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, buf); err != nil {
		return nil, classifyReadErr(err)
	}
	return buf, nil
}

func classifyReadErr(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errNoReply
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return io.EOF
	}
	return err
}

// rawTCP opens a connection, sends pkt as one frame and reads one frame.
func rawTCP(t testing.TB, addr string, pkt []byte, wait time.Duration) ([]byte, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, queryTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(tcpFrame(pkt)); err != nil {
		t.Fatal(err)
	}
	return readFrame(c, wait)
}

// rawExchange sends pkt over network and unpacks the reply; a missing
// reply fails the test.
func rawExchange(t testing.TB, network, addr string, pkt []byte) *dns.Msg {
	t.Helper()
	var b []byte
	var err error
	if network == "tcp" {
		b, err = rawTCP(t, addr, pkt, queryTimeout)
	} else {
		b, err = rawUDP(t, addr, pkt, queryTimeout)
	}
	if err != nil {
		t.Fatalf("%s %s: raw query: %v", network, addr, err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(b); err != nil {
		t.Fatalf("%s %s: unpack reply %x: %v", network, addr, b, err)
	}
	return r
}

// pack packs m, failing the test on error.
func pack(t testing.TB, m *dns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// --- files -----------------------------------------------------------------

// writeFile writes content to dir/name and returns the path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testZoneHeader starts a small TOML zone for origin with the SOA and NS
// every zone needs; tests append their own pools and records.
func testZoneHeader(origin string) string {
	return fmt.Sprintf(`origin = %q
ttl = 300
ns = ["ns1"]

[soa]
mname = "ns1"
rname = "hostmaster"
serial = 1
refresh = 3600
retry = 900
expire = 1209600
minimum = 60

[records.ns1]
a = ["192.0.2.53"]
`, origin)
}
