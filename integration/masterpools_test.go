package integration

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// masterWithBackends is the example master file with its www pool moved
// onto the lab's addresses i (IPv4 only: the prober must reach nothing
// but loopback).
func masterWithBackends(t *testing.T, l *lab, idx ...int) string {
	t.Helper()
	text := readFile(t, exampleMaster())
	www := regexp.MustCompile(`(?m)^www .*\n`)
	if n := len(www.FindAllString(text, -1)); n != 5 {
		t.Fatalf("the example's www pool has %d records, want 3 A and 2 AAAA: update this test", n)
	}
	text = www.ReplaceAllString(text, "")
	for _, ip := range l.ips(idx...) {
		text += fmt.Sprintf("www 30 IN A %s\n", ip)
	}
	return text
}

// wwwPolicyConfig is a configuration serving the master file with a check
// on the lab's port and a policy for its www pool (policy: its lines).
func wwwPolicyConfig(l *lab, policy string) string {
	return fmt.Sprintf(`zones = ["lb.example.test.zone"]

[health]
admin = "127.0.0.1:0"
%s
[pools."www.lb.example.test."]
check = "web"
%s
`, checkTOML("web", kindTCP, l.port, fast+"fall = 2\nrise = 1"), policy)
}

// TestMasterFilePoolPolicy: the configuration gives a master file's pool a
// check and max_answers. Its members are probed like a TOML pool's: a
// stopped backend is withdrawn and comes back; every answer holds
// max_answers of the members up. A reload applies a changed policy; one
// that does not fit the pool fails, naming the configuration's line, and
// the pool keeps being served as before.
func TestMasterFilePoolPolicy(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	var bs []*backend
	for i := 1; i <= 3; i++ {
		bs = append(bs, l.backend(i, kindTCP, nil, nil))
	}
	dir := t.TempDir()
	writeFile(t, dir, "lb.example.test.zone", masterWithBackends(t, l, 1, 2, 3))
	cfg := writeFile(t, dir, "dnsrr.toml", wwwPolicyConfig(l, "max_answers = 2"))
	s := startServer(t, "-config", cfg)
	adm := adminOf(t, s)
	dnsAddr, www := s.addr("4"), "www.lb.example.test."

	// Two of the three in every answer, each of them in some; over every
	// way of asking (both answer paths).
	seen := map[string]bool{}
	for i := range 30 {
		w := ways[i%len(ways)]
		got, msg, err := ask(dnsAddr, w, www, dns.TypeA)
		if err != nil {
			t.Fatalf("%s: %v", w, err)
		}
		if got.rcode != dns.RcodeSuccess || len(got.addrs) != 2 || got.addrs[0] == got.addrs[1] ||
			!slices.Contains(l.ips(1, 2, 3), got.addrs[0]) || !slices.Contains(l.ips(1, 2, 3), got.addrs[1]) {
			t.Fatalf("%s: %v, want 2 of %v\n%v", w, got, l.ips(1, 2, 3), msg)
		}
		seen[got.addrs[0]], seen[got.addrs[1]] = true, true
	}
	if len(seen) != 3 {
		t.Errorf("30 answers held only %v", seen)
	}
	if p, ok := adm.status().pool(www); !ok || p.Check != "web" || len(p.Members) != 3 {
		t.Errorf("/status: pool %+v (listed %v), want check web and 3 members", p, ok)
	}

	// A stopped backend is withdrawn: the two left are the answer. Before,
	// they are one answer in three, by chance: 20 in a row are not.
	bs[1].stop()
	adm.waitMember(www, l.ip(2), "down", func(m memberDoc) bool { return m.State == "down" && !m.Serving })
	deadline := time.Now().Add(healthWait)
	for inARow := 0; inARow < 20; {
		got, _, err := ask(dnsAddr, ways[0], www, dns.TypeA)
		if inARow++; err != nil || !got.equal(served(l.ip(1), l.ip(3))) {
			inARow = 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s down, but answers still hold it within %v: %v (error %v)", l.ip(2), healthWait, got, err)
		}
	}
	wantDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(1), l.ip(3)))
	bs[1].start()
	adm.waitMember(www, l.ip(2), "up again", func(m memberDoc) bool { return m.State == "up" && m.Serving })

	// A reload applies the changed policy.
	writeFile(t, dir, "dnsrr.toml", wwwPolicyConfig(l, "max_answers = 1"))
	if line := reloadResult(t, s); line.message() != "reload applied" {
		t.Fatalf("SIGHUP with max_answers = 1: %s", line.raw)
	}
	oneOfThree := func(what string) {
		t.Helper()
		for _, w := range ways {
			got, msg, err := ask(dnsAddr, w, www, dns.TypeA)
			if err != nil || len(got.addrs) != 1 || !slices.Contains(l.ips(1, 2, 3), got.addrs[0]) {
				t.Fatalf("%s, %s: %v (error %v), want one of %v\n%v", what, w, got, err, l.ips(1, 2, 3), msg)
			}
		}
	}
	oneOfThree("after the reload")

	// A policy that does not fit the pool fails the reload at its line;
	// the zone and its policy stay.
	writeFile(t, dir, "dnsrr.toml", wwwPolicyConfig(l, "max_answers = 2\nweights = { \"192.0.2.99\" = 3 }"))
	line := reloadResult(t, s)
	wantFailed(t, line, filepath.Join(dir, "dnsrr.toml")+`:17: pools."www.lb.example.test.".weights."192.0.2.99": 192.0.2.99 is not one of the addresses of www.lb.example.test.`)
	oneOfThree("after the failed reload")
}

// TestMasterFilePoolPolicyCheck: `dnsrr check` reports a configured pool
// that no zone has (a typo) and one that a TOML zone defines, at the
// configuration's lines, and exits 1.
func TestMasterFilePoolPolicyCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "lb.example.test.zone", readFile(t, exampleMaster()))
	writeFile(t, dir, "other.test.toml", testZoneHeader("other.test.")+"[pools.www]\naddresses = [\"192.0.2.1\", \"192.0.2.2\"]\n")
	cfg := writeFile(t, dir, "dnsrr.toml", `zones = ["lb.example.test.zone", "other.test.toml"]

[pools."wwww.lb.example.test."]
max_answers = 2

[pools."www.other.test."]
max_answers = 1
`)
	_, stderr, code := runDNSRR(t, "check", "-config", cfg)
	wantLines(t, "dnsrr check", stderr, code, []string{
		cfg + `:3: pools."wwww.lb.example.test.": wwww.lb.example.test. has no records in zone lb.example.test. (` + filepath.Join(dir, "lb.example.test.zone") + `)`,
		cfg + `:6: pools."www.other.test.": www.other.test. is a pool of the TOML zone ` + filepath.Join(dir, "other.test.toml") +
			`: give its policy in that file, under [pools] (a pool's settings are in one place)`,
	})
	if strings.Contains(stderr, "lb.example.test.: serial") {
		t.Errorf("a zone was reported loaded: %s", stderr)
	}
}
