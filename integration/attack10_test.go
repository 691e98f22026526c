package integration

import (
	"fmt"
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
