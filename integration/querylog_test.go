package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const qlogOrigin = "qlog.test."

// qlogConfig writes a zone and a configuration with the given [query_log]
// table into dir.
func qlogConfig(t *testing.T, dir, table string) string {
	t.Helper()
	writeFile(t, dir, "zones/q.toml", testZoneHeader(qlogOrigin)+"\n[records.www]\na = [\"192.0.2.1\"]\n")
	return writeFile(t, dir, "dnsrr.toml", "zones = [\"zones/*.toml\"]\n[health]\nadmin = \"\"\n"+table)
}

// TestQueryLog: with [query_log] sample = 1 every query gets a line with
// what was asked, by whom (address and port), over what, and what went
// back, read from the wire.
func TestQueryLog(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-config", qlogConfig(t, t.TempDir(), "[query_log]\nsample = 1\n"))
	addr := s.addr("4")

	// UDP from a socket of our own, so we know the port; mixed case and a
	// client cookie.
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q := newEDNSQuery("WwW."+qlogOrigin, dns.TypeA, 1232)
	q.IsEdns0().SetDo()
	q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
	mark := s.logMark()
	ua, _ := net.ResolveUDPAddr("udp", addr)
	if _, err := c.WriteToUDP(pack(t, q), ua); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(queryTimeout))
	n, _, err := c.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	l, ok := s.waitLog(mark, pollTimeout, func(l logLine) bool { return l.message() == "query" })
	if !ok {
		t.Fatal("no query log line")
	}
	want := map[string]any{
		"component": "querylog", "level": "info", "client": c.LocalAddr().String(), "transport": "udp",
		"qname": "WwW." + qlogOrigin, "qtype": "A", "qclass": "IN", "rcode": "NOERROR", "answered": true,
		"answers": float64(1), "size": float64(n), "aa": true, "tc": false,
		"edns": true, "payload": float64(1232), "do": true, "cookie": "client", "id": float64(q.Id),
	}
	for k, v := range want {
		if l.fields[k] != v {
			t.Errorf("%s = %v (%T), want %v; line %s", k, l.fields[k], l.fields[k], v, l.raw)
		}
	}
	if d, ok := l.fields["duration"].(float64); !ok || d < 0 {
		t.Errorf("duration = %v, want seconds", l.fields["duration"])
	}

	// TCP, and a negative answer.
	mark = s.logMark()
	exchange(t, "tcp", addr, newQuery("nope."+qlogOrigin, dns.TypeAAAA))
	l, ok = s.waitLog(mark, pollTimeout, func(l logLine) bool { return l.message() == "query" })
	if !ok {
		t.Fatal("no query log line for TCP")
	}
	for k, v := range map[string]any{"transport": "tcp", "qname": "nope." + qlogOrigin, "qtype": "AAAA", "rcode": "NXDOMAIN", "answers": float64(0), "edns": false} {
		if l.fields[k] != v {
			t.Errorf("TCP: %s = %v, want %v; line %s", k, l.fields[k], v, l.raw)
		}
	}
	if host, _, err := net.SplitHostPort(l.str("client")); err != nil || host != "127.0.0.1" {
		t.Errorf("TCP client = %q, want 127.0.0.1:PORT", l.str("client"))
	}

	// A response sent to the server is not answered, and logged as such.
	mark = s.logMark()
	r := newQuery("www."+qlogOrigin, dns.TypeA)
	r.Response = true
	if _, err := rawUDP(t, addr, pack(t, r), silenceWait); err == nil {
		t.Error("a response was answered")
	}
	l, ok = s.waitLog(mark, pollTimeout, func(l logLine) bool { return l.message() == "query" })
	if !ok || l.fields["answered"] != false || l.fields["qr"] != true {
		t.Errorf("response sent to the server: %s, want answered false and qr true", l.raw)
	}
}

// queryLogFile reads the query log file: the query lines, and the lines
// suppressed as counted by the summary lines.
func queryLogFile(t *testing.T, path string) (queries []map[string]any, suppressed int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var f map[string]any
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("query log line is not JSON: %q", sc.Text())
		}
		switch f["message"] {
		case "query":
			queries = append(queries, f)
		case "query log lines over the cap were dropped":
			n, _ := f["suppressed"].(float64)
			suppressed += int(n)
		default:
			t.Errorf("unexpected line in the query log: %q", sc.Text())
		}
	}
	return queries, suppressed
}

// TestQueryLogFileCap: a query log file gets at most max_per_second lines
// a second and a count of the rest, every query accounted for; SIGHUP
// opens the file again after logrotate moved it.
func TestQueryLogFileCap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "queries.log")
	s := startServer(t, "-config", qlogConfig(t, dir, "[query_log]\nsample = 1\nfile = \"queries.log\"\nmax_per_second = 2\n"))
	addr := s.addr("4")
	const sent = 40
	for range sent {
		exchange(t, "udp", addr, newQuery("www."+qlogOrigin, dns.TypeA))
	}
	// The count of the last second is written when it ends.
	deadline := time.Now().Add(pollTimeout)
	var queries []map[string]any
	var suppressed int
	for time.Now().Before(deadline) {
		if queries, suppressed = queryLogFile(t, logPath); len(queries)+suppressed == sent {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d queries: %d lines, %d suppressed", sent, len(queries), suppressed)
	if len(queries)+suppressed != sent || suppressed == 0 {
		t.Fatalf("%d queries: %d lines and %d suppressed, want %d in all and some suppressed", sent, len(queries), suppressed, sent)
	}
	// Nothing of it on stderr.
	s.mu.Lock()
	for _, l := range s.lines {
		if l.message() == "query" {
			t.Errorf("query line on stderr with file set: %s", l.raw)
		}
	}
	s.mu.Unlock()

	// logrotate: move the file, then SIGHUP.
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	mark := s.logMark()
	s.signal(syscall.SIGHUP)
	if l, ok := s.waitLog(mark, pollTimeout, func(l logLine) bool { return strings.HasPrefix(l.message(), "reload") }); !ok || l.message() != "reload applied" {
		t.Fatalf("no reload applied: %s", l.raw)
	}
	deadline = time.Now().Add(pollTimeout)
	for time.Now().Before(deadline) {
		exchange(t, "udp", addr, newQuery("www."+qlogOrigin, dns.TypeA)) // the cap may drop a few
		if q, _ := queryLogFile(t, logPath); len(q) > 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("no query line in a new file after the rotation and SIGHUP")
}

// TestQueryLogBadFile: a query log file that cannot be opened stops the
// start with an error naming the key and the path.
func TestQueryLogBadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := qlogConfig(t, dir, "[query_log]\nsample = 1\nfile = \"no/such/dir/q.log\"\n")
	s := startProcess(t, append([]string{"serve", "-log-format", "json", "-config", cfg}, listenArgs()...)...)
	l, ok := s.waitLog(0, startTimeout, func(l logLine) bool { return l.str("level") == "error" })
	if !ok || !strings.Contains(l.str("error"), "[query_log] file") || !strings.Contains(l.str("error"), "no/such/dir/q.log") {
		t.Fatalf("got %q, want an error naming [query_log] file and the path", l.raw)
	}
	select {
	case <-s.done:
		if s.exitCode != 1 {
			t.Errorf("exit code %d, want 1 (configuration)", s.exitCode)
		}
	case <-time.After(startTimeout):
		t.Error("still running after the error")
	}
}

// TestConsoleLogNoColor: console logs written to a pipe (journald, a file,
// a log collector) carry no colour escapes.
func TestConsoleLogNoColor(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(binPath, append([]string{"serve", "-log-format", "console", "-admin", "", "-zone", exampleZone()}, listenArgs()...)...)
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "NO_COLOR=") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	s := startCommand(t, cmd)
	if _, ok := s.waitLog(0, startTimeout, func(l logLine) bool { return strings.Contains(l.raw, "serving") }); !ok {
		t.Fatal("no serving line")
	}
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if strings.ContainsRune(l.raw, 0x1b) {
			t.Errorf("escape code in a console log line written to a pipe: %q", l.raw)
		}
	}
}
