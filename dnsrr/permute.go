package dnsrr

import (
	"math/rand/v2"

	"github.com/dnsrr/dnsrr/zones"
	"github.com/miekg/dns"
)

// permute is the one place that decides, per response, which records of a
// pool's address set are sent and in which order; both answer paths call
// it, the full path on a slice of records and the fast path on the RDATA
// of a packed answer, through a swapper. It returns k, how many records
// the response carries: the first k after the swaps.
//
//   - random, no weights: a partial Fisher–Yates shuffle, so every ordered
//     choice of k of the n records is equally likely (k = n: every order);
//   - random, weighted: successive sampling without replacement, each
//     position drawn among the records left with probability proportional
//     to their weights (the distribution of Efraimidis–Spirakis keys);
//   - cyclic: one step of the set's rotation, then the first k;
//   - fixed: file order, the first k.
//
// rand.IntN and rand.Uint64 draw from the runtime's per-thread ChaCha8
// generator, without a lock and (IntN) without modulo bias.
func permute[S swapper](set *zones.RRset, n int, sw S) int {
	k := n
	if set.MaxAnswers > 0 && set.MaxAnswers < n {
		k = set.MaxAnswers
	}
	switch set.Order {
	case zones.OrderRandom:
		if set.Weights != nil && len(set.Weights) == n {
			weightedShuffle(set.Weights, k, sw)
			return k
		}
		// Positions below k are drawn; at k = n the last one is what is left.
		for i := range min(k, n-1) {
			sw.swap(i, i+rand.IntN(n-i))
		}
	case zones.OrderCyclic:
		step := set.NextRotation()
		rotateBy(sw, 0, step)
		rotateBy(sw, step, n)
		rotateBy(sw, 0, n)
	}
	return k
}

// swapper swaps two records of what permute orders.
type swapper interface{ swap(i, j int) }

// weightedShuffle draws positions 0..k-1 by weight among the records not
// yet drawn. The weights move with their records in a copy: on the stack
// for the pools a weight is written for in practice, on the heap beyond.
func weightedShuffle[S swapper](weights []uint32, k int, sw S) {
	n := len(weights)
	var buf [64]uint64
	w := buf[:0]
	if n > len(buf) {
		w = make([]uint64, 0, n)
	}
	total := uint64(0)
	for _, x := range weights {
		w = append(w, uint64(x))
		total += uint64(x)
	}
	for i := range min(k, n-1) {
		r := rand.Uint64N(total)
		j := i
		for r >= w[j] {
			r -= w[j]
			j++
		}
		total -= w[j]
		w[i], w[j] = w[j], w[i]
		sw.swap(i, j)
	}
}

// rotateBy reverses positions [from, to): three reversals rotate a range.
func rotateBy[S swapper](sw S, from, to int) {
	for i, j := from, to-1; i < j; i, j = i+1, j-1 {
		sw.swap(i, j)
	}
}

// recordSwapper orders records of the full path (a copy the caller owns:
// never the zone's slice).
type recordSwapper []dns.RR

func (r recordSwapper) swap(i, j int) { r[i], r[j] = r[j], r[i] }

// order puts a pool's records in the order permute decides and returns
// how many of them the response carries.
func order(rrs []dns.RR, set *zones.RRset) int {
	return permute(set, len(rrs), recordSwapper(rrs))
}

// shuffle is a uniform Fisher–Yates shuffle of records (the full path's,
// exported to tests).
func shuffle(rrs []dns.RR) {
	permute(&zones.RRset{Order: zones.OrderRandom}, len(rrs), recordSwapper(rrs))
}
