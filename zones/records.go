package zones

import (
	"bytes"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/miekg/dns"
)

// An address set (A or AAAA) keeps its addresses packed, 4 or 16 bytes
// each, rather than as dns.RR values: a miekg/dns record costs about 100
// bytes with its slot and address, and large zones are mostly addresses.
// Health checks, drains and the admin API read the addresses; the records
// are made the first time an answer needs them (Records) and kept, so a
// zone costs the records of the names actually asked for.

// addrSet is what an address set keeps instead of records.
type addrSet struct {
	// addrs holds the addresses in file order, packed: 4 or 16 bytes each.
	addrs []byte
	// owner is the set's owner name, for the records made from addrs.
	owner string
	// made holds the records once Records made them.
	made atomic.Pointer[[]dns.RR]
}

// isAddress reports whether sets of the type keep packed addresses.
func isAddress(t uint16) bool { return t == dns.TypeA || t == dns.TypeAAAA }

// addrSize is the size of one packed address of an A or AAAA set.
func addrSize(t uint16) int {
	if t == dns.TypeA {
		return net.IPv4len
	}
	return net.IPv6len
}

// Len is the number of records in the set.
func (s *RRset) Len() int {
	if isAddress(s.Type) {
		if s.addrSet == nil {
			return 0
		}
		return len(s.addrs) / addrSize(s.Type)
	}
	return len(s.rrs)
}

// Records returns the set's records in file order. They are shared by
// every caller: copy the slice before reordering it, and never modify a
// record. An address set makes its records on the first call.
func (s *RRset) Records() []dns.RR {
	if !isAddress(s.Type) {
		return s.rrs
	}
	if s.addrSet == nil {
		return nil
	}
	if made := s.made.Load(); made != nil {
		return *made
	}
	rrs := s.makeRecords()
	if !s.made.CompareAndSwap(nil, &rrs) {
		return *s.made.Load() // another caller made them first: the same records
	}
	return rrs
}

// record makes record i of an address set.
func (s *RRset) record(i int) dns.RR {
	size := addrSize(s.Type)
	hdr := dns.RR_Header{Name: s.owner, Rrtype: s.Type, Class: dns.ClassINET, Ttl: s.TTL}
	ip := net.IP(s.addrs[i*size : (i+1)*size : (i+1)*size])
	if s.Type == dns.TypeA {
		return &dns.A{Hdr: hdr, A: ip}
	}
	return &dns.AAAA{Hdr: hdr, AAAA: ip}
}

// makeRecords makes the records of an address set. Their addresses point
// into the packed ones, which never change.
func (s *RRset) makeRecords() []dns.RR {
	n, size := s.Len(), addrSize(s.Type)
	rrs := make([]dns.RR, n)
	hdr := dns.RR_Header{Name: s.owner, Rrtype: s.Type, Class: dns.ClassINET, Ttl: s.TTL}
	if s.Type == dns.TypeA {
		as := make([]dns.A, n)
		for i := range as {
			as[i] = dns.A{Hdr: hdr, A: net.IP(s.addrs[i*size : (i+1)*size : (i+1)*size])}
			rrs[i] = &as[i]
		}
		return rrs
	}
	as := make([]dns.AAAA, n)
	for i := range as {
		as[i] = dns.AAAA{Hdr: hdr, AAAA: net.IP(s.addrs[i*size : (i+1)*size : (i+1)*size])}
		rrs[i] = &as[i]
	}
	return rrs
}

// Addr is the address of record i of an A or AAAA set.
func (s *RRset) Addr(i int) netip.Addr {
	if s.Type == dns.TypeA {
		return netip.AddrFrom4([4]byte(s.addrs[4*i:]))
	}
	return netip.AddrFrom16([16]byte(s.addrs[16*i:]))
}

// HasAddr reports whether a is one of an address set's addresses.
func (s *RRset) HasAddr(a netip.Addr) bool {
	for i := range s.Len() {
		if s.Addr(i) == a {
			return true
		}
	}
	return false
}

// WithRRs is a copy of an address set serving only the records keep
// selects (a subset chosen by health checks), in file order, with their
// weights, rotating in step with the original.
func (s *RRset) WithRRs(keep func(i int) bool) *RRset {
	c := &RRset{Type: s.Type, TTL: s.TTL, Order: s.Order, first: s.first, addrSet: &addrSet{owner: s.owner},
		Additional: s.Additional, Pool: s.Pool, MaxAnswers: s.MaxAnswers, Sticky: s.Sticky, rotation: s.rotation}
	size := addrSize(s.Type)
	for i := range s.Len() {
		if keep(i) {
			c.addrs = append(c.addrs, s.addrs[i*size:(i+1)*size]...)
			if s.Weights != nil {
				c.Weights = append(c.Weights, s.Weights[i])
			}
		}
	}
	return c
}

// SameRecords reports whether two sets serve the same records in the same
// order (a set and a Select of it, say).
func (s *RRset) SameRecords(o *RRset) bool {
	if s.Type != o.Type {
		return false
	}
	if isAddress(s.Type) {
		return s.Len() == o.Len() && (s.Len() == 0 || bytes.Equal(s.addrs, o.addrs))
	}
	return slices.Equal(s.rrs, o.rrs)
}

// packedAddr is the packed form of an A or AAAA record's address, and
// whether it has the right size for its type.
func packedAddr(rr dns.RR) ([]byte, bool) {
	switch rr := rr.(type) {
	case *dns.A:
		ip := rr.A.To4()
		return ip, ip != nil
	case *dns.AAAA:
		return rr.AAAA, len(rr.AAAA) == net.IPv6len
	}
	return nil, false
}
