package zones

import (
	"fmt"
	"reflect"
	"sync"

	"github.com/miekg/dns"
)

// checkRdata makes sure a record's data is complete and valid for its
// type, as a client will decode it. The parser accepts records without
// data (dynamic updates use them), so a file cut short after "www IN A"
// parses, and would be served as a zero-length address that clients call
// a malformed message. Other data packs but is not what a client can read
// (a DS digest that is not hex, a name missing from the generic \# form).
// buf is scratch space of dns.MaxMsgSize bytes.
func checkRdata(rr dns.RR, buf []byte) error {
	switch rr := rr.(type) {
	case *dns.A: // the common case, checked without packing
		if rr.A.To4() == nil {
			return incomplete(rr, "an A record needs an IPv4 address")
		}
		return nil
	case *dns.AAAA:
		if len(rr.AAAA) != 16 {
			return incomplete(rr, "an AAAA record needs an IPv6 address")
		}
		return nil
	}
	// Without data the parser leaves every field at its zero value, which
	// may pack into something valid (an MX without data packs as "0 .").
	if newRR, ok := dns.TypeToRR[rr.Header().Rrtype]; ok {
		empty := newRR()
		*empty.Header() = *rr.Header()
		if dns.IsDuplicate(rr, empty) {
			return incomplete(rr, "the record has no data")
		}
	}
	// An empty name packs into nothing at all: a client reading the
	// record finds it cut short.
	if f := emptyName(rr); f != "" {
		return incomplete(rr, "the "+f+" is missing")
	}
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		return fmt.Errorf("%q cannot be encoded: %v", rdata(rr), err)
	}
	if _, _, err := dns.UnpackRR(buf[:n], 0); err != nil {
		return incomplete(rr, fmt.Sprintf("the data does not decode (%v)", err))
	}
	return nil
}

func incomplete(rr dns.RR, why string) error {
	return fmt.Errorf("%s: is the file cut short? %q is incomplete or invalid for %s", why, rdata(rr), dns.TypeToString[rr.Header().Rrtype])
}

// nameFields caches, per record type, the fields that hold one domain name.
var nameFields sync.Map // reflect.Type -> []int

// emptyName returns the name of the first domain-name field of rr that is
// empty, or "".
func emptyName(rr dns.RR) string {
	v := reflect.ValueOf(rr)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return ""
	}
	v = v.Elem()
	t := v.Type()
	fields, ok := nameFields.Load(t)
	if !ok {
		var idx []int
		for i := range t.NumField() {
			f := t.Field(i)
			if tag := f.Tag.Get("dns"); (tag == "domain-name" || tag == "cdomain-name") && f.Type.Kind() == reflect.String {
				idx = append(idx, i)
			}
		}
		fields, _ = nameFields.LoadOrStore(t, idx)
	}
	for _, i := range fields.([]int) {
		if v.Field(i).String() == "" {
			return t.Field(i).Name + " name"
		}
	}
	return ""
}
