package integration

import (
	"fmt"
	"math"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestTTLDegradedAndSlowStart: a real backend fails and recovers. While it
// is down the pool's answers carry ttl_degraded; once it is back they carry
// ttl again, and the recovered member, in slow start, comes first in
// fewer answers than its share at first and in its full share once the
// ramp is over. Every wait is a bounded poll for a state.
func TestTTLDegradedAndSlowStart(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	var bs []*backend
	for i := 1; i <= 2; i++ {
		bs = append(bs, l.backend(i, kindTCP, nil, nil))
	}
	org := "policies.health.test."
	zone := checkTOML("web", kindTCP, l.port, fast+"fall = 2\nrise = 1") +
		fmt.Sprintf("\n[pools.www]\naddresses = %s\nttl = 60\nttl_degraded = 3\nslow_start = \"8s\"\ncheck = \"web\"\n", tomlList(l.ips(1, 2)))
	s, _, _ := startHealthServer(t, org, zone, "", "")
	dnsAddr, www := s.addr("4"), "www."+org

	ttlIs := func(want uint32) func(r *dns.Msg) bool {
		return func(r *dns.Msg) bool { return len(r.Answer) > 0 && r.Answer[0].Header().Ttl == want }
	}
	poll := func(what string, ok func(r *dns.Msg) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			r, err := tryExchange("udp", dnsAddr, newQuery(www, dns.TypeA))
			if err == nil && ok(r) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not reached within 30 s (last answer %v, error %v)", what, r, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	poll("ttl with every member up", ttlIs(60))
	// Every member ramps up once at startup (all alike): let that end, so
	// that below only the recovered member ramps.
	time.Sleep(9 * time.Second)

	bs[1].stop()
	poll("ttl_degraded while one is down", func(r *dns.Msg) bool { return ttlIs(3)(r) && len(r.Answer) == 1 })
	restarted := time.Now() // the member came up after this
	bs[1].start()
	poll("ttl once both are up again", func(r *dns.Msg) bool { return ttlIs(60)(r) && len(r.Answer) == 2 })

	count := func(n int) (first int) {
		for range n {
			r := exchange(t, "udp", dnsAddr, newQuery(www, dns.TypeA))
			if len(r.Answer) == 2 && net.IP(r.Answer[0].(*dns.A).A).String() == l.ip(2) {
				first++
			}
		}
		return first
	}
	// Right after it came back, the recovered member has a fraction f of
	// its weight, f = max(0.05, t / 8 s) at t since it came up, so it comes
	// first with probability f/(1+f) at most, taking t up to the end of the
	// count (an upper bound whatever the machine's pace). If the machine was
	// so slow that the ramp was over, there is nothing to check.
	early := count(200)
	if t8 := time.Since(restarted).Seconds() / 8; t8 < 1 {
		f := max(0.05, t8)
		p := f / (1 + f)
		// Binomial(200, p): mean + 4.5 sd bounds it at p < 0.0001.
		bound := 200*p + 4.5*math.Sqrt(200*p*(1-p))
		t.Logf("in slow start (f ≤ %.2f): first %d of 200, bound %.0f", f, early, bound)
		if float64(early) > bound {
			t.Errorf("in slow start the recovered member came first %d of 200 times; its share is at most %.2f", early, p)
		}
	}
	time.Sleep(9 * time.Second) // past the ramp; no assertion depends on how long this took
	late := count(200)
	t.Logf("after the ramp: first %d of 200", late)
	// After the ramp the share is 1/2: binomial(200, 0.5) is within 100±45
	// with probability far above 0.999.
	if late < 55 || late > 145 {
		t.Errorf("after the ramp the recovered member came first %d of 200 times; want about half", late)
	}
}
