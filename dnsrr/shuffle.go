package dnsrr

import (
	"math/rand/v2"

	"github.com/dnsrr/dnsrr/zones"
	"github.com/miekg/dns"
)

// order puts a pool's records (a copy the caller owns: never the zone's
// slice) in the order its RRset asks for.
func order(rrs []dns.RR, set *zones.RRset) {
	switch set.Order {
	case zones.OrderRandom:
		shuffle(rrs)
	case zones.OrderCyclic:
		rotate(rrs, set.NextRotation())
	}
}

// shuffle is a Fisher–Yates shuffle: every one of the n! orders is equally
// likely. rand.IntN draws from the runtime's per-thread ChaCha8 generator
// without modulo bias and without a lock.
func shuffle(rrs []dns.RR) {
	for i := len(rrs) - 1; i > 0; i-- {
		j := rand.IntN(i + 1)
		rrs[i], rrs[j] = rrs[j], rrs[i]
	}
}

// rotate moves the first k records to the end, in place.
func rotate(rrs []dns.RR, k int) {
	reverse(rrs[:k])
	reverse(rrs[k:])
	reverse(rrs)
}

func reverse(rrs []dns.RR) {
	for i, j := 0, len(rrs)-1; i < j; i, j = i+1, j-1 {
		rrs[i], rrs[j] = rrs[j], rrs[i]
	}
}
