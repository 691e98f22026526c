package zones

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestReloadInBackground: a reload (low-priority threads, more Ps for the
// while) of a file large enough to be parsed in pieces gives the zone a
// load gives, and leaves GOMAXPROCS as it found it.
func TestReloadInBackground(t *testing.T) {
	var b strings.Builder
	b.WriteString("$ORIGIN bg.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 7 3600 900 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n")
	for i := 0; b.Len() < 3<<20; i++ {
		fmt.Fprintf(&b, "p%d 30 IN A 10.%d.%d.1\np%d 30 IN A 10.%d.%d.2\n", i, i/256%256, i%256, i, i/256%256, i%256)
	}
	path := filepath.Join(t.TempDir(), "bg.test.zone")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	procs, nice := runtime.GOMAXPROCS(0), mainThreadNice(t)
	loaded, err := Load([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	var reloaded *Snapshot
	for range 5 { // the main thread is only sometimes the one a loader goroutine lands on
		if reloaded, err = Reload([]string{path}, loaded); err != nil {
			t.Fatal(err)
		}
		if got := mainThreadNice(t); got != nice {
			t.Fatalf("the main thread's nice value is %s after a reload, was %s", got, nice)
		}
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS %d after the reload, was %d", got, procs)
	}
	a, r := loaded.Zones()[0], reloaded.Zones()[0]
	if a == r {
		t.Fatal("the reload returned the old zone")
	}
	if a.Summary() != r.Summary() {
		t.Errorf("load: %s\nreload: %s", a.Summary(), r.Summary())
	}
	for _, name := range []string{"p0.bg.test.", "p12345.bg.test.", "ns1.bg.test."} {
		na, nr := a.Node(name), r.Node(name)
		if na == nil || nr == nil || fmt.Sprint(na.Sets[0].Records()) != fmt.Sprint(nr.Sets[0].Records()) {
			t.Errorf("%s differs: load %v, reload %v", name, na, nr)
		}
	}
}

// mainThreadNice reads the nice value of the process's main thread (Linux;
// "" elsewhere). Go parks that thread rather than ending it, so a loader
// goroutine must never leave it at a lowered priority.
func mainThreadNice(t *testing.T) string {
	t.Helper()
	pid := strconv.Itoa(os.Getpid())
	b, err := os.ReadFile("/proc/self/task/" + pid + "/stat")
	if err != nil {
		return ""
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return fields[16] // field 19 of stat(5), counted after the command name
}
