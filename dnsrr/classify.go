package dnsrr

import (
	"hash/maphash"
	"strings"

	"github.com/dnsrr/dnsrr/dnsrr/rrl"
	"github.com/miekg/dns"
)

// Response rate limiting counts responses per client network and per kind
// of response, keyed by what an attacker cannot vary at will (BIND's
// design): an answer by its name and type, with the wildcard's name for
// answers it synthesized (so random labels under it count as one); a
// negative answer by its zone; a referral by its delegation; errors by
// client only. Both answer paths record the kind and key in the query's
// wireQuery: the full path from its lookup, the fast path from what its
// templates recorded when they were built from that same lookup.

// rrlSeed makes keys unpredictable from outside, so that no one can pick
// names that collide in the limiter's table.
var rrlSeed = maphash.MakeSeed()

// rrlKey is the key of a response of kind about name (lower-case), and
// for answers qtype.
func rrlKey(kind rrl.Kind, name string, qtype uint16) uint64 {
	h := maphash.String(rrlSeed, name)
	if kind == rrl.Answer {
		h ^= uint64(qtype) * 0x9E3779B97F4A7C15
	}
	return h
}

// classification is what a lookup's result counts as, and under which key.
type classification struct {
	kind rrl.Kind
	key  uint64
}

// classify tells what res, the answer to qname (lower-case) and qtype,
// counts as.
func (res *result) classify(qname string, qtype uint16) classification {
	switch {
	case res.rcode == dns.RcodeNameError:
		return classification{rrl.NXDomain, rrlKey(rrl.NXDomain, res.zone, 0)}
	case res.rcode != dns.RcodeSuccess:
		return classification{kind: rrl.Error}
	case len(res.answer) > 0:
		name := qname
		if res.wildcard != "" {
			name = res.wildcard
		}
		return classification{rrl.Answer, rrlKey(rrl.Answer, name, qtype)}
	case len(res.ns) > 0 && res.ns[0].Header().Rrtype == dns.TypeNS:
		cut := strings.ToLower(res.ns[0].Header().Name)
		return classification{rrl.Referral, rrlKey(rrl.Referral, cut, 0)}
	}
	return classification{rrl.NoData, rrlKey(rrl.NoData, res.zone, 0)}
}
