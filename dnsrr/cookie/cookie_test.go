package cookie

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustSecret(t testing.TB, s string) Secret {
	t.Helper()
	sec, err := ParseSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

// The secrets of RFC 9018 Appendix A.
const (
	secretA   = "e5e973e5a6b2a43f48e7dc849e37bfcf" // A.1 to A.3
	secretOld = "dd3bdf9344b678b185a6f5cb60fca715" // A.4, before the rollover
	secretNew = "445536bcd2513298075a5d379663c962" // A.4, after it
)

// TestAppendixA makes the server cookies RFC 9018 Appendix A lists for
// its client cookies, addresses, times and secrets.
func TestAppendixA(t *testing.T) {
	cases := []struct {
		name, secret, client, addr string
		unix                       int64
		want                       string
	}{
		{"A.1 learning a new server cookie", secretA, "2464c4abcf10c957", "198.51.100.100", 1559731985,
			"010000005cf79f111f8130c3eee29480"},
		{"A.2 the same client renewing it", secretA, "2464c4abcf10c957", "198.51.100.100", 1559734385,
			"010000005cf7a871d4a564a1442aca77"},
		{"A.3 another client renewing it", secretA, "fc93fc62807ddb86", "203.0.113.203", 1559734700,
			"010000005cf7a9acf73a7810aca2381e"},
		{"A.4 IPv6 client after the secret rolled over", secretNew, "22681ab97d52c298", "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741961,
			"010000005cf7c609a6bb79d16625507a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := New(mustSecret(t, c.secret), nil)
			client := mustHex(t, c.client)
			addr := netip.MustParseAddr(c.addr)
			now := time.Unix(c.unix, 0)
			got := s.Append([]byte("prefix"), client, addr, now)
			if want := "prefix" + string(mustHex(t, c.want)); string(got) != want {
				t.Fatalf("Append = %x, want %x", got, want)
			}
			if !s.Valid(client, got[len("prefix"):], addr, now) {
				t.Error("the cookie just made is not Valid")
			}
		})
	}
}

// TestAppendixAQueries checks the server cookies the clients of Appendix A
// send back, at the time each was made and at the time of the example's
// reply.
func TestAppendixAQueries(t *testing.T) {
	cases := []struct {
		name, secret string
		previous     string // "" for none
		option, addr string
		unix         int64
		valid        bool
	}{
		{"A.2 the cookie of A.1, 40 minutes later", secretA, "",
			"2464c4abcf10c957010000005cf79f111f8130c3eee29480", "198.51.100.100", 1559734385, true},
		{"A.3 reserved bytes set by another server are hashed as sent", secretA, "",
			"fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", "203.0.113.203", 1559727985, true},
		// The example's reply comes 1 h 52 min after that cookie was made:
		// past MaxAge, so a fresh one is due, as the example sends.
		{"A.3 the same cookie at the example's reply time", secretA, "",
			"fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", "203.0.113.203", 1559734700, false},
		{"A.3 the same cookie from another address", secretA, "",
			"fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", "203.0.113.204", 1559727985, false},
		{"A.4 made by the previous secret", secretNew, secretOld,
			"22681ab97d52c298010000005cf7c57926556bd0934c72f8", "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741961, true},
		{"A.4 without the previous secret", secretNew, "",
			"22681ab97d52c298010000005cf7c57926556bd0934c72f8", "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741961, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var prev *Secret
			if c.previous != "" {
				p := mustSecret(t, c.previous)
				prev = &p
			}
			s := New(mustSecret(t, c.secret), prev)
			option := mustHex(t, c.option)
			if Malformed(len(option)) {
				t.Fatal("Malformed refused a well-formed option")
			}
			client, server := option[:ClientLen], option[ClientLen:]
			if got := s.Valid(client, server, netip.MustParseAddr(c.addr), time.Unix(c.unix, 0)); got != c.valid {
				t.Errorf("Valid = %v, want %v", got, c.valid)
			}
		})
	}
}

var (
	testClient = mustHexVar("0123456789abcdef")
	testNow    = time.Unix(1764561600, 0) // 2025-12-01 04:00 UTC
	v4         = netip.MustParseAddr("192.0.2.1")
	v6         = netip.MustParseAddr("2001:db8::1")
)

func mustHexVar(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	s := New(RandomSecret(), nil)
	for _, addr := range []netip.Addr{v4, v6} {
		c := s.Append(nil, testClient, addr, testNow)
		if len(c) != ServerLen || c[0] != 1 || !bytes.Equal(c[1:4], []byte{0, 0, 0}) {
			t.Fatalf("%v: cookie %x: want 16 bytes, version 1, reserved zero", addr, c)
		}
		if !s.Valid(testClient, c, addr, testNow) {
			t.Errorf("%v: our own cookie is not valid", addr)
		}
		other := bytes.Clone(testClient)
		other[7] ^= 1
		if s.Valid(other, c, addr, testNow) {
			t.Errorf("%v: valid for another client cookie", addr)
		}
		for i := range c {
			bad := bytes.Clone(c)
			bad[i] ^= 0x80
			if s.Valid(testClient, bad, addr, testNow) {
				t.Errorf("%v: valid with byte %d flipped", addr, i)
			}
		}
	}
}

func TestRotation(t *testing.T) {
	old, cur, third := RandomSecret(), RandomSecret(), RandomSecret()
	before := New(old, nil)
	c := before.Append(nil, testClient, v4, testNow)
	later := testNow.Add(10 * time.Minute)

	if !New(cur, &old).Valid(testClient, c, v4, later) {
		t.Error("a cookie of the previous secret is refused")
	}
	if New(cur, &third).Valid(testClient, c, v4, later) {
		t.Error("a cookie of a secret neither current nor previous is accepted")
	}
	if New(cur, nil).Valid(testClient, c, v4, later) {
		t.Error("a cookie of a dropped secret is accepted")
	}
	// Fresh cookies come from the current secret only.
	fresh := New(cur, &old).Append(nil, testClient, v4, later)
	if !New(cur, nil).Valid(testClient, fresh, v4, later) {
		t.Error("a fresh cookie is not made with the current secret")
	}
}

// TestWindow checks the edges of RFC 9018 §4.3's window, also across the
// wrap of the 32-bit timestamp (February 2106).
func TestWindow(t *testing.T) {
	s := New(RandomSecret(), nil)
	wrap := time.Unix(1<<32, 0) // the timestamp is 0 here
	cases := []struct {
		name       string
		made, used time.Time
		valid      bool
	}{
		{"now", testNow, testNow, true},
		{"an hour old", testNow, testNow.Add(MaxAge), true},
		{"an hour and a second old", testNow, testNow.Add(MaxAge + time.Second), false},
		{"five minutes ahead", testNow.Add(MaxAhead), testNow, true},
		{"five minutes and a second ahead", testNow.Add(MaxAhead + time.Second), testNow, false},
		{"a day old", testNow, testNow.Add(24 * time.Hour), false},
		{"68 years old (half the serial space)", testNow, testNow.Add(1 << 31 * time.Second), false},
		{"made before the wrap, used after", wrap.Add(-30 * time.Minute), wrap.Add(29 * time.Minute), true},
		{"an hour old across the wrap", wrap.Add(-time.Hour / 2), wrap.Add(time.Hour / 2), true},
		{"over an hour old across the wrap", wrap.Add(-time.Hour / 2), wrap.Add(time.Hour/2 + time.Second), false},
		{"ahead across the wrap", wrap.Add(MaxAhead / 2), wrap.Add(-MaxAhead / 2), true},
		{"too far ahead across the wrap", wrap.Add(MaxAhead / 2), wrap.Add(-MaxAhead/2 - time.Second), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cookie := s.Append(nil, testClient, v4, c.made)
			if got := s.Valid(testClient, cookie, v4, c.used); got != c.valid {
				t.Errorf("made %v, used %v: Valid = %v, want %v", c.made.UTC(), c.used.UTC(), got, c.valid)
			}
		})
	}
}

// TestAddressBinding: a cookie is good for the address it was made for
// only, and an IPv4 client is one client whatever socket it came in on.
func TestAddressBinding(t *testing.T) {
	s := New(RandomSecret(), nil)
	mapped := netip.AddrFrom16(v4.As16()) // ::ffff:192.0.2.1
	c4 := s.Append(nil, testClient, v4, testNow)
	cm := s.Append(nil, testClient, mapped, testNow)
	if !bytes.Equal(c4, cm) {
		t.Errorf("IPv4 %x and IPv4-mapped %x cookies differ", c4, cm)
	}
	if !s.Valid(testClient, c4, mapped, testNow) {
		t.Error("an IPv4 cookie is refused from the IPv4-mapped address")
	}
	for _, other := range []string{"192.0.2.2", "::192.0.2.1", "2001:db8::1", "fe80::1%eth0"} {
		if s.Valid(testClient, c4, netip.MustParseAddr(other), testNow) {
			t.Errorf("the cookie of %v is valid from %v", v4, other)
		}
	}
	c6 := s.Append(nil, testClient, v6, testNow)
	if s.Valid(testClient, c6, netip.MustParseAddr("2001:db8::2"), testNow) {
		t.Error("an IPv6 cookie is valid from another IPv6 address")
	}
	// The zone of a link-local address is not part of the address hashed.
	ll := netip.MustParseAddr("fe80::1")
	if !s.Valid(testClient, s.Append(nil, testClient, ll, testNow), ll.WithZone("eth0"), testNow) {
		t.Error("a link-local cookie is refused with a zone")
	}
}

// TestLengths: what is malformed (FORMERR), what is legal but not ours,
// and that no length makes Valid or Append misbehave.
func TestLengths(t *testing.T) {
	for n := 0; n <= 64; n++ {
		legal := n == 8 || (n >= 16 && n <= 40)
		if Malformed(n) == legal {
			t.Errorf("Malformed(%d) = %v", n, Malformed(n))
		}
	}
	s := New(RandomSecret(), nil)
	good := s.Append(nil, testClient, v4, testNow)
	for n := 0; n <= 40; n++ {
		b := make([]byte, n)
		copy(b, good)
		if n != ServerLen && s.Valid(testClient, b, v4, testNow) {
			t.Errorf("a server cookie of %d bytes is valid", n)
		}
		if s.Valid(b, good, v4, testNow) && n != ClientLen {
			t.Errorf("a client cookie of %d bytes is valid", n)
		}
		if n != ClientLen && len(s.Append(nil, b, v4, testNow)) != 0 {
			t.Errorf("Append made a cookie for a client cookie of %d bytes", n)
		}
	}
	other := bytes.Clone(good)
	other[0] = 2
	if s.Valid(testClient, other, v4, testNow) {
		t.Error("a version 2 cookie is valid")
	}
}

func TestParseSecret(t *testing.T) {
	if _, err := ParseSecret(strings.ToUpper(secretA)); err != nil {
		t.Errorf("upper-case hex: %v", err)
	}
	for _, bad := range []string{"", secretA[:30], secretA + "00", "g" + secretA[1:], " " + secretA[1:]} {
		_, err := ParseSecret(bad)
		if !errors.Is(err, ErrSecretFormat) {
			t.Errorf("ParseSecret(%q): %v, want ErrSecretFormat", bad, err)
			continue
		}
		if len(bad) > 4 && strings.Contains(err.Error(), bad[1:5]) {
			t.Errorf("the error quotes the secret: %v", err)
		}
	}
	sec := mustSecret(t, secretA)
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		if out := fmt.Sprintf(format, struct{ S Secret }{sec}); strings.Contains(strings.ToLower(out), secretA[:8]) || strings.Contains(out, "229") {
			t.Errorf("%s prints the secret: %s", format, out)
		}
	}
	if RandomSecret() == RandomSecret() {
		t.Error("two random secrets are equal")
	}
}

func TestAllocs(t *testing.T) {
	s := New(RandomSecret(), &Secret{})
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		c := s.Append(buf[:0], testClient, v6, testNow)
		s.Valid(testClient, c, v6, testNow)
	})
	if allocs != 0 {
		t.Errorf("Append+Valid allocate %v times", allocs)
	}
}

// BenchmarkAppendValid is the cost per query with a valid cookie: check
// it, then make the fresh one the reply carries. The previous-secret case
// is a cookie of the previous secret, which costs a second hash.
func BenchmarkAppendValid(b *testing.B) {
	prev := RandomSecret()
	for _, bc := range []struct {
		name   string
		addr   netip.Addr
		signer *Signer
	}{
		{"v4", v4, New(RandomSecret(), nil)},
		{"v6", v6, New(RandomSecret(), nil)},
		{"v6-previous-secret", v6, New(RandomSecret(), &prev)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			maker := bc.signer
			if bc.name == "v6-previous-secret" {
				maker = New(prev, nil)
			}
			c := maker.Append(nil, testClient, bc.addr, testNow)
			buf := make([]byte, 0, 64)
			b.ReportAllocs()
			for b.Loop() {
				if !bc.signer.Valid(testClient, c, bc.addr, testNow) {
					b.Fatal("not valid")
				}
				buf = bc.signer.Append(buf[:0], testClient, bc.addr, testNow)
			}
		})
	}
}
