package zones

import (
	"encoding/binary"
	"fmt"

	"github.com/miekg/dns"
)

// checkRdata makes sure a record's data is complete and valid for its
// type, as a client will decode it. The parser accepts records without
// data (dynamic updates use them), so a file cut short after "www IN A"
// parses, and would be served as a zero-length address that clients call
// a malformed message; other data packs but cannot be read back (a DS
// digest that is not hex, an MX without its exchange). buf is scratch
// space of dns.MaxMsgSize bytes.
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
	// Packed behind a zero byte: miekg/dns's unpacker stops quietly at the
	// end of a message (for records without data), so a field missing at
	// the end must not be the end of the buffer. Read there, a root name
	// or a zero runs past the record's length, which is an error.
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		return fmt.Errorf("%q cannot be encoded: %v", rdata(rr), err)
	}
	nameEnd := 0
	for buf[nameEnd] != 0 { // uncompressed: labels up to the root
		nameEnd += int(buf[nameEnd]) + 1
	}
	if binary.BigEndian.Uint16(buf[nameEnd+9:]) == 0 { // the RDLENGTH after type, class and TTL
		return incomplete(rr, "the record has no data")
	}
	const pad = 8
	if n+pad > len(buf) {
		return nil // as large as a message: nothing can follow it anyway
	}
	clear(buf[n : n+pad])
	if _, _, err := dns.UnpackRR(buf[:n+pad], 0); err != nil {
		return incomplete(rr, fmt.Sprintf("the data does not decode (%v)", err))
	}
	return nil
}

func incomplete(rr dns.RR, why string) error {
	return fmt.Errorf("%s: is the file cut short? %q is incomplete or invalid for %s", why, rdata(rr), dns.TypeToString[rr.Header().Rrtype])
}
