// Package cookie makes and checks DNS server cookies (RFC 7873) in the
// interoperable format of RFC 9018, so that every server behind one anycast
// address, dnsrr or BIND, Knot, NSD, accepts the cookies the others hand out
// when they share the secret.
//
// A server cookie is 16 bytes: version 1, three reserved bytes (zero when we
// make one), a 32-bit timestamp in seconds, and the 8 bytes of
// SipHash-2-4, keyed by a 128-bit secret, over
//
//	client cookie | version | reserved | timestamp | client address
//
// with the address as 4 bytes for IPv4 (IPv4-mapped IPv6 too) and 16 for
// IPv6. It knows no DNS message types: callers hand it the option's bytes.
package cookie

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/dchest/siphash"
)

// Lengths of the parts of a COOKIE option (RFC 7873 §4).
const (
	// ClientLen is the length of a client cookie.
	ClientLen = 8
	// ServerLen is the length of the server cookies this package makes and
	// the only length it accepts as its own.
	ServerLen = 16
	// MinServerLen and MaxServerLen bound a legal server cookie of any
	// server: one outside them makes the option malformed (FORMERR).
	MinServerLen = 8
	MaxServerLen = 32
)

// Validity window of a server cookie's timestamp (RFC 9018 §4.3): an hour
// back, and five minutes ahead for clocks of anycast siblings running fast.
const (
	MaxAge   = time.Hour
	MaxAhead = 5 * time.Minute
)

// version is the server cookie format of RFC 9018.
const version = 1

// Secret is the 128-bit key of SipHash-2-4 that makes and checks cookies.
type Secret [16]byte

// String hides the secret, so that a configuration printed with %v (a
// debug log, a test failure) does not leak it.
func (Secret) String() string { return "(cookie secret)" }

// GoString hides it from %#v too.
func (Secret) GoString() string { return "cookie.Secret{(hidden)}" }

// ErrSecretFormat is wrapped by ParseSecret's errors.
var ErrSecretFormat = errors.New("a cookie secret is 32 hex digits (128 bits)")

// ParseSecret reads a secret written as 32 hex digits. Its errors never
// quote the text: it is meant to be secret.
func ParseSecret(s string) (Secret, error) {
	var sec Secret
	if len(s) != 2*len(sec) {
		return sec, fmt.Errorf("%w, not %d characters (make one with: openssl rand -hex 16)", ErrSecretFormat, len(s))
	}
	if _, err := hex.Decode(sec[:], []byte(s)); err != nil {
		// hex's error would quote the offending byte: say where it is.
		i := strings.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune("0123456789abcdefABCDEF", r) })
		return Secret{}, fmt.Errorf("%w: character %d is not a hex digit", ErrSecretFormat, i+1)
	}
	return sec, nil
}

// RandomSecret returns a secret from the system's random source.
func RandomSecret() Secret {
	var s Secret
	rand.Read(s[:]) // never fails (crypto/rand, Go 1.24 and later)
	return s
}

// key is a Secret as SipHash takes it: two little-endian 64-bit halves.
type key struct{ k0, k1 uint64 }

func keyOf(s Secret) key {
	return key{binary.LittleEndian.Uint64(s[:8]), binary.LittleEndian.Uint64(s[8:])}
}

// Signer makes server cookies with the current secret and accepts those of
// the current and, during a rotation, the previous one. It is immutable
// and safe for concurrent use: a reload builds a new one.
type Signer struct {
	current     key
	previous    key
	hasPrevious bool
}

// New returns a Signer for current; previous, when not nil, is still
// accepted (a rotation: cookies handed out before it stay valid for their
// hour).
func New(current Secret, previous *Secret) *Signer {
	s := &Signer{current: keyOf(current)}
	if previous != nil {
		s.previous, s.hasPrevious = keyOf(*previous), true
	}
	return s
}

// hashInputLen is the longest hash input: client cookie, version,
// reserved, timestamp and an IPv6 address.
const hashInputLen = ClientLen + 8 + 16

// hash is SipHash-2-4 of the RFC 9018 input under k. head is the server
// cookie's first 8 bytes (version, reserved, timestamp) as sent.
func (k key) hash(clientCookie []byte, head []byte, client netip.Addr) uint64 {
	var in [hashInputLen]byte
	n := copy(in[:ClientLen], clientCookie)
	n += copy(in[n:n+8], head)
	client = client.Unmap() // a v4 client on a dual-stack socket is still a v4 client
	if client.Is4() {
		a := client.As4()
		n += copy(in[n:], a[:])
	} else if client.Is6() {
		a := client.As16()
		n += copy(in[n:], a[:])
	}
	return siphash.Hash(k.k0, k.k1, in[:n])
}

// timestamp is now as RFC 9018's 32-bit count of seconds: Unix time modulo
// 2^32, compared with serial-number arithmetic (RFC 1982), so cookies keep
// working past 2106.
func timestamp(now time.Time) uint32 { return uint32(now.Unix()) }

// Append appends a fresh 16-byte server cookie for clientCookie (ClientLen
// bytes; any other length appends nothing) and the client's address to
// dst. It does not allocate when dst has room.
func (s *Signer) Append(dst []byte, clientCookie []byte, client netip.Addr, now time.Time) []byte {
	if len(clientCookie) != ClientLen {
		return dst
	}
	var c [ServerLen]byte
	c[0] = version // c[1:4], the reserved bytes, stay zero
	binary.BigEndian.PutUint32(c[4:8], timestamp(now))
	// The hash goes out in SipHash's own byte order, little-endian, as
	// the RFC's examples show (a big-endian hash fails Appendix A.1).
	binary.LittleEndian.PutUint64(c[8:], s.current.hash(clientCookie, c[:8], client))
	return append(dst, c[:]...)
}

// Valid reports whether serverCookie is one of ours for clientCookie and
// client (RFC 9018 §4.3): 16 bytes, version 1, its timestamp between
// MaxAge before now and MaxAhead after, and its hash made by the current
// or the previous secret. The reserved bytes are hashed as received (a
// cookie from a sibling that sets them is still valid, Appendix A.3). A
// legal server cookie of another length or version is simply not ours.
func (s *Signer) Valid(clientCookie, serverCookie []byte, client netip.Addr, now time.Time) bool {
	if len(clientCookie) != ClientLen || len(serverCookie) != ServerLen || serverCookie[0] != version {
		return false
	}
	// Serial-number arithmetic (RFC 1982): the signed distance modulo 2^32.
	ahead := int32(binary.BigEndian.Uint32(serverCookie[4:8]) - timestamp(now))
	if ahead > int32(MaxAhead/time.Second) || ahead < -int32(MaxAge/time.Second) {
		return false
	}
	// A comparison of two 64-bit words leaks no timing about which bytes
	// matched, unlike bytes.Equal.
	got := binary.LittleEndian.Uint64(serverCookie[8:])
	head := serverCookie[:8]
	if s.current.hash(clientCookie, head, client) == got {
		return true
	}
	return s.hasPrevious && s.previous.hash(clientCookie, head, client) == got
}

// Malformed reports whether a COOKIE option of optionLen bytes is
// malformed (RFC 7873 §5.2.2), which is answered with FORMERR: legal are a
// client cookie alone (8) or with a server cookie of 8 to 32 bytes (16 to
// 40).
func Malformed(optionLen int) bool {
	return optionLen != ClientLen && (optionLen < ClientLen+MinServerLen || optionLen > ClientLen+MaxServerLen)
}
