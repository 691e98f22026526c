package rrl

import "sync"

// The table is a fixed array of buckets of bucketEntries accounts each; an
// account lives in the bucket its hash picks, so a lookup reads one or two
// cache lines under one uncontended lock. Nothing grows: a new account
// takes the place of one in its bucket, chosen in this order:
//
//   - an empty slot, or an account with full credit (idle long enough to
//     have paid its debt: dropping it loses nothing, it would start full);
//   - else the account with the most credit now. If even that one is in
//     debt (every account in the bucket is limited), the newcomer starts
//     with no credit instead of a full second's worth.
//
// What this implies under a flood of spoofed sources: an account that is
// limited is only evicted when the other three of its bucket are limited
// as well, so an attacker needs more limited sources than the table has
// accounts (TableSize × rate responses a second) before any limited one
// goes. Past that the table thrashes: an evicted limited account comes
// back with at most a second's credit (none while its bucket stays all
// limited), so it gets through at about its rate at worst, never with a
// burst, but its debt (the Window's averaging) is forgotten. Like Knot,
// the table is sized at start and gives way like this rather than grow.
const bucketEntries = 4

// bytesPerEntry is what one account costs, its bucket's lock included.
const bytesPerEntry = 26

type bucket struct {
	mu sync.Mutex
	e  [bucketEntries]entry
}

// entry is one account: a client network, a kind and a key.
type entry struct {
	tag   uint32 // the hash's upper half, low bit set; 0: an empty slot
	stamp uint32 // the clock's second when last debited
	// count is the limited responses of the current episode (0: none);
	// it also times the slips.
	count   uint64
	balance int32  // responses left this second; negative: debt
	episode uint16 // 1 + the index of the episode's log record; 0: none
	kind    Kind
}

// bucketIndex maps a hash to one of n buckets (Lemire's fast range
// reduction: no division, and n need not be a power of two).
func bucketIndex(h uint64, n int) int {
	return int(uint64(uint32(h)) * uint64(n) >> 32)
}

// lookup returns the account tagged tag, making room for it if it is not
// there (see the top of this file). The bucket is locked.
func (b *bucket) lookup(l *Limiter, tag uint32, kind Kind, now uint32) *entry {
	for i := range b.e {
		if b.e[i].tag == tag {
			return &b.e[i]
		}
	}
	victim, best := &b.e[0], int64(-1)<<62
	for i := range b.e {
		e := &b.e[i]
		if e.tag == 0 {
			victim, best = e, 0
			break
		}
		rate := l.rates[e.kind]
		c := e.credit(rate, now)
		if c >= rate {
			victim, best = e, 0
			break
		}
		if c > best {
			victim, best = e, c
		}
	}
	if victim.episode != 0 {
		l.episodes.end(victim.episode, victim.count, now)
	}
	balance := int32(l.rates[kind])
	if best < 0 {
		balance = 0
	}
	*victim = entry{tag: tag, kind: kind, stamp: now, balance: balance}
	return victim
}

// credit is the balance the account would have at now: its own, plus rate
// for every second since it was last debited, never above rate.
func (e *entry) credit(rate int64, now uint32) int64 {
	c := int64(e.balance)
	if now > e.stamp {
		c += rate * int64(now-e.stamp)
	}
	return min(c, rate)
}

// debit takes one response from the account. The debt is bounded by window
// seconds of rate, so a source silent for longer than the window is
// forgiven. A limited response is debited too, as in BIND: a source that
// keeps sending over its rate stays limited, whatever it gets through by
// slips. count is the response's number in the limiting episode (1: the
// first).
func (e *entry) debit(rate, window int64, now uint32) (limited bool, count uint64) {
	// now may be a second behind the stamp: another worker read the clock
	// after this one and locked the bucket first.
	if now > e.stamp {
		e.balance = int32(e.credit(rate, now))
		e.stamp = now
	}
	if e.balance > int32(-window*rate) {
		e.balance--
	}
	if e.balance >= 0 {
		return false, 0
	}
	e.count++
	return true, e.count
}
