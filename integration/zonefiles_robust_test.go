//go:build linux

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/miekg/dns"
)

// Issue 9: no zone file can kill, hang or corrupt the server. Each test
// reloads with a bad file and checks that the server stays up, keeps
// answering from the old zone, and logs the file and the limit.

const robustOrigin = "robust.test."

// robustMaster is a master file of robustOrigin with serial 1 whose www
// is 192.0.2.1.
const robustMaster = `$ORIGIN robust.test.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 900 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.53
www IN A 192.0.2.1
`

// startRobust starts a server on robust.test. (a master file) and
// robust2.test. (a TOML file) and returns it with the two paths.
func startRobust(t *testing.T) (s *server, master, toml string) {
	t.Helper()
	dir := t.TempDir()
	master = writeFile(t, dir, "robust.test.zone", robustMaster)
	toml = writeFile(t, dir, "robust2.test.toml", testZoneHeader("robust2.test.")+"\n[records.www]\na = \"192.0.2.2\"\n")
	return startServer(t, "-zone", master, "-zone", toml), master, toml
}

// replaceFile puts content at path by rename, as the README recommends,
// so that the reload reads the bad content whole.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// reloadFails sends SIGHUP and waits for the reload's log line, which
// must report a failure whose error contains every part of want. It
// returns the error text.
func reloadFails(t *testing.T, s *server, want ...string) string {
	t.Helper()
	mark := s.logMark()
	s.signal(syscall.SIGHUP)
	l, ok := s.waitLog(mark, 2*time.Minute, func(l logLine) bool {
		return l.message() == "reload applied" || strings.HasPrefix(l.message(), "reload failed")
	})
	if !ok {
		t.Fatal("no reload log line after SIGHUP: the reload hangs or the server died")
	}
	if l.message() != "reload failed, keeping old zones" {
		t.Fatalf("got %s, want \"reload failed, keeping old zones\"", l.raw)
	}
	for _, w := range want {
		if !strings.Contains(l.str("error"), w) {
			t.Errorf("reload error %q does not contain %q", l.str("error"), w)
		}
	}
	return l.str("error")
}

// wantOldZones checks that both zones still answer as before the reload.
func wantOldZones(t *testing.T, s *server) {
	t.Helper()
	addr := s.addr("4")
	for range 3 {
		wantAddrs(t, addr, "www."+robustOrigin, dns.TypeA, "192.0.2.1")
		wantAddrs(t, addr, "www.robust2.test.", dns.TypeA, "192.0.2.2")
	}
}

func TestZoneFileGenerateLimits(t *testing.T) {
	t.Parallel()
	s, master, _ := startRobust(t)
	// 143 bytes that ran the server out of memory.
	replaceFile(t, master, robustMaster+"$GENERATE 0-100000000000 h$ A 192.0.2.1\n")
	reloadFails(t, s, "robust.test.zone:7:", "$GENERATE 0-100000000000 yields 100000000001 records", "max_generate_range")
	wantOldZones(t, s)

	var b strings.Builder
	b.WriteString(robustMaster)
	for i := range 200 {
		fmt.Fprintf(&b, "$GENERATE 0-65535 h%d-$ A 192.0.2.1\n", i)
	}
	replaceFile(t, master, b.String())
	reloadFails(t, s, "robust.test.zone:22:", "max_generate_total")
	wantOldZones(t, s)
}

func TestZoneFileDeepTOML(t *testing.T) {
	t.Parallel()
	s, _, toml := startRobust(t)
	head := testZoneHeader("robust2.test.")
	line := strings.Count(head, "\n") + 2
	for _, deep := range []string{
		"x = " + strings.Repeat("{a=", 8000) + "1" + strings.Repeat("}", 8000),
		"x = " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000),
		strings.Repeat("a.", 50000) + "a = 1",
	} {
		replaceFile(t, toml, head+"\n"+deep+"\n")
		reloadFails(t, s, fmt.Sprintf("robust2.test.toml:%d:", line), "max_toml_depth")
		wantOldZones(t, s)
	}
}

// TestZoneFileFIFO: a FIFO in place of a zone file is refused at once
// (opening it for reading would block until a writer comes), and the
// server still stops on SIGTERM.
func TestZoneFileFIFO(t *testing.T) {
	t.Parallel()
	s, master, _ := startRobust(t)
	if err := os.Remove(master); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(master, 0o644); err != nil {
		t.Fatal(err)
	}
	reloadFails(t, s, "robust.test.zone", "not a regular file (a FIFO)")
	wantOldZones(t, s)
	if code, stopped := s.stop(); !stopped || code != 0 {
		t.Fatalf("SIGTERM: exit %d, stopped by itself %v", code, stopped)
	}
}

// TestZoneFileDevice: a device (here through a symbolic link) is refused.
func TestZoneFileDevice(t *testing.T) {
	t.Parallel()
	s, master, _ := startRobust(t)
	if err := os.Remove(master); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", master); err != nil {
		t.Fatal(err)
	}
	reloadFails(t, s, "robust.test.zone", "not a regular file (a device)")
	wantOldZones(t, s)
}

// TestZoneFileSecret: a zone path that is a symbolic link to a secret
// must not carry the secret into the logs.
func TestZoneFileSecret(t *testing.T) {
	t.Parallel()
	s, master, toml := startRobust(t)
	secret := writeFile(t, t.TempDir(), "id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n")
	for _, zone := range []string{master, toml} {
		if err := os.Remove(zone); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(secret, zone); err != nil {
			t.Fatal(err)
		}
	}
	mark := s.logMark()
	msg := reloadFails(t, s, "robust.test.zone:1: not a zone file", "robust2.test.toml:1: not a zone file")
	for _, word := range []string{"BEGIN", "OPENSSH", "PRIVATE", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"} {
		if strings.Contains(msg, word) {
			t.Errorf("reload error quotes the secret (%q): %s", word, msg)
		}
		for _, l := range s.linesFrom(mark) {
			if strings.Contains(l.raw, word) {
				t.Errorf("log line quotes the secret (%q): %s", word, l.raw)
			}
		}
	}
	wantOldZones(t, s)
}

// TestZoneFileCutShort: a master file cut in the middle of its last
// record, as a half-written file is, is refused with its line.
func TestZoneFileCutShort(t *testing.T) {
	t.Parallel()
	s, master, _ := startRobust(t)
	cut := strings.Replace(robustMaster, "hostmaster 1 ", "hostmaster 2 ", 1) + "mail IN A "
	replaceFile(t, master, cut)
	reloadFails(t, s, "robust.test.zone:7: mail.robust.test. A: an A record needs an IPv4 address")
	wantOldZones(t, s)
	r := exchange(t, "udp", s.addr("4"), newQuery(robustOrigin, dns.TypeSOA))
	if len(r.Answer) != 1 || r.Answer[0].(*dns.SOA).Serial != 1 {
		t.Errorf("SOA after the failed reload: %v, want serial 1", r.Answer)
	}
}

// TestZoneFileChunkedRewrite: a zone file rewritten in place, in chunks,
// while SIGHUPs arrive, is never served half-written. A chunk cut at a
// line boundary is a valid zone, so only noticing the change can stop it.
//
// Not timing-sensitive: the test writes the next chunk as soon as the
// server has read from the file (it watches the server's reads with
// inotify), so every partial version changes while the server is still
// loading it: parsing thousands of records at the lowest CPU priority, and
// waiting until the file has been unchanged for 300 ms. A loaded machine
// makes the load slower, not the test's reaction.
func TestZoneFileChunkedRewrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	zone := writeFile(t, dir, "robust.test.zone", robustMaster)
	s := startServer(t, "-zone", zone)
	addr := s.addr("4")

	// The new version: serial 2, 60,000 names, and a last name that only
	// the whole file has. Chunks end at line boundaries; the smallest
	// partial file has 10,000 records to parse, which gives the test the
	// time of that parse to change the file.
	var b strings.Builder
	b.WriteString(strings.Replace(robustMaster, "hostmaster 1 ", "hostmaster 2 ", 1))
	for i := range 60000 {
		fmt.Fprintf(&b, "h%d IN A 192.0.%d.%d\n", i, i/250, i%250+1)
	}
	b.WriteString("last IN A 192.0.2.254\n")
	full := b.String()
	const chunks = 6
	var parts []string
	for rest := full; rest != ""; {
		n := min(len(rest), len(full)/chunks+1)
		if i := strings.IndexByte(rest[n-1:], '\n'); i >= 0 {
			n += i
		}
		parts = append(parts, rest[:n])
		rest = rest[n:]
	}

	f, err := os.OpenFile(zone, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if _, err := syscall.InotifyAddWatch(fd, zone, syscall.IN_ACCESS); err != nil {
		t.Fatal(err)
	}
	events := make(chan struct{}, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := syscall.Read(fd, buf)
			if err != nil || n <= 0 {
				close(events)
				return
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				if ev.Mask&syscall.IN_ACCESS != 0 {
					events <- struct{}{}
				}
				off += syscall.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}()

	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	mark := s.logMark()
	reads := 0
	var finalMark int
	for k, part := range parts {
		if k > 0 {
			// Wait until the server has read the partial file, then change
			// it at once: the server must notice before applying it.
			select {
			case <-events:
				reads++
			case <-time.After(2 * time.Minute):
				t.Fatalf("the server did not read the zone file after chunk %d", k)
			}
		}
		if k == len(parts)-1 {
			finalMark = s.logMark()
		}
		if _, err := f.WriteString(part); err != nil {
			t.Fatal(err)
		}
		s.signal(syscall.SIGHUP)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	// Every reload applied before the last chunk was written applied a
	// partial version.
	partial := 0
	for _, l := range s.linesFrom(mark)[:finalMark-mark] {
		if l.message() == "reload applied" {
			serials, _ := l.fields["serials"].(map[string]any)
			if serials[robustOrigin] == float64(2) {
				partial++
			}
		}
	}
	t.Logf("%d chunks, %d reads of a partial file by the server, %d partial versions applied", len(parts), reads, partial)
	if partial != 0 {
		t.Errorf("%d partial versions of the zone were applied", partial)
	}
	// The whole file is applied in the end, and the first version with
	// serial 2 applied after the last write is already whole (one that
	// was read before it would lack the last name).
	if _, ok := s.waitLog(finalMark, 2*time.Minute, func(l logLine) bool {
		serials, _ := l.fields["serials"].(map[string]any)
		return l.message() == "reload applied" && serials[robustOrigin] == float64(2)
	}); !ok {
		t.Fatal("the whole file was never applied")
	}
	wantAddrs(t, addr, "last."+robustOrigin, dns.TypeA, "192.0.2.254")
	wantAddrs(t, addr, "h59999."+robustOrigin, dns.TypeA, "192.0.239.250")
}

// linesFrom returns the log lines from index from on.
func (s *server) linesFrom(from int) []logLine {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]logLine(nil), s.lines[from:]...)
}

// TestZoneFileConfiguredLimits: the [limits] table of the configuration
// applies to zone files, and the error names the key to raise.
func TestZoneFileConfiguredLimits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	master := writeFile(t, dir, "robust.test.zone", robustMaster)
	cfg := writeFile(t, dir, "dnsrr.toml", `zones = ["robust.test.zone"]
[health]
admin = ""
[limits]
max_zone_file_size = 400
max_records = 7
max_rrset_records = 3
`)
	s := startServer(t, "-config", cfg)
	addr := s.addr("4")

	replaceFile(t, master, robustMaster+strings.Repeat("; padding to pass the size limit\n", 10))
	reloadFails(t, s, "robust.test.zone: the file is 458 bytes, above the limit of 400 ([limits] max_zone_file_size)")
	wantAddrs(t, addr, "www."+robustOrigin, dns.TypeA, "192.0.2.1")

	replaceFile(t, master, robustMaster+"a IN A 192.0.2.3\nb IN A 192.0.2.4\nc IN A 192.0.2.5\nd IN A 192.0.2.6\n")
	reloadFails(t, s, "robust.test.zone: the zone has more than 7 records, above the limit of 7 ([limits] max_records)")
	wantAddrs(t, addr, "www."+robustOrigin, dns.TypeA, "192.0.2.1")

	replaceFile(t, master, strings.Replace(robustMaster, "www IN A 192.0.2.1\n", "www IN A 192.0.2.1\nwww IN A 192.0.2.2\n", 1)+
		"www IN A 192.0.2.3\nwww IN A 192.0.2.4\n")
	reloadFails(t, s, "robust.test.zone:9:", "([limits] max_rrset_records)")
	wantAddrs(t, addr, "www."+robustOrigin, dns.TypeA, "192.0.2.1")
}

// TestCAFileNotRegular: a health check's ca_file is read like a zone file:
// "/dev/zero" ran the server out of memory, a FIFO would block the reload.
func TestCAFileNotRegular(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "zone.toml", testZoneHeader("ca.test.")+"\n[pools.www]\naddresses = [\"127.0.0.1\"]\ncheck = \"web\"\n")
	config := func(check string) string {
		return writeFile(t, dir, "dnsrr.toml", "zones = [\"zone.toml\"]\n[health]\nadmin = \"\"\ninitial_state = \"up\"\n[checks.web]\n"+check)
	}
	config("type = \"tcp\"\nport = 9\ninterval = \"60s\"\ntimeout = \"2s\"\n")
	s := startServer(t, "-config", filepath.Join(dir, "dnsrr.toml"))
	fifo := filepath.Join(dir, "ca.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for ca, want := range map[string]string{"/dev/zero": "not a regular file (a device)", fifo: "not a regular file (a FIFO)"} {
		config(fmt.Sprintf("type = \"https\"\nca_file = %q\ninterval = \"60s\"\ntimeout = \"2s\"\n", ca))
		reloadFails(t, s, "dnsrr.toml", ca, want)
		wantAddrs(t, s.addr("4"), "www.ca.test.", dns.TypeA, "127.0.0.1")
	}
	big := writeFile(t, dir, "big.pem", strings.Repeat("x", 2<<20))
	config(fmt.Sprintf("type = \"https\"\nca_file = %q\n", big))
	reloadFails(t, s, "above the limit of 1048576 ([limits] max_ca_file_size)")
	if code, stopped := s.stop(); !stopped || code != 0 {
		t.Fatalf("SIGTERM: exit %d, stopped by itself %v", code, stopped)
	}
}
