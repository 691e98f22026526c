package healthprobe

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// BenchmarkViewChange is what the prober spends per published change with
// many targets: a probe result ("probe"), and a drain or undrain of one
// address ("drain"). Each copies what changed, not every target's status.
func BenchmarkViewChange(b *testing.B) {
	for _, n := range []int{1000, 100_000, 400_000} {
		p, err := New(Options{}, zerolog.Nop())
		if err != nil {
			b.Fatal(err)
		}
		ts := make([]Target, n)
		for i := range ts {
			ts[i] = Target{netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), fakeCheck()}
		}
		if err := p.SetTargets(ts); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("targets=%d/probe", n), func(b *testing.B) {
			t := p.order[n/2]
			for b.Loop() {
				p.record(t, nil, ReasonOther, 0, weightReport{})
			}
		})
		b.Run(fmt.Sprintf("targets=%d/drain", n), func(b *testing.B) {
			a := ts[n/3].Addr
			for i := 0; b.Loop(); i++ {
				if i%2 == 0 {
					err = p.Drain(a, time.Time{})
				} else {
					err = p.Undrain(a)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
