package zones

import (
	"bytes"
	"strings"

	"github.com/miekg/dns"
)

// dupIndexFrom is the size from which an RRset's duplicates are found
// through an index rather than by comparing with each record.
const dupIndexFrom = 32

// dupIndex finds the duplicates of records in large RRsets. A scan per
// record made loading a set quadratic in its size: thousands of sets of
// [limits] max_rrset_records records each took minutes. It maps a set to
// the positions of its records by dupKey.
type dupIndex map[*RRset]map[string][]int

// find returns the position in s of the record r repeats, or -1.
func (d dupIndex) find(s *RRset, r *record) int {
	n := s.Len()
	if n < dupIndexFrom {
		for j := range n {
			if s.repeats(j, r) {
				return j
			}
		}
		return -1
	}
	m := d[s]
	if m == nil {
		m = make(map[string][]int, 2*n)
		for j := range n {
			k := s.dupKey(j)
			m[k] = append(m[k], j)
		}
		d[s] = m
	}
	for _, j := range m[r.dupKey()] {
		if s.repeats(j, r) {
			return j
		}
	}
	return -1
}

// add records that r is at position j of s.
func (d dupIndex) add(s *RRset, j int, r *record) {
	if m := d[s]; m != nil {
		k := r.dupKey()
		m[k] = append(m[k], j)
	}
}

// repeats reports whether r repeats record j of s.
func (s *RRset) repeats(j int, r *record) bool {
	if isAddress(s.Type) {
		size := addrSize(s.Type)
		return bytes.Equal(s.addrs[j*size:(j+1)*size], r.address())
	}
	return dns.IsDuplicate(s.rrs[j], r.rr)
}

// dupKey is equal for records that may be duplicates: the address, or the
// data in lower case (names compare without case; dns.IsDuplicate decides).
func (r *record) dupKey() string {
	if r.rr == nil {
		return string(r.address())
	}
	return strings.ToLower(rdata(r.rr))
}

// dupKey is record j's dupKey.
func (s *RRset) dupKey(j int) string {
	if isAddress(s.Type) {
		size := addrSize(s.Type)
		return string(s.addrs[j*size : (j+1)*size])
	}
	return strings.ToLower(rdata(s.rrs[j]))
}
