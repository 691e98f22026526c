package integration

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDig runs the real dig, as the README tells a newcomer to, against
// the example. CI installs dig (.ci/run), so there a missing dig fails.
func TestDig(t *testing.T) {
	t.Parallel()
	dig, err := exec.LookPath("dig")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("dig not on PATH in CI (install dnsutils)")
		}
		t.Skip("dig not on PATH")
	}
	s := startExample(t)

	cases := []struct {
		name string
		args []string
		// short: the +short lines, compared as a set after the leading
		// CNAME target lines in order.
		short []string
		lead  []string
		// contains: substrings of the full output.
		contains []string
	}{
		{name: "A +short", args: []string{"www.lb.example.test", "A", "+short"},
			short: []string{"192.0.2.10", "192.0.2.11", "192.0.2.12"}},
		{name: "AAAA +short +tcp", args: []string{"www.lb.example.test", "AAAA", "+short", "+tcp"},
			short: []string{"2001:db8::10", "2001:db8::11"}},
		{name: "CNAME chase +short", args: []string{"docs.lb.example.test", "A", "+short"},
			lead: []string{"www.lb.example.test."}, short: []string{"192.0.2.10", "192.0.2.11", "192.0.2.12"}},
		{name: "full answer", args: []string{"www.lb.example.test", "A"},
			contains: []string{"status: NOERROR", "flags: qr aa;", "ANSWER: 3,", "udp: 1232", "www.lb.example.test. 30 IN A 192.0.2.10"}},
		{name: "NXDOMAIN", args: []string{"nope.lb.example.test", "A"},
			contains: []string{"status: NXDOMAIN", "flags: qr aa;", "AUTHORITY: 1,", "lb.example.test. 60 IN SOA ns1.lb.example.test. hostmaster.lb.example.test. 2026112501 3600 900 1209600 60"}},
		{name: "referral", args: []string{"host.dev.lb.example.test", "A"},
			contains: []string{"status: NOERROR", "flags: qr;", "dev.lb.example.test. 3600 IN NS ns1.dev.lb.example.test.", "ns1.dev.lb.example.test. 300 IN A 192.0.2.100"}},
	}
	for _, addr := range s.addrs {
		host, port, _ := net.SplitHostPort(addr)
		for _, tc := range cases {
			t.Run(addr+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
				defer cancel()
				// +norec: an authoritative server is asked without RD;
				// +time/+tries bound dig itself.
				argv := append([]string{"@" + host, "-p", port, "+norec", "+time=3", "+tries=1"}, tc.args...)
				cmd := exec.CommandContext(ctx, dig, argv...)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				err := cmd.Run()
				t.Logf("dig %s\n%s", strings.Join(argv, " "), out.String())
				if err != nil {
					t.Fatalf("dig: %v", err)
				}
				text := out.String()
				if tc.short != nil || tc.lead != nil {
					lines := strings.Fields(text)
					if len(lines) < len(tc.lead) || !slices.Equal(lines[:len(tc.lead)], tc.lead) {
						t.Fatalf("+short output %q does not start with %q", lines, tc.lead)
					}
					rest := slices.Clone(lines[len(tc.lead):])
					slices.Sort(rest)
					if !slices.Equal(rest, tc.short) {
						t.Errorf("+short addresses %q, want %q in any order", rest, tc.short)
					}
				}
				// dig aligns columns with tabs or spaces depending on
				// the name's length; compare with whitespace collapsed.
				flat := strings.Join(strings.Fields(text), " ")
				for _, want := range tc.contains {
					if !strings.Contains(flat, strings.Join(strings.Fields(want), " ")) {
						t.Errorf("dig output lacks %q", want)
					}
				}
			})
		}
	}
}
