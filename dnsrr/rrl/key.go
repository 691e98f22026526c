package rrl

import "hash/maphash"

var keySeed = maphash.MakeSeed()

// Key is a key for Check: a hash of a domain name, ignoring ASCII case,
// and a type (0 for the kinds keyed by name alone). Case must not count:
// a spoofer could otherwise vary it (as resolvers' 0x20 randomization
// does) to get a fresh account per query.
func Key(name string, qtype uint16) uint64 {
	var h maphash.Hash
	h.SetSeed(keySeed)
	var chunk [64]byte // lowered a piece at a time: any length, no allocation
	for len(name) > 0 {
		n := copy(chunk[:], name)
		name = name[n:]
		for i, c := range chunk[:n] {
			if 'A' <= c && c <= 'Z' {
				chunk[i] = c + 'a' - 'A'
			}
		}
		h.Write(chunk[:n])
	}
	h.WriteByte(byte(qtype >> 8))
	h.WriteByte(byte(qtype))
	return h.Sum64()
}
