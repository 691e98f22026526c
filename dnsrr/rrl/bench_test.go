package rrl

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCheck: one response to a client under its rate, over to be
// limited, exempt, and to a million networks cycling through the table
// (every Check a miss that evicts).
func BenchmarkCheck(b *testing.B) {
	six, loopback := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("127.0.0.1")
	cases := []struct {
		name string
		rate int
		next func(i int) netip.Addr
	}{
		{"pass", MaxRate, func(int) netip.Addr { return client }},
		{"limited", 1, func(int) netip.Addr { return client }},
		{"ipv6", MaxRate, func(int) netip.Addr { return six }},
		{"exempt", 1, func(int) netip.Addr { return loopback }},
		{"evicting", 10, func(i int) netip.Addr {
			return netip.AddrFrom4([4]byte{10 + byte(i>>20&7), byte(i >> 12), byte(i >> 4), 1})
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			l := newTest(b, Defaults(c.rate))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				l.Check(c.next(i), Answer, 42)
				i++
			}
		})
	}
}

// BenchmarkCheckParallel: workers checking at once, each its own client
// network (as a server sees many resolvers), or all one (a flood of one
// spoofed network, which contends on its bucket).
func BenchmarkCheckParallel(b *testing.B) {
	for _, shared := range []bool{false, true} {
		name := "networks"
		if shared {
			name = "one-network"
		}
		b.Run(name, func(b *testing.B) {
			l := newTest(b, Defaults(100))
			var worker atomic.Uint32
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := worker.Add(1)
				a := netip.AddrFrom4([4]byte{10, byte(w >> 8), byte(w), 1})
				if shared {
					a = client
				}
				for pb.Next() {
					l.Check(a, Answer, 42)
				}
			})
		})
	}
}

// BenchmarkClock compares the coarse clock Check reads with time.Now.
func BenchmarkClock(b *testing.B) {
	l := newTest(b, Defaults(10))
	b.Run("atomic", func(b *testing.B) {
		for b.Loop() {
			_ = l.clock.Load()
		}
	})
	b.Run("time.Since", func(b *testing.B) {
		for b.Loop() {
			_ = uint32(time.Since(l.start) / time.Second)
		}
	})
}
