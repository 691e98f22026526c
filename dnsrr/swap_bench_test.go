package dnsrr

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsrr/dnsrr/zones"
	"github.com/rs/zerolog"
)

// bigZone loads a master file of n pools of four addresses.
func bigZone(tb testing.TB, n int) *zones.Snapshot {
	tb.Helper()
	var m strings.Builder
	m.WriteString("$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 900 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n")
	for i := range n {
		for j := 1; j <= 4; j++ {
			fmt.Fprintf(&m, "p%d 30 IN A 10.%d.%d.%d\n", i, (i>>8)&255, i&255, j)
		}
	}
	path := filepath.Join(tb.TempDir(), "big.test.zone")
	if err := os.WriteFile(path, []byte(m.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	snap, err := zones.Load([]string{path})
	if err != nil {
		tb.Fatal(err)
	}
	return snap
}

// BenchmarkSwap measures what a reload costs beyond loading: building the
// fast path's templates for 100k pools.
func BenchmarkSwap(b *testing.B) {
	snap := bigZone(b, 100_000)
	s := New(nil, Chaos{}, snap, zerolog.Nop())
	b.ReportAllocs()
	for b.Loop() {
		s.Swap(snap)
	}
}
