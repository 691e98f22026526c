package zones

import (
	"crypto/sha256"
	"iter"

	"github.com/miekg/dns"
)

// Transfer lists the zone's static view, as a zone transfer (AXFR, RFC
// 5936 §2.2) sends it: the SOA first, every other record once, and the
// SOA again last. Pools give all their members in file order with their
// own TTL: health, drains and answer policies are what a query sees, not
// what the zone holds. Records below a cut (glue, the child's NS) are
// part of the zone's data and go too; wildcards go as stored.
//
// Address records are made one at a time and not kept, so a transfer of
// a large zone does not leave every pool's records behind in memory (as
// RRset.Records would).
func (z *Zone) Transfer() iter.Seq[dns.RR] {
	return func(yield func(dns.RR) bool) {
		soa := z.SOA.Records()[0]
		if !yield(soa) {
			return
		}
		for _, n := range z.Nodes() {
			for _, s := range n.Sets {
				if s.Type == dns.TypeSOA && n == z.Apex {
					continue
				}
				if isAddress(s.Type) {
					for i := range s.Len() {
						if !yield(s.record(i)) {
							return
						}
					}
					continue
				}
				for _, rr := range s.rrs {
					if !yield(rr) {
						return
					}
				}
			}
		}
		yield(soa)
	}
}

// Digest is a hash of the zone's content as Transfer lists it (in wire
// form, so case and order of records within the listing count), computed
// once: a reload compares digests to learn whether a zone whose serial did
// not move changed anyway.
func (z *Zone) Digest() [sha256.Size]byte {
	if d := z.digest.Load(); d != nil {
		return *d
	}
	h := sha256.New()
	buf := make([]byte, dns.MaxMsgSize)
	for rr := range z.Transfer() {
		n, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			// Every record was packed at load (checkSize); mark the
			// impossible so that it never equals a real digest.
			h.Write([]byte(err.Error()))
			continue
		}
		h.Write(buf[:n])
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	z.digest.Store(&d)
	return d
}
