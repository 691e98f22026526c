package integration

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Attacks on rate limiting from outside (issue 10): queries a spoofer can
// vary at will must land in one account, and nothing sent while limited
// may be larger than the query by more than a server cookie.

// attackZone is a zone with a wildcard pool and a DNAME, the two ways a
// spoofer gets a fresh answer for every random label.
const attackZone = `
[pools."*.wild"]
addresses = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]

[records.old]
dname = "new.example.net."
`

// startAttackServer serves attackZone as attack.test. on 127.0.0.1 with
// [rrl] at 1 response a second, slip 1 (every limited reply is sent, so
// nothing waits for a timeout), loopback not exempt, and extra config.
func startAttackServer(t *testing.T, extra string) *server {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "zones/attack.test.toml", testZoneHeader("attack.test.")+attackZone)
	cfg := writeFile(t, dir, "dnsrr.toml", `zones = ["zones/*.toml"]
`+extra+`
[health]
admin = ""
[rrl]
responses_per_second = 1
slip = 1
exempt_loopback = false
`)
	return startServer(t, "-config", cfg, "-listen", "127.0.0.1:0")
}

// countFull sends the queries one after the other from one address and
// counts the full answers (not slipped). ok is false when the machine was
// so slow that the limiter's credit could explain them.
func countFull(t *testing.T, addr string, queries []*dns.Msg) (full int, ok bool) {
	t.Helper()
	start := time.Now()
	for _, m := range queries {
		r := rawExchange(t, "udp", addr, pack(t, m))
		if !r.Truncated && len(r.Answer) > 0 {
			full++
		}
	}
	return full, time.Since(start) < time.Duration(len(queries))*time.Second/4
}

// TestRRLRandomLabelsShareOneAccount: random labels under a wildcard or a
// DNAME are one name to the limiter (BIND counts synthesized answers under
// their source), so a flood of them is limited like one of a single name.
func TestRRLRandomLabelsShareOneAccount(t *testing.T) {
	t.Parallel()
	s := startAttackServer(t, "")
	const n = 20
	for _, under := range []string{"wild", "old"} {
		var qs []*dns.Msg
		for i := range n {
			qs = append(qs, newEDNSQuery(fmt.Sprintf("r%d-%d.%s.attack.test.", i, time.Now().UnixNano()%1e6, under), dns.TypeA, 1232))
		}
		full, ok := countFull(t, s.addr("4"), qs)
		if !ok {
			t.Skipf("%s: the machine took more than %d s for %d queries", under, n/4, n)
		}
		// A rate of 1 with a window of 15 s lets a few through at most.
		if full > 4 {
			t.Errorf("random labels under %s: %d of %d answered in full, want the flood limited as one name", under, full, n)
		}
	}
}

// TestRRLSlipNoLargerThanQuery: a slipped reply (TC, or BADCOOKIE to a
// query with a client cookie) is the query's question and our OPT; it
// must not carry the NSID the query asked for, which would reflect up to
// 128 bytes more than the query to a spoofed victim for every limited
// query. A server cookie (16 bytes) is the one thing a slip may add.
func TestRRLSlipNoLargerThanQuery(t *testing.T) {
	t.Parallel()
	s := startAttackServer(t, fmt.Sprintf("nsid = %q\n", strings.Repeat("n", 128)))
	for _, withCookie := range []bool{false, true} {
		m := newEDNSQuery("www.wild.attack.test.", dns.TypeA, 1232)
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
		if withCookie {
			opt.Option = append(opt.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
		}
		q := pack(t, m)
		limited := 0
		for range 6 {
			b, err := rawUDP(t, s.addr("4"), q, queryTimeout)
			if err != nil {
				t.Fatal(err)
			}
			r := new(dns.Msg)
			if err := r.Unpack(b); err != nil {
				t.Fatal(err)
			}
			if !r.Truncated && r.Rcode != dns.RcodeBadCookie {
				continue
			}
			limited++
			if len(b) > len(q)+16 {
				t.Errorf("cookie %v: limited reply (%s, TC %v) is %d bytes for a query of %d:\n%v",
					withCookie, dns.RcodeToString[r.Rcode], r.Truncated, len(b), len(q), r)
			}
		}
		if limited == 0 {
			t.Errorf("cookie %v: nothing was limited", withCookie)
		}
	}
}

// udpFrom sends pkt from src (a loopback address) to addr and returns the
// unpacked reply; a missing reply fails the test.
func udpFrom(t *testing.T, src, addr string, pkt []byte) *dns.Msg {
	t.Helper()
	b, err := rawUDPFrom(t, src, addr, pkt, queryTimeout)
	if err != nil {
		t.Fatalf("from %s: %v", src, err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRRLVariantsShareOneAccount: what a spoofer can vary in a query for
// one name and type without changing the answer (the name's case, EDNS,
// flags, a made-up or another address's server cookie, a client cookie,
// ECS, a form of the query that takes the full path) lands in one
// account: interleaved, they are limited as one stream.
func TestRRLVariantsShareOneAccount(t *testing.T) {
	t.Parallel()
	s := startAttackServer(t, "")
	addr := s.addr("4")
	// A valid server cookie, but for 127.0.0.1: replayed from 127.0.0.2.
	m := newEDNSQuery("a.wild.attack.test.", dns.TypeA, 1232)
	m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}}
	var stolen string
	for _, o := range udpFrom(t, "127.0.0.1", addr, pack(t, m)).IsEdns0().Option {
		if c, ok := o.(*dns.EDNS0_COOKIE); ok {
			stolen = c.Cookie
		}
	}
	if len(stolen) != 48 {
		t.Fatalf("no server cookie: %q", stolen)
	}
	variants := []func() []byte{
		func() []byte { return pack(t, newQuery("www.wild.attack.test.", dns.TypeA)) },
		func() []byte { return pack(t, newQuery("WwW.WiLd.AtTaCk.TeSt.", dns.TypeA)) },
		func() []byte { return pack(t, newEDNSQuery("www.wild.attack.test.", dns.TypeA, 4096)) },
		func() []byte {
			m := newEDNSQuery("www.wild.attack.test.", dns.TypeA, 1232)
			m.CheckingDisabled, m.AuthenticatedData, m.RecursionDesired = true, true, true
			return pack(t, m)
		},
		func() []byte {
			m := newEDNSQuery("www.wild.attack.test.", dns.TypeA, 1232)
			m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: stolen}}
			return pack(t, m)
		},
		func() []byte {
			m := newEDNSQuery("www.wild.attack.test.", dns.TypeA, 1232)
			m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708" + "01000000aaaaaaaabbbbbbbbcccccccc"}}
			return pack(t, m)
		},
		func() []byte {
			m := newEDNSQuery("www.wild.attack.test.", dns.TypeA, 1232)
			m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24,
				Address: net.IPv4(198, 51, byte(time.Now().UnixNano()), 0).To4()}}
			return pack(t, m)
		},
		func() []byte {
			// A nonzero extended rcode in the OPT: the fast path declines it.
			m := newEDNSQuery("www.wild.attack.test.", dns.TypeA, 1232)
			m.IsEdns0().SetExtendedRcode(16)
			b := pack(t, m)
			b[len(b)-6] = 1
			return b
		},
	}
	for i, v := range variants { // each is a query the server answers
		if r := rawExchange(t, "tcp", addr, v()); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 3 {
			t.Fatalf("variant %d is not answered in full over TCP:\n%v", i, r)
		}
	}
	const rounds = 3
	start, full := time.Now(), 0
	for range rounds {
		for i, v := range variants {
			r := udpFrom(t, "127.0.0.2", addr, v())
			if !r.Truncated && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
				full++
				t.Logf("variant %d answered in full", i)
			}
		}
	}
	if time.Since(start) > rounds*time.Duration(len(variants))*time.Second/4 {
		t.Skip("the machine was too slow for the limiter's credit to stay small")
	}
	if full > 4 {
		t.Errorf("%d of %d variants of one query answered in full, want them limited as one stream", full, rounds*len(variants))
	}
}

// TestSlipLeaksNoOtherClientsCookie: garbage sent while a resolver's
// cookie queries are answered, on the same sockets, gets replies that
// carry nothing of the resolver's: before, a slipped FORMERR to
// unreadable garbage carried the previous query's options, the cookie a
// spoofer needs to escape rate limiting at the resolver's address.
func TestSlipLeaksNoOtherClientsCookie(t *testing.T) {
	t.Parallel()
	s := startAttackServer(t, "")
	addr := s.addr("4")
	m := newEDNSQuery("www.wild.attack.test.", dns.TypeA, 1232)
	m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "56494354494d4343"}} // "VICTIMCC"
	victim := pack(t, m)
	garbage := []byte{0xAB, 0xCD, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 0, 0, 1, 0, 1, 7}
	for i := range 50 {
		udpFrom(t, "127.0.0.1", addr, victim)
		b, err := rawUDPFrom(t, "127.0.0.2", addr, garbage, time.Second)
		if err != nil {
			continue // dropped: nothing leaked
		}
		if strings.Contains(string(b), "VICTIMCC") {
			t.Fatalf("reply %d to garbage from 127.0.0.2 carries 127.0.0.1's cookie: %x", i, b)
		}
	}
}
