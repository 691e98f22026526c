package zones

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// The example site, in both formats, relative to this package.
const (
	exampleTOML   = "../examples/zones/lb.example.test.toml"
	exampleMaster = "../examples/master/lb.example.test.zone"
	exampleOrigin = "lb.example.test."
)

// writeFile writes content to name in a fresh directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// mustLoad loads files and fails the test on any error.
func mustLoad(t *testing.T, files ...string) *Snapshot {
	t.Helper()
	snap, err := Load(files)
	if err != nil {
		t.Fatalf("Load(%q):\n%s", files, strings.Join(errorStrings(err), "\n"))
	}
	return snap
}

// errorStrings renders every problem of a Load error, in the order given.
func errorStrings(err error) []string {
	var out []string
	for _, e := range Errors(err) {
		out = append(out, e.Error())
	}
	return out
}

// zoneOf returns the one zone with this origin.
func zoneOf(t *testing.T, snap *Snapshot, origin string) *Zone {
	t.Helper()
	z := snap.Zone(origin)
	if z == nil {
		var have []string
		for _, z := range snap.Zones() {
			have = append(have, z.Origin)
		}
		t.Fatalf("no zone %s; have %q", origin, have)
	}
	return z
}

// rrset returns the RRset of typ at name, failing the test if absent.
func rrset(t *testing.T, z *Zone, name string, typ uint16) *RRset {
	t.Helper()
	n := z.Node(name)
	if n == nil {
		t.Fatalf("no node %s in %s", name, z.Origin)
	}
	s := n.Get(typ)
	if s == nil {
		t.Fatalf("no %s RRset at %s (sets: %s)", dns.TypeToString[typ], name, setTypes(n))
	}
	return s
}

func setTypes(n *Node) string {
	var ts []string
	for _, s := range n.Sets {
		ts = append(ts, dns.TypeToString[s.Type])
	}
	return strings.Join(ts, " ")
}

// rdatas is the sorted presentation form of each record's data, for
// order-insensitive comparison and readable failures.
func rdatas(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, rdata(rr))
	}
	sort.Strings(out)
	return out
}

// wires is the sorted uncompressed wire form of each record (owner, type,
// class, TTL and data): what a resolver would see, independent of how the
// loader spelt escapes in TXT strings or the case of names in data.
func wires(t *testing.T, rrs []dns.RR) []string {
	t.Helper()
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		buf := make([]byte, dns.Len(rr)+512)
		n, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			t.Errorf("cannot pack %v: %v", rr, err)
			continue
		}
		out = append(out, strings.ToLower(hex.EncodeToString(buf[:n])))
	}
	sort.Strings(out)
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// zoneHead is the smallest valid TOML zone; tests append pools and records.
// Its name server is out of zone, so it needs no address (RFC 1034 §4.2.1:
// glue is only needed below the zone).
const zoneHead = `origin = "z.test."
ns = ["ns.other.test."]
[soa]
serial = 1
`

// loadTOMLString loads zoneHead+body as a TOML zone file.
func loadTOMLString(t *testing.T, body string) (*Zone, error) {
	t.Helper()
	snap, err := Load([]string{writeFile(t, "z.test.toml", zoneHead+body)})
	if err != nil {
		return nil, err
	}
	return zoneOf(t, snap, "z.test."), nil
}

func mustTOMLString(t *testing.T, body string) *Zone {
	t.Helper()
	z, err := loadTOMLString(t, body)
	if err != nil {
		t.Fatalf("load:\n%s", strings.Join(errorStrings(err), "\n"))
	}
	return z
}
