package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const watchOrigin = "watch.test."

// watchZone is a zone of watchOrigin with serial and www's address.
func watchZone(serial int, www string) string {
	z := strings.Replace(testZoneHeader(watchOrigin), "serial = 1\n", fmt.Sprintf("serial = %d\n", serial), 1)
	return z + fmt.Sprintf("\n[records.www]\na = [%q]\n", www)
}

// startWatching starts a server on dir/dnsrr.toml (zones/*.toml, [watch]
// on with a 200 ms quiet period) with dir/zones/w.toml serving www at
// 192.0.2.1, and waits for the "watching files" line.
func startWatching(t *testing.T, dir string) (*server, string) {
	t.Helper()
	zone := writeFile(t, dir, "zones/w.toml", watchZone(1, "192.0.2.1"))
	cfg := writeFile(t, dir, "dnsrr.toml", `zones = ["zones/*.toml"]
[health]
admin = ""
[watch]
enabled = true
quiet = "200ms"
max_delay = "2s"
`)
	s := startServer(t, "-config", cfg)
	if _, ok := s.waitLog(0, startTimeout, func(l logLine) bool { return l.message() == "watching files" }); !ok {
		t.Fatal(`no "watching files" line`)
	}
	wantAddrs(t, s.addr("4"), "www."+watchOrigin, dns.TypeA, "192.0.2.1")
	return s, zone
}

// TestWatchReload: with [watch] on, a zone file replaced by rename, one
// rewritten in place and a new file matching the zones glob are each
// served without a SIGHUP; a broken write keeps the old zone and the log
// names file:line; a burst of writes makes fewer reloads than writes.
func TestWatchReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, zone := startWatching(t, dir)
	addr := s.addr("4")
	www := "www." + watchOrigin

	t.Run("rename", func(t *testing.T) {
		replaceFile(t, zone, watchZone(2, "192.0.2.2"))
		pollAnswer(t, addr, www, dns.TypeA, []string{"192.0.2.2"})
	})
	t.Run("in place", func(t *testing.T) {
		writeFile(t, filepath.Dir(zone), filepath.Base(zone), watchZone(3, "192.0.2.3")) // O_TRUNC, then write
		pollAnswer(t, addr, www, dns.TypeA, []string{"192.0.2.3"})
	})
	t.Run("broken", func(t *testing.T) {
		mark := s.logMark()
		broken := watchZone(4, "192.0.2.256")
		line := strings.Count(broken[:strings.Index(broken, "192.0.2.256")], "\n") + 1
		writeFile(t, filepath.Dir(zone), filepath.Base(zone), broken)
		l, ok := s.waitLog(mark, pollTimeout, func(l logLine) bool {
			return l.message() == "reload applied" || strings.HasPrefix(l.message(), "reload failed")
		})
		if !ok || l.message() != "reload failed, keeping old zones" {
			t.Fatalf("after a broken write: %q, want \"reload failed, keeping old zones\"", l.raw)
		}
		if want := fmt.Sprintf("w.toml:%d", line); !strings.Contains(l.str("error"), want) {
			t.Errorf("reload error %q does not name %s", l.str("error"), want)
		}
		for range 5 {
			wantAddrs(t, addr, www, dns.TypeA, "192.0.2.3")
		}
	})
	t.Run("fixed", func(t *testing.T) {
		replaceFile(t, zone, watchZone(5, "192.0.2.5"))
		pollAnswer(t, addr, www, dns.TypeA, []string{"192.0.2.5"})
	})
	t.Run("new file matching the glob", func(t *testing.T) {
		other := "other.test."
		replaceFile(t, filepath.Join(dir, "zones", "other.toml"), testZoneHeader(other)+"\n[records.www]\na = [\"198.51.100.1\"]\n")
		pollAnswer(t, addr, "www."+other, dns.TypeA, []string{"198.51.100.1"})
	})
	t.Run("written in chunks", func(t *testing.T) {
		// The first chunk ends inside an array: if a reload reads the file
		// between the chunks, it fails and the old zone stays. Every
		// answer meanwhile is the old zone or the whole new one.
		full := watchZone(6, "192.0.2.6") + "\n[records.extra]\na = [\"192.0.2.66\", \"192.0.2.67\"]\n"
		cut := strings.Index(full, `"192.0.2.67"`) + 5
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { watchChunks(t, addr, stop) })
		f, err := os.OpenFile(zone, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err1 := f.WriteString(full[:cut])
		time.Sleep(50 * time.Millisecond) // a writer between two chunks
		_, err2 := f.WriteString(full[cut:])
		if err := f.Close(); err1 != nil || err2 != nil || err != nil {
			t.Fatal(err1, err2, err)
		}
		pollAnswer(t, addr, "extra."+watchOrigin, dns.TypeA, []string{"192.0.2.66", "192.0.2.67"})
		close(stop)
		wg.Wait()
	})
	t.Run("burst", func(t *testing.T) {
		mark := s.logMark()
		const writes = 20
		for i := range writes {
			writeFile(t, filepath.Dir(zone), filepath.Base(zone), watchZone(100+i, fmt.Sprintf("192.0.2.%d", 100+i)))
		}
		last := fmt.Sprintf("192.0.2.%d", 100+writes-1)
		pollAnswer(t, addr, www, dns.TypeA, []string{last})
		// The last write's reload may still be logging: wait for its line.
		s.waitLog(mark, pollTimeout, func(l logLine) bool {
			serials, _ := l.fields["serials"].(map[string]any)
			return l.message() == "reload applied" && serials[watchOrigin] == float64(100+writes-1)
		})
		reloads := 0
		s.mu.Lock()
		for _, l := range s.lines[mark:] {
			if l.message() == "reload applied" || strings.HasPrefix(l.message(), "reload failed") {
				reloads++
			}
		}
		s.mu.Unlock()
		t.Logf("%d writes made %d reloads", writes, reloads)
		if reloads == 0 || reloads >= writes {
			t.Errorf("%d writes made %d reloads, want at least 1 and fewer than %d", writes, reloads, writes)
		}
	})
}

// watchChunks asks for extra and www until stop, and reports an answer
// from a zone cut short: extra missing with the new serial 6.
func watchChunks(t *testing.T, addr string, stop <-chan struct{}) {
	deadline := time.Now().Add(pollTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-stop:
			return
		default:
		}
		r, err := tryExchange("udp", addr, newQuery("extra."+watchOrigin, dns.TypeA))
		if err != nil {
			continue
		}
		if r.Rcode == dns.RcodeNameError && len(r.Ns) == 1 {
			if soa, ok := r.Ns[0].(*dns.SOA); ok && soa.Serial == 6 {
				t.Errorf("served a zone cut short: NXDOMAIN for extra with the new serial")
				return
			}
		}
		if r.Rcode == dns.RcodeSuccess && len(r.Answer) != 2 {
			t.Errorf("served a zone cut short: %v", r.Answer)
			return
		}
	}
}

// TestWatchSymlinkSwap: a ConfigMap-style directory, where the zone file is
// a link through "..data" and an update swaps that link to a new
// directory, is followed too.
func TestWatchSymlinkSwap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mount := filepath.Join(dir, "zones")
	writeFile(t, mount, "..v1/w.toml", watchZone(1, "192.0.2.1"))
	for _, l := range [][2]string{{"..v1", "..data"}, {"..data/w.toml", "w.toml"}} {
		if err := os.Symlink(l[0], filepath.Join(mount, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	cfg := writeFile(t, dir, "dnsrr.toml", "zones = [\"zones/w.toml\"]\n[health]\nadmin = \"\"\n[watch]\nenabled = true\nquiet = \"200ms\"\n")
	s := startServer(t, "-config", cfg)
	addr := s.addr("4")
	wantAddrs(t, addr, "www."+watchOrigin, dns.TypeA, "192.0.2.1")

	// What the kubelet does: a new directory, a new link, renamed over.
	writeFile(t, mount, "..v2/w.toml", watchZone(2, "192.0.2.2"))
	if err := os.Symlink("..v2", filepath.Join(mount, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(mount, "..data_tmp"), filepath.Join(mount, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(mount, "..v1")); err != nil {
		t.Fatal(err)
	}
	pollAnswer(t, addr, "www."+watchOrigin, dns.TypeA, []string{"192.0.2.2"})
}

// TestWatchConfigChange: an edit of the configuration file reloads it too
// (here: a second zone listed).
func TestWatchConfigChange(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, _ := startWatching(t, dir)
	writeFile(t, dir, "extra/x.toml", testZoneHeader("x.test.")+"\n[records.www]\na = [\"198.51.100.9\"]\n")
	replaceFile(t, filepath.Join(dir, "dnsrr.toml"), `zones = ["zones/*.toml", "extra/x.toml"]
[health]
admin = ""
[watch]
enabled = true
quiet = "200ms"
`)
	pollAnswer(t, s.addr("4"), "www.x.test.", dns.TypeA, []string{"198.51.100.9"})
	// The new zone's directory is watched from that reload on.
	replaceFile(t, filepath.Join(dir, "extra", "x.toml"), testZoneHeader("x.test.")+"\n[records.www]\na = [\"198.51.100.10\"]\n")
	pollAnswer(t, s.addr("4"), "www.x.test.", dns.TypeA, []string{"198.51.100.10"})
}
