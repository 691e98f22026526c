package dnsrr

import (
	"math"
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
// rand.IntN and rand.Uint64N draw from the runtime's per-thread ChaCha8
// generator, without a lock and without modulo bias.
func permute[S swapper](set *zones.RRset, n int, sw S, q *wireQuery) int {
	k := n
	if set.MaxAnswers > 0 && set.MaxAnswers < n {
		k = set.MaxAnswers
	}
	if set.Sticky && q != nil {
		rendezvous(set.Weights, q.stickyKey(), n, k, sw)
		return k
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
		reverseRange(sw, 0, step)
		reverseRange(sw, step, n)
		reverseRange(sw, 0, n)
	}
	return k
}

// swapper swaps two records of what permute orders, and tells the
// rendezvous hash of the address of one.
type swapper interface {
	swap(i, j int)
	member(i int) uint64
}

// rendezvous orders the first k positions by highest random weight
// (Thaler and Ravishankar): each member scores a hash of the client's key
// and its address, weighted as -w/ln(u) with u the hash in (0, 1), and the
// best come first. A client keeps its members while they serve; when one
// goes, only its clients move, each to its own next best.
func rendezvous[S swapper](weights []uint32, key uint64, n, k int, sw S) {
	var buf [64]float64
	score := buf[:0]
	if n > len(buf) {
		score = make([]float64, 0, n)
	}
	for i := range n {
		h := mix(key ^ sw.member(i))
		if len(weights) != n {
			score = append(score, float64(h)) // equal weights: the hash alone orders
			continue
		}
		u := (float64(h>>11) + 0.5) / (1 << 53)
		score = append(score, -float64(weights[i])/math.Log(u))
	}
	for i := range min(k, n-1) {
		best := i
		for j := i + 1; j < n; j++ {
			if score[j] > score[best] {
				best = j
			}
		}
		score[i], score[best] = score[best], score[i]
		sw.swap(i, best)
	}
}

// The hashes of stickiness are fixed (not seeded per process), so that
// every instance serving a zone sends a client to the same member.

// mix is splitmix64's finalizer: every input bit moves every output bit.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	return x ^ x>>31
}

// addrKey hashes an address in its 16-byte form (IPv4 mapped).
func addrKey(a [16]byte) uint64 {
	return mix(be.Uint64(a[:8])) ^ mix(be.Uint64(a[8:])+0x9E3779B97F4A7C15)
}

// stickyKey is what a sticky pool orders the client's answer by: the
// network of its EDNS Client Subnet option (at most its first 24 bits, or
// 56 for IPv6, which the reply then echoes as the scope: every client of
// that network gets this answer), else the resolver's own address.
func (q *wireQuery) stickyKey() uint64 {
	if q.stickyReady {
		return q.sticky
	}
	var a [16]byte
	switch {
	case q.opts.ecsFamily != 0 && q.opts.ecsSource > 0:
		limit := uint8(56)
		if q.opts.ecsFamily == 1 {
			limit = 24
		}
		bits := min(q.opts.ecsSource, limit)
		copy(a[:], q.opts.ecsAddr[:(bits+7)/8])
		if bits%8 != 0 {
			a[bits/8] &= 0xFF << (8 - bits%8)
		}
		if q.opts.ecsFamily == 1 { // as an IPv4-mapped address, like members
			var m [16]byte
			m[10], m[11] = 0xFF, 0xFF
			copy(m[12:], a[:4])
			a = m
		}
		if q.ecsScopeAt >= 0 {
			q.optData[q.ecsScopeAt] = bits
		}
	default:
		a = q.client.As16()
	}
	q.sticky, q.stickyReady = addrKey(a), true
	return q.sticky
}

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

// reverseRange reverses positions [from, to): three reversals rotate a range.
func reverseRange[S swapper](sw S, from, to int) {
	for i, j := from, to-1; i < j; i, j = i+1, j-1 {
		sw.swap(i, j)
	}
}

// recordSwapper orders records of the full path (a copy the caller owns:
// never the zone's slice).
type recordSwapper []dns.RR

func (r recordSwapper) swap(i, j int) { r[i], r[j] = r[j], r[i] }

func (r recordSwapper) member(i int) uint64 { return addrKey(zones.AddrOf(r[i]).As16()) }

// order puts a pool's records in the order permute decides for q (nil:
// no client, so no stickiness) and returns how many of them the response
// carries.
func order(rrs []dns.RR, set *zones.RRset, q *wireQuery) int {
	return permute(set, len(rrs), recordSwapper(rrs), q)
}
