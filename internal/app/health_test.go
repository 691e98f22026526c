package app

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/internal/config"
)

// checkedZone is a pool of two members checked over HTTP on port: path
// is the check's path, so that a reload changing it replaces the targets.
func checkedZone(port int, path string) string {
	return fmt.Sprintf(`origin = "app.test."
ns = ["ns1"]
[soa]
serial = 1
[checks.web]
type = "http"
port = %d
path = %q
interval = "30s"
timeout = "5s"
fall = 1
rise = 1
[pools.www]
addresses = ["127.0.0.1", "127.0.0.2"]
check = "web"
[records.ns1]
a = ["192.0.2.53"]
`, port, path)
}

// A reload that changes a check replaces its targets: until the new
// snapshot is swapped in, the old one keeps serving what their last probes
// decided. A member down before the reload is not served again while the
// new targets' first round runs (their prober status is gone, and an
// unknown status fails open).
func TestReloadKeepsReplacedTargetsState(t *testing.T) {
	// 127.0.0.1 answers the old path at once and the new one slowly, which
	// holds the reload in its first probe round; 127.0.0.2 refuses.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/new" {
			select {
			case <-release:
			case <-time.After(hangGuard):
			}
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	defer close(release)
	port := ln.Addr().(*net.TCPAddr).Port

	p, reloads := testParams(t, LoadZones)
	zone := p.Config.Zones[0]
	if err := os.WriteFile(zone, []byte(checkedZone(port, "/")), 0o644); err != nil {
		t.Fatal(err)
	}
	a, _ := serve(t, p)
	down := netip.MustParseAddr("127.0.0.2")
	if a.srv.Answers(poolName, down) || !a.srv.Answers(poolName, netip.MustParseAddr("127.0.0.1")) {
		t.Fatalf("before the reload: want only 127.0.0.1 served")
	}
	old := a.srv.Snapshot()

	if err := os.WriteFile(zone, []byte(checkedZone(port, "/new")), 0o644); err != nil {
		t.Fatal(err)
	}
	reloads <- syscall.SIGHUP
	// Watch the old snapshot until the first probe of the new path is
	// under way and every change the reload signalled has been applied.
	poll(t, "new targets probed", func() bool {
		for _, st := range a.health.prober.View().All() {
			if strings.Contains(st.Target.Check.Path, "new") && st.Target.Addr == down && !st.LastCheck.IsZero() {
				return true
			}
		}
		return false
	})
	for range 50 {
		if a.srv.Snapshot() != old {
			t.Fatal("swapped before the first round ended: the test holds nothing")
		}
		if a.srv.Answers(poolName, down) {
			t.Fatalf("the old snapshot serves %s, down before the reload, while the new targets are probed", down)
		}
		time.Sleep(pollInterval)
	}
}

// planProbes probes the members of a master file's pool that the
// configuration gives a check, as it does a TOML pool's.
func TestPlanProbesMasterFilePool(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("m.test.zone", `$ORIGIN m.test.
@   IN SOA ns.other.test. hostmaster 1 3600 900 1209600 60
@   IN NS  ns.other.test.
www IN A   127.0.0.1
www IN A   127.0.0.2
api IN A   127.0.0.3
api IN A   127.0.0.4
`)
	cfg, err := config.Load(write("dnsrr.toml", `zones = ["m.test.zone"]
[checks.web]
type = "tcp"
port = 8080
[pools."www.m.test."]
check = "web"
`))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := cfg.LoadZones(nil)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := planProbes(snap, cfg.Limits, cfg.Health.ProbeSource)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range plan.targets {
		got = append(got, fmt.Sprintf("%s:%d %s", tg.Addr, tg.Check.Port, tg.Check.Kind))
	}
	if want := []string{"127.0.0.1:8080 tcp", "127.0.0.2:8080 tcp"}; !slices.Equal(got, want) {
		t.Errorf("targets %q, want %q (www's members, not api's)", got, want)
	}
}
