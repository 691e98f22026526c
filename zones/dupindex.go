package zones

import (
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

// find returns the position in s.RRs of the record rr duplicates, or -1.
func (d dupIndex) find(s *RRset, rr dns.RR) int {
	if len(s.RRs) < dupIndexFrom {
		return findDuplicate(s.RRs, rr)
	}
	m := d[s]
	if m == nil {
		m = make(map[string][]int, 2*len(s.RRs))
		for j, old := range s.RRs {
			k := dupKey(old)
			m[k] = append(m[k], j)
		}
		d[s] = m
	}
	for _, j := range m[dupKey(rr)] {
		if findDuplicate(s.RRs[j:j+1], rr) == 0 {
			return j
		}
	}
	return -1
}

// add records that rr is at position j of s.RRs.
func (d dupIndex) add(s *RRset, j int, rr dns.RR) {
	if m := d[s]; m != nil {
		k := dupKey(rr)
		m[k] = append(m[k], j)
	}
}

// dupKey is equal for records that may be duplicates: the address, or the
// data in lower case (names compare without case; dns.IsDuplicate decides).
func dupKey(rr dns.RR) string {
	if a := AddrOf(rr); a.IsValid() {
		b := a.As16()
		return string(b[:])
	}
	return strings.ToLower(rdata(rr))
}
