package zones

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// writeBigZone writes a zone of n pools of four addresses in both formats.
func writeBigZone(tb testing.TB, n int) (tomlPath, masterPath string) {
	tb.Helper()
	dir := tb.TempDir()
	var t, m strings.Builder
	t.WriteString("origin = \"big.test.\"\nttl = 300\nns = [\"ns1\"]\n[soa]\nserial = 1\n[records.ns1]\na = [\"192.0.2.1\"]\n")
	m.WriteString("$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 900 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n")
	for i := range n {
		fmt.Fprintf(&t, "[pools.p%d]\naddresses = [", i)
		for j := 1; j <= 4; j++ {
			sep := ", "
			if j == 4 {
				sep = ""
			}
			fmt.Fprintf(&t, "\"10.%d.%d.%d\"%s", (i>>8)&255, i&255, j, sep)
			fmt.Fprintf(&m, "p%d 30 IN A 10.%d.%d.%d\n", i, (i>>8)&255, i&255, j)
		}
		t.WriteString("]\nttl = 30\n")
	}
	tomlPath, masterPath = filepath.Join(dir, "big.test.toml"), filepath.Join(dir, "big.test.zone")
	if err := os.WriteFile(tomlPath, []byte(t.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(masterPath, []byte(m.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return tomlPath, masterPath
}

// BenchmarkLoad loads a zone of 100k pools (400k address records), at
// startup (Load) and as a reload beside a server (Reload: low-priority
// threads; on an idle machine it costs the thread switches).
func BenchmarkLoad(b *testing.B) {
	tomlPath, masterPath := writeBigZone(b, 100_000)
	for _, c := range []struct{ name, path string }{{"toml", tomlPath}, {"master", masterPath}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				snap, err := Load([]string{c.path})
				if err != nil {
					b.Fatal(err)
				}
				if got := snap.Zones()[0].Pools; got != 100_000 {
					b.Fatalf("%d pools", got)
				}
			}
		})
		b.Run(c.name+"-reload", func(b *testing.B) {
			old, err := Load([]string{c.path})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				snap, err := Reload([]string{c.path}, old)
				if err != nil {
					b.Fatal(err)
				}
				if got := snap.Zones()[0].Pools; got != 100_000 {
					b.Fatalf("%d pools", got)
				}
			}
		})
	}
}

// A name server may be named like the child zone it serves: its glue then
// sits at the delegation point itself, which BIND and NSD accept too.
func TestGlueAtTheDelegationPoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "glue.test.toml")
	zone := "origin = \"glue.test.\"\nns = [\"ns.other.test.\"]\n[soa]\nserial = 1\n" +
		"[records.dev]\nns = [\"dev\"]\na = [\"192.0.2.7\"]\n"
	if err := os.WriteFile(path, []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	snap, err := Load([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	ns := snap.Zones()[0].Node("dev.glue.test.").Get(dns.TypeNS)
	if len(ns.Additional) != 1 {
		t.Fatalf("referral glue = %v, want the A record of dev", ns.Additional)
	}
}

// Names with several addresses outside [pools] (master files, [records])
// are pools too, so that drains reach them; a name with one address per
// family (ns2: one A, one AAAA) is not.
func TestEveryMultiAddressNameIsAPool(t *testing.T) {
	snap, err := Load([]string{"../examples/master/lb.example.test.zone"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range snap.Zones()[0].PoolDefs {
		names = append(names, p.Name)
		if p.Check != nil {
			t.Errorf("%s: a master-file pool has a check", p.Name)
		}
	}
	want := "*.apps.lb.example.test. api.lb.example.test. cdn.lb.example.test. lb.example.test. static.lb.example.test. www.lb.example.test."
	if got := strings.Join(names, " "); got != want {
		t.Errorf("pools:\n got %s\nwant %s", got, want)
	}
}

// An RRset that cannot fit in one message is refused at load: it could
// not be served even over TCP.
func TestRRsetTooBigForOneMessage(t *testing.T) {
	var m strings.Builder
	m.WriteString("$ORIGIN big.test.\n@ 300 IN SOA ns1 h 1 2 3 4 5\n@ 300 IN NS ns.other.test.\n")
	for i := range 300 {
		fmt.Fprintf(&m, "txt 300 IN TXT \"%03d%s\"\n", i, strings.Repeat("x", 240))
	}
	path := filepath.Join(t.TempDir(), "big.test.zone")
	if err := os.WriteFile(path, []byte(m.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load([]string{path})
	if err == nil || !strings.Contains(err.Error(), ":4: txt.big.test. TXT: the TXT set of txt.big.test. is") {
		t.Fatalf("got %v", err)
	}
}

func TestInZone(t *testing.T) {
	cases := []struct {
		origin, name string
		want         bool
	}{
		{"lb.example.test.", "lb.example.test.", true},
		{"lb.example.test.", "www.lb.example.test.", true},
		{"lb.example.test.", "xlb.example.test.", false},
		{"lb.example.test.", "example.test.", false},
		{"lb.example.test.", `a\.lb.example.test.`, false}, // one label "a.lb" under example.test.
		{"lb.example.test.", `a\.b.lb.example.test.`, true},
		{".", "anything.test.", true},
	}
	for _, c := range cases {
		if got := inZone(c.origin, c.name); got != c.want {
			t.Errorf("inZone(%q, %q) = %v, want %v", c.origin, c.name, got, c.want)
		}
	}
}

// BenchmarkLoadFile loads the zone file named by $DNSRR_LOAD_FILE (skipped
// without it), for integration/perf/loadcost.sh: besides time and
// allocations it reports the heap still live with the zone loaded.
func BenchmarkLoadFile(b *testing.B) {
	path := os.Getenv("DNSRR_LOAD_FILE")
	if path == "" {
		b.Skip("DNSRR_LOAD_FILE is not set")
	}
	b.ReportAllocs()
	var snap *Snapshot
	for b.Loop() {
		var err error
		if snap, err = Load([]string{path}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "live-MB")
	runtime.KeepAlive(snap)
}
