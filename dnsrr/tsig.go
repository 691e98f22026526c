package dnsrr

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"hash"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// TSIGKey is a shared secret that signs requests and responses (RFC 8945).
type TSIGKey struct {
	// Name is the key's name, lower-case and fully qualified: what the
	// TSIG record is owned by.
	Name string
	// Algorithm is one of TSIGAlgorithms' names (hmac-sha256.).
	Algorithm string
	Secret    []byte
}

// TSIGAlgorithms are the algorithms dnsrr signs and verifies with. HMAC-MD5
// and HMAC-SHA1 are left out: RFC 8945 §6 says not to use MD5 and that
// SHA-1 is only for compatibility, and every secondary that transfers
// from dnsrr (NSD, Knot, BIND, PowerDNS) has SHA-256.
var TSIGAlgorithms = map[string]func() hash.Hash{
	dns.HmacSHA256: sha256.New,
	dns.HmacSHA384: sha512.New384,
	dns.HmacSHA512: sha512.New,
}

// tsigFudge is the clock skew allowed in our signatures (RFC 8945 §10
// recommends 300 s).
const tsigFudge = 300

// signedQuery is a request whose TSIG verified: its reply is signed with
// the same key and covers the request's MAC.
type signedQuery struct {
	key  *TSIGKey
	mac  []byte // the request's MAC
	id   uint16 // the request's original ID
	name string // the key name as the request wrote it
}

// verifyTSIG checks the TSIG of the packed request pkt, whose record is
// tsig (the last of pkt), against key at time now. The errors are
// dns.ErrSig (the MAC, or a truncated one) and dns.ErrTime (the time
// signed is outside the request's fudge), in that order (RFC 8945 §5.2.3:
// the time of a request whose MAC fails is not looked at).
//
// The MAC is computed here rather than by dns.TsigVerify, which takes a
// fudge of 0 for 300 and a time signed of 0 for now before it hashes (so
// a valid request with either got BADSIG, where NSD and Knot answer it or
// say BADTIME), and which rewrites the ID and ARCOUNT of pkt in place.
func verifyTSIG(pkt []byte, tsig *dns.TSIG, key *TSIGKey, now time.Time) error {
	newHash := TSIGAlgorithms[key.Algorithm]
	mac, err := hex.DecodeString(tsig.MAC)
	if err != nil || len(mac) != newHash().Size() || int(tsig.MACSize) != len(mac) {
		// A truncated MAC (RFC 8945 §5.2.2.1) we do not accept: dnsrr
		// sends and expects the full one, and NSD and Knot answer BADSIG.
		return dns.ErrSig
	}
	end, ok := tsigOffset(pkt)
	if !ok {
		return dns.ErrSig
	}
	other, err := hex.DecodeString(tsig.OtherData)
	if err != nil {
		return dns.ErrSig
	}
	// §4.3.3: the message as it was before the TSIG was added, with its
	// original ID and one record fewer in ARCOUNT, then the variables.
	var hdr [headerLen]byte
	copy(hdr[:], pkt)
	be.PutUint16(hdr[0:], tsig.OrigId)
	be.PutUint16(hdr[10:], be.Uint16(hdr[10:])-1)
	h := hmac.New(newHash, key.Secret)
	h.Write(hdr[:])
	h.Write(pkt[headerLen:end])
	h.Write(tsigVariables(nil, tsig.Hdr.Name, tsig.Algorithm, tsig.TimeSigned, tsig.Fudge, tsig.Error, other))
	if !hmac.Equal(h.Sum(nil), mac) {
		return dns.ErrSig
	}
	signed := int64(tsig.TimeSigned)
	if skew := now.Unix() - signed; skew > int64(tsig.Fudge) || -skew > int64(tsig.Fudge) {
		return dns.ErrTime
	}
	return nil
}

// tsigOffset returns where the last record of the packed message pkt,
// its TSIG, begins.
func tsigOffset(pkt []byte) (int, bool) {
	if len(pkt) < headerLen {
		return 0, false
	}
	qd := int(be.Uint16(pkt[4:]))
	rrs := int(be.Uint16(pkt[6:])) + int(be.Uint16(pkt[8:])) + int(be.Uint16(pkt[10:]))
	if rrs == 0 {
		return 0, false
	}
	off := headerLen
	var ok bool
	for range qd {
		if off, ok = skipName(pkt, off); !ok || off+4 > len(pkt) {
			return 0, false
		}
		off += 4
	}
	for range rrs - 1 {
		if off, ok = skipName(pkt, off); !ok || off+10 > len(pkt) {
			return 0, false
		}
		off += 10 + int(be.Uint16(pkt[off+8:]))
	}
	return off, off < len(pkt)
}

// tsigVariables appends the TSIG variables a MAC covers (RFC 8945
// §4.3.3): owner and algorithm names in canonical form, class ANY, TTL 0,
// the timers, the error and the other data.
func tsigVariables(b []byte, ownerName, algorithm string, signed uint64, fudge, tsigErr uint16, other []byte) []byte {
	b = appendCanonicalName(b, ownerName)
	b = append(b, 0, dns.ClassANY, 0, 0, 0, 0)
	b = appendCanonicalName(b, algorithm)
	b = append(b, byte(signed>>40), byte(signed>>32), byte(signed>>24), byte(signed>>16), byte(signed>>8), byte(signed), byte(fudge>>8), byte(fudge))
	b = append(b, byte(tsigErr>>8), byte(tsigErr), byte(len(other)>>8), byte(len(other)))
	return append(b, other...)
}

// signMessage appends a TSIG record to the packed message msg, signed
// with key (RFC 8945 §5.3): over prior (the request's MAC, or the previous
// message's in a multi-message reply), the message, and the TSIG
// variables (all of them, or the timers only for the second and later
// messages of a transfer, §5.3.1). It returns the signed message and its
// MAC. tsigErr and other go in the record; BADKEY and BADSIG replies are
// not signed (§5.3.2) and do not come here.
func signMessage(msg []byte, key *TSIGKey, ownerName string, origID uint16, prior []byte, timersOnly bool, tsigErr uint16, other []byte, now time.Time) ([]byte, []byte, error) {
	if len(msg) < headerLen {
		return nil, nil, errors.New("message shorter than a header")
	}
	h := hmac.New(TSIGAlgorithms[key.Algorithm], key.Secret)
	if prior != nil {
		var n [2]byte
		be.PutUint16(n[:], uint16(len(prior)))
		h.Write(n[:])
		h.Write(prior)
	}
	// The MAC covers the message with its original ID (§4.3.1; the ID
	// of our reply is the request's anyway).
	var hdr [2]byte
	be.PutUint16(hdr[:], origID)
	h.Write(hdr[:])
	h.Write(msg[2:])
	signed := uint64(now.Unix())
	timers := []byte{byte(signed >> 40), byte(signed >> 32), byte(signed >> 24), byte(signed >> 16), byte(signed >> 8), byte(signed), tsigFudge >> 8, tsigFudge & 0xff}
	if timersOnly {
		h.Write(timers)
	} else {
		h.Write(tsigVariables(nil, ownerName, key.Algorithm, signed, tsigFudge, tsigErr, other))
	}
	mac := h.Sum(nil)
	rr := &dns.TSIG{
		Hdr:        dns.RR_Header{Name: ownerName, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm:  key.Algorithm,
		TimeSigned: signed,
		Fudge:      tsigFudge,
		MACSize:    uint16(len(mac)),
		MAC:        hex.EncodeToString(mac),
		OrigId:     origID,
		Error:      tsigErr,
		OtherLen:   uint16(len(other)),
		OtherData:  hex.EncodeToString(other),
	}
	buf := make([]byte, dns.Len(rr)+len(ownerName)+len(key.Algorithm)+4)
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		return nil, nil, err
	}
	out := append(msg, buf[:n]...)
	be.PutUint16(out[10:], be.Uint16(out[10:])+1)
	return out, mac, nil
}

// appendCanonicalName appends name in canonical wire form: lower case,
// uncompressed (RFC 8945 §4.3.3).
func appendCanonicalName(b []byte, name string) []byte {
	var buf [256]byte
	n, err := dns.PackDomainName(strings.ToLower(dns.Fqdn(name)), buf[:], 0, nil, false)
	if err != nil {
		return append(b, 0)
	}
	return append(b, buf[:n]...)
}

// tsigLen is the size of the TSIG record signMessage appends with key.
func tsigLen(key *TSIGKey, ownerName string, other int) int {
	// owner, type, class, TTL, RDLENGTH, algorithm, time, fudge, MAC
	// size, MAC, original ID, error, other length, other data.
	return len(ownerName) + 1 + 10 + len(key.Algorithm) + 1 + 6 + 2 + 2 + TSIGAlgorithms[key.Algorithm]().Size() + 2 + 2 + 2 + other
}
