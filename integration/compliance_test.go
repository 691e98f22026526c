package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Queries of ISC's compliance tester (genreport; integration/compliance.sh
// runs the tester itself) that a rate-limiting dnsrr once answered wrongly
// when the tester's own queries were limited: with slip 1 every limited
// reply must arrive, and say something the sender can act on.
func TestRateLimitedComplianceQueries(t *testing.T) {
	t.Parallel()
	cfg := writeFile(t, t.TempDir(), "dnsrr.toml", fmt.Sprintf(
		"zones = [%q]\n[rrl]\nresponses_per_second = 1\nslip = 1\nexempt_loopback = false\n", exampleZone()))
	s := startServer(t, "-config", cfg, "-admin", "")

	opcode15 := new(dns.Msg) // genreport "opcode": no question, NOTIMP
	opcode15.Opcode = 15
	edns1 := newEDNSQuery("lb.example.test.", dns.TypeSOA, 4096) // genreport "edns1cookie": BADVERS
	edns1.IsEdns0().SetVersion(1)
	edns1.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}}

	const n = 8
	for _, c := range []struct {
		name  string
		query *dns.Msg
		rcode int
	}{
		{"opcode 15", opcode15, dns.RcodeNotImplemented},
		{"EDNS version 1 with a client cookie", edns1, dns.RcodeBadVers},
	} {
		for _, addr := range s.addrs {
			start, slipped := time.Now(), 0
			for i := range n {
				r := rawExchange(t, "udp", addr, pack(t, c.query)) // a dropped reply fails here
				switch {
				case r.Truncated && len(r.Answer)+len(r.Ns) == 0 && r.Rcode != dns.RcodeBadCookie:
					slipped++
				case r.Rcode != c.rcode:
					t.Fatalf("%s to %s, query %d: rcode %s, want %s or a TC slip:\n%v",
						c.name, addr, i, dns.RcodeToString[r.Rcode], dns.RcodeToString[c.rcode], r)
				}
			}
			// At 1 a second the burst is limited after its first reply,
			// unless the machine took about a second per query.
			if slipped == 0 && time.Since(start) < n*time.Second/2 {
				t.Errorf("%s to %s: no reply was limited: the test missed the slip", c.name, addr)
			}
		}
	}
}
