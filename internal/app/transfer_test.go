package app

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dnsrr/dnsrr/zones"
	"github.com/rs/zerolog"
)

func serialZone(t *testing.T, serial uint32, addr string) *zones.Zone {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.test.toml")
	src := fmt.Sprintf("origin = \"s.test.\"\nns = [\"ns1\"]\n[soa]\nserial = %d\n[records.ns1]\na = [\"192.0.2.53\"]\n[pools.www]\naddresses = [\"192.0.2.1\", %q]\n", serial, addr)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	snap, err := zones.Load([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	return snap.Zone("s.test.")
}

// TestZoneChangedSerialRules: a reload notifies a zone whose serial moved,
// and neither an unchanged zone nor one kept because its file failed.
func TestZoneChangedSerialRules(t *testing.T) {
	n := &notifications{log: zerolog.Nop()}
	base := serialZone(t, 10, "192.0.2.2")
	for _, c := range []struct {
		name   string
		z      *zones.Zone
		notify bool
	}{
		{"same file reloaded", serialZone(t, 10, "192.0.2.2"), false},
		{"serial raised", serialZone(t, 11, "192.0.2.3"), true},
		{"serial raised by 2³¹-1, the most RFC 1982 allows", serialZone(t, 10+1<<31-1, "192.0.2.2"), true},
		{"kept (its file failed)", base, false},
	} {
		if got := n.zoneChanged(base, c.z); got != c.notify {
			t.Errorf("%s: notify %v, want %v", c.name, got, c.notify)
		}
	}
	if !n.zoneChanged(nil, base) {
		t.Error("a new zone is not notified")
	}
}
