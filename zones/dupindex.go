package zones

import (
	"strings"

	"github.com/miekg/dns"
)

// dupIndexFrom is the size from which an RRset's duplicates are found
// through an index rather than by comparing with each record.
const dupIndexFrom = 32

// dupIndex finds the duplicates of records in large RRsets, by group. A
// scan per record made loading a set quadratic in its size: thousands of
// sets of [limits] max_rrset_records records each took minutes.
type dupIndex map[int]map[string][]*entry

// find returns the record of es (group g) that rr duplicates, or nil.
func (d dupIndex) find(g int, es []*entry, rr dns.RR) *entry {
	if len(es) < dupIndexFrom {
		return findDuplicate(es, rr)
	}
	m := d[g]
	if m == nil {
		m = make(map[string][]*entry, 2*len(es))
		for _, e := range es {
			k := dupKey(e.rr)
			m[k] = append(m[k], e)
		}
		d[g] = m
	}
	return findDuplicate(m[dupKey(rr)], rr)
}

// add records e as a member of group g.
func (d dupIndex) add(g int, e *entry) {
	if m := d[g]; m != nil {
		k := dupKey(e.rr)
		m[k] = append(m[k], e)
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
