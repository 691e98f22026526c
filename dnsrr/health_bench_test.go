package dnsrr

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/dnsrr/dnsrr/zones"
	"github.com/rs/zerolog"
)

// BenchmarkHealthChange is one health change (an address drained or put
// back, alternately) in a zone of checked pools of 4 members each:
// "incremental" recomputes the pools holding the address
// (HealthChangedAt), "full" every pool (HealthChanged, what every change
// cost before, and what a reload costs besides the index), "index" what a
// reload adds: the member index.
func BenchmarkHealthChange(b *testing.B) {
	for _, pools := range []int{1000, 100_000, 250_000} {
		if testing.Short() && pools > 1000 {
			continue
		}
		snap := checkedPools(b, pools)
		h := newFakeHealth()
		s := New(nil, Chaos{}, snap, zerolog.Nop())
		s.SetHealth(h)
		// A drain elsewhere, so that draining stays on either way.
		h.drained[memberAddr(pools-1, 3)] = true
		addr := memberAddr(pools/2, 1)
		toggle := func() {
			h.mu.Lock()
			if h.drained[addr] {
				delete(h.drained, addr)
			} else {
				h.drained[addr] = true
			}
			h.mu.Unlock()
		}
		name := fmt.Sprintf("pools=%d/members=%d", pools, 4*pools)
		b.Run(name+"/incremental", func(b *testing.B) {
			for b.Loop() {
				toggle()
				s.HealthChangedAt([]netip.Addr{addr})
			}
		})
		b.Run(name+"/full", func(b *testing.B) {
			for b.Loop() {
				toggle()
				s.HealthChanged()
			}
		})
		// A burst: 10,000 addresses changed at once (a rack going down),
		// as one coalesced call.
		burst := make([]netip.Addr, 0, 10_000)
		for i := range min(10_000, pools) {
			burst = append(burst, memberAddr(i*pools/min(10_000, pools), i%4))
		}
		down := false
		b.Run(name+"/burst10k", func(b *testing.B) {
			for b.Loop() {
				down = !down
				h.mu.Lock()
				for _, a := range burst {
					h.down[downKey{"web", a}] = down
				}
				h.mu.Unlock()
				s.HealthChangedAt(burst)
			}
		})
		// What a reload adds: the member index of the new snapshot.
		b.Run(name+"/index", func(b *testing.B) {
			for b.Loop() {
				newPoolIndex(snap)
			}
		})
	}
}

func memberAddr(pool, i int) netip.Addr {
	n := 4*pool + i
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
}

// checkedPools loads a zone of n checked pools of 4 IPv4 members each.
func checkedPools(b *testing.B, n int) *zones.Snapshot {
	b.Helper()
	path := filepath.Join(b.TempDir(), "pools.test.toml")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprint(w, "origin = \"pools.test.\"\nns = [\"ns1\"]\n[soa]\nserial = 1\n[records.ns1]\na = [\"192.0.2.1\"]\n")
	fmt.Fprint(w, "[checks.web]\ntype = \"tcp\"\nport = 80\n")
	for p := range n {
		fmt.Fprintf(w, "[pools.p%d]\ncheck = \"web\"\naddresses = [", p)
		for i := range 4 {
			fmt.Fprintf(w, "%q,", memberAddr(p, i))
		}
		fmt.Fprint(w, "]\n")
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	snap, err := zones.Load([]string{path})
	if err != nil {
		b.Fatal(err)
	}
	return snap
}
