package integration

import (
	"context"
	"encoding/hex"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// nsidOf asks for www with the NSID option (RFC 5001) and returns the
// identity in the reply, "" when there is none.
func nsidOf(t *testing.T, network, addr string) string {
	t.Helper()
	m := newEDNSQuery(name("www"), dns.TypeA, 1232)
	m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_NSID{Code: dns.EDNS0NSID}}
	r := exchange(t, network, addr, m)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		t.Fatalf("%s %s: no answer with NSID asked:\n%v", network, addr, r)
	}
	for _, o := range replyOPT(t, r).Option {
		if n, ok := o.(*dns.EDNS0_NSID); ok {
			id, err := hex.DecodeString(n.Nsid)
			if err != nil {
				t.Fatalf("NSID %q is not hex", n.Nsid)
			}
			return string(id)
		}
	}
	return ""
}

// TestNSID: the configured identity comes back to whoever asks, over UDP
// and TCP, is read again on SIGHUP, and is absent when unset.
func TestNSID(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	zonesLine := "zones = [" + strconv.Quote(exampleZone()) + "]\n"
	cfg := writeFile(t, dir, "dnsrr.toml", zonesLine+"nsid = \"ns1.fra\"\n")
	s := startServer(t, "-config", cfg, "-admin", "")
	for _, addr := range s.addrs {
		for _, network := range []string{"udp", "tcp"} {
			if got := nsidOf(t, network, addr); got != "ns1.fra" {
				t.Errorf("%s %s: NSID %q, want ns1.fra", network, addr, got)
			}
		}
	}
	// Unasked, no NSID.
	r := exchange(t, "udp", s.addrs[0], newEDNSQuery(name("www"), dns.TypeA, 1232))
	if len(replyOPT(t, r).Option) != 0 {
		t.Errorf("NSID sent unasked: %v", r)
	}

	if dig, err := exec.LookPath("dig"); err == nil {
		host, port, _ := net.SplitHostPort(s.addrs[0])
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		out, err := exec.CommandContext(ctx, dig, "@"+host, "-p", port, "+norec", "+time=3", "+tries=1", "+nsid", name("www")).CombinedOutput()
		cancel()
		if err != nil || !strings.Contains(string(out), `NSID: 6e 73 31 2e 66 72 61 ("ns1.fra")`) {
			t.Errorf("dig +nsid (error %v) does not show the NSID:\n%s", err, out)
		}
	}

	mark := s.logMark()
	writeFile(t, dir, "dnsrr.toml", zonesLine)
	s.signal(syscall.SIGHUP)
	if _, ok := s.waitLog(mark, startTimeout, func(l logLine) bool { return l.message() == "reload applied" }); !ok {
		t.Fatal("no \"reload applied\" after SIGHUP")
	}
	deadline := time.Now().Add(startTimeout)
	for nsidOf(t, "udp", s.addrs[0]) != "" {
		if time.Now().After(deadline) {
			t.Fatal("NSID still sent after it was removed from the config and reloaded")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
