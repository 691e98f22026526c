package integration

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// stickyZone is a zone with a sticky pool and a plain one.
const stickyZone = `
[pools.app]
addresses = ["192.0.2.20", "192.0.2.21", "192.0.2.22", "192.0.2.23"]
sticky = "client"

[pools.www]
addresses = ["192.0.2.30", "192.0.2.31"]
`

// runTool runs a DNS client (dig, kdig) against addr and returns its
// output; the test is skipped when the tool is missing outside CI.
func runTool(t *testing.T, tool, addr string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not on PATH", tool)
	}
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	bound := []string{"+time=3", "+tries=1"}
	if tool == "kdig" {
		bound = []string{"+timeout=3", "+retry=0"}
	}
	argv := append(append([]string{"@" + host, "-p", port, "+norec"}, bound...), args...)
	out, err := exec.CommandContext(ctx, path, argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// TestECSScopeOverTheWire: real clients (dig, kdig) see the ECS option
// echoed with the scope the answer depends on: /24 of a /32 for a sticky
// pool, 0 for a plain one; and clients of one network get one order.
func TestECSScopeOverTheWire(t *testing.T) {
	t.Parallel()
	org := "ecs.policies.test."
	s, _, _ := startHealthServer(t, org, stickyZone, "", "")
	addr := s.addr("4")
	for _, tc := range []struct{ tool, name, subnetArg, want string }{
		{"dig", "app." + org, "+subnet=203.0.113.7/32", "CLIENT-SUBNET: 203.0.113.7/32/24"},
		{"dig", "app." + org, "+subnet=203.0.113.0/20", "CLIENT-SUBNET: 203.0.112.0/20/20"},
		{"dig", "www." + org, "+subnet=203.0.113.7/32", "CLIENT-SUBNET: 203.0.113.7/32/0"},
		{"kdig", "app." + org, "+subnet=203.0.113.7/32", "CLIENT-SUBNET: 203.0.113.7/32/24"},
		{"kdig", "www." + org, "+subnet=203.0.113.7/32", "CLIENT-SUBNET: 203.0.113.7/32/0"},
	} {
		out := runTool(t, tc.tool, addr, tc.subnetArg, tc.name, "A")
		if !strings.Contains(out, tc.want) {
			t.Errorf("%s %s %s: no %q in:\n%s", tc.tool, tc.subnetArg, tc.name, tc.want, out)
		}
	}
	// Two hosts of one /24 get the same order; over 20 networks, more than
	// one member comes first.
	first := func(subnet string) string {
		lines := strings.Fields(runTool(t, "dig", addr, "+short", "+subnet="+subnet, "app."+org, "A"))
		if len(lines) != 4 {
			t.Fatalf("dig +short for %s: %v, want 4 addresses", subnet, lines)
		}
		return strings.Join(lines, " ")
	}
	if a, b := first("198.51.100.1/32"), first("198.51.100.200/32"); a != b {
		t.Errorf("two hosts of 198.51.100.0/24: %q and %q; want one order", a, b)
	}
	firsts := map[string]bool{}
	for i := range 20 {
		firsts[strings.Fields(first("10." + strconv.Itoa(i) + ".0.1/32"))[0]] = true
	}
	if len(firsts) < 2 {
		t.Errorf("20 client networks all got %v first", firsts)
	}
}

// TestBadCookieUnderRateLimit: a limited query that carries a client
// cookie is slipped as BADCOOKIE with a fresh server cookie, and the
// client that sends it back is answered in full from then on, however
// fast it asks: a real resolver's cookie exempts it.
func TestBadCookieUnderRateLimit(t *testing.T) {
	t.Parallel()
	org := "badcookie.policies.test."
	s, _, _ := startHealthServer(t, org, stickyZone, "", "[rrl]\nresponses_per_second = 1\nexempt_loopback = false\nslip = 1\n")
	addr := s.addr("4")
	q := func(cookie string) *dns.Msg {
		m := newEDNSQuery("www."+org, dns.TypeA, 1232)
		m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: cookie}}
		return m
	}
	const clientCookie = "24a6c4abcf10c957"
	var server string
	for i := range 30 {
		r := exchange(t, "udp", addr, q(clientCookie))
		if r.Rcode == dns.RcodeBadCookie {
			for _, o := range r.IsEdns0().Option {
				if c, ok := o.(*dns.EDNS0_COOKIE); ok && strings.HasPrefix(c.Cookie, clientCookie) && len(c.Cookie) == 48 {
					server = c.Cookie
				}
			}
			if server == "" || len(r.Answer) != 0 || r.Truncated {
				t.Fatalf("query %d: BADCOOKIE without our client cookie and a server cookie, or with data:\n%v", i, r)
			}
			break
		}
	}
	if server == "" {
		t.Fatal("30 quick queries at 1 a second with slip 1 were never slipped as BADCOOKIE")
	}
	for i := range 30 {
		if r := exchange(t, "udp", addr, q(server)); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
			t.Fatalf("query %d with the valid cookie: %s with %d answers; want every one answered in full", i, dns.RcodeToString[r.Rcode], len(r.Answer))
		}
	}
	// dig, given BADCOOKIE, retries with the new cookie and gets the answer.
	out := runTool(t, "dig", addr, "+cookie", "www."+org, "A")
	if !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, "ANSWER: 2") {
		t.Errorf("dig +cookie under limiting did not end with the answer:\n%s", out)
	}
}
