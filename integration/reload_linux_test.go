package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/miekg/dns"
)

// fifoZone adds a FIFO beside the zone, where the config's glob finds it:
// opening it for reading blocks until a writer comes, which never does.
func fifoZone(t *testing.T, zone string) string {
	t.Helper()
	fifo := filepath.Join(filepath.Dir(zone), "fifo.test.zone")
	wantNoFile(t, fifo)
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	return fifo
}

// TestReloadBlockedOnFIFO: a reload stuck reading a FIFO delays neither a
// drain nor SIGTERM; and after reload_timeout it fails naming the file,
// while the old zone is served throughout.
func TestReloadBlockedOnFIFO(t *testing.T) {
	t.Parallel()
	t.Run("drain and SIGTERM while stuck", func(t *testing.T) {
		t.Parallel()
		s, zone, _ := budgetServer(t, "")
		adm := adminOf(t, s)
		fifoZone(t, zone)
		mark := s.logMark()
		s.signal(syscall.SIGHUP)
		adm.drain("192.0.2.2", "")
		pollAnswer(t, s.addr("4"), "www.budget.test.", dns.TypeA, []string{"192.0.2.1"})
		if l, ok := s.waitLog(mark, 0, func(l logLine) bool { return l.message() == "reload applied" }); ok {
			t.Errorf("a reload with a FIFO among the zones applied: %s", l.raw)
		}
		code, stopped := s.stop()
		if !stopped || code != 0 {
			t.Errorf("SIGTERM during the stuck reload: stopped by itself %v, exit %d; want exit 0", stopped, code)
		}
	})
	t.Run("fails after reload_timeout", func(t *testing.T) {
		t.Parallel()
		s, zone, rewrite := budgetServer(t, "")
		fifo := fifoZone(t, zone)
		rewrite(`reload_timeout = "2s"`) // a backstop: the FIFO is refused unopened; a loaded machine may take 200 ms over the rest
		l := reloadResult(t, s)
		wantFailed(t, l, filepath.Base(fifo))
		if !strings.Contains(l.str("error"), "reload_timeout") {
			// Refused before it is opened (not a regular file) is as good.
			t.Logf("the FIFO failed without the time budget: %s", l.str("error"))
		}
		wantOldBudgetZone(t, s)
	})
}

func wantNoFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		t.Fatalf("%s exists", path)
	}
}
