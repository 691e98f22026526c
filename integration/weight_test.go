package integration

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// weightDoc is what /status says of a member's weight.
type weightDoc struct {
	Address        string  `json:"address"`
	State          string  `json:"state"`
	Serving        bool    `json:"serving"`
	Weight         float64 `json:"weight"`
	ReportedWeight *int    `json:"reported_weight"`
	WeightError    string  `json:"weight_error"`
}

// weightOf reads addr's weight fields in pool from /status.
func weightOf(t *testing.T, a *admin, pool, addr string) weightDoc {
	t.Helper()
	v := a.must(http.MethodGet, "/status?pool="+pool)
	pools, _ := v["pools"].([]any)
	for _, p := range pools {
		for _, m := range p.(map[string]any)["members"].([]any) {
			mm := m.(map[string]any)
			if mm["address"] != addr {
				continue
			}
			d := weightDoc{Address: addr}
			d.State, _ = mm["state"].(string)
			d.Serving, _ = mm["serving"].(bool)
			d.Weight, _ = mm["weight"].(float64)
			if r, ok := mm["reported_weight"].(float64); ok {
				n := int(r)
				d.ReportedWeight = &n
			}
			d.WeightError, _ = mm["weight_error"].(string)
			return d
		}
	}
	t.Fatalf("/status has no member %s in %s: %v", addr, pool, v)
	return weightDoc{}
}

// TestReportedWeight: a real HTTP backend reports its weight in a header
// (weight_header). At 100 it comes first in half the answers of a pool of
// two; at 10 its share of first places drops to 0.1/1.1, measured with a
// chi-square test (1 df, p = 10⁻⁶ false alarm: 23.93); a bad value is
// ignored and shown on /status; at 0 it leaves the answers while the other
// member is up, is still up on /status, and comes back alone (as a
// drained member does) when the other goes down. Every wait is a bounded
// poll for a state.
func TestReportedWeight(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	var header atomic.Value
	header.Store("100")
	weighted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := header.Load().(string); v != "" {
			w.Header().Set("X-Weight", v)
		}
		fmt.Fprintln(w, "ok")
	})
	l.backend(1, kindHTTP, weighted, nil)
	other := l.backend(2, kindHTTP, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Weight", "100%")
	}), nil)
	org := "weight.health.test."
	zone := checkTOML("web", kindHTTP, l.port, fast+"fall = 1\nrise = 1\nweight_header = \"x-weight\"") +
		poolTOML("www", l.ips(1, 2), "check = \"web\"")
	s, adm, _ := startHealthServer(t, org, zone, "", "")
	dnsAddr, www := s.addr("4"), "www."+org

	waitWeight := func(what string, cond func(weightDoc) bool) weightDoc {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			d := weightOf(t, adm, www, l.ip(1))
			if cond(d) {
				return d
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 60 s; /status says %+v", what, d)
			}
			time.Sleep(pollInterval)
		}
	}
	reported := func(pct int) func(weightDoc) bool {
		return func(d weightDoc) bool { return d.ReportedWeight != nil && *d.ReportedWeight == pct }
	}
	// firsts counts the answers of n with both members that list member 1
	// first.
	firsts := func(n int) int {
		k := 0
		for range n {
			r := exchange(t, "udp", dnsAddr, newQuery(www, dns.TypeA))
			if len(r.Answer) != 2 {
				t.Fatalf("answer %v, want both members", r.Answer)
			}
			if net.IP(r.Answer[0].(*dns.A).A).String() == l.ip(1) {
				k++
			}
		}
		return k
	}
	// share checks that member 1 comes first with probability p.
	share := func(what string, p float64) {
		t.Helper()
		const n = 2000
		k := float64(firsts(n))
		e := p * n
		x := (k-e)*(k-e)/e + (k-e)*(k-e)/(n-e)
		t.Logf("%s: member 1 first in %.0f of %d answers, expected %.0f (chi-square %.2f)", what, k, n, e, x)
		if x > 23.93 {
			t.Errorf("%s: member 1 came first %.0f of %d times, want about %.0f (chi-square %.1f > 23.93)", what, k, n, e, x)
		}
	}

	d := waitWeight("reported 100", reported(100))
	if d.Weight != 1 || d.State != "up" || d.WeightError != "" {
		t.Errorf("at 100%%: %+v, want weight 1, up, no error", d)
	}
	waitDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(1), l.ip(2)))
	share("at 100%", 0.5)

	header.Store("10")
	d = waitWeight("reported 10", reported(10))
	if d.Weight != 0.1 || d.State != "up" {
		t.Errorf("at 10%%: %+v, want weight 0.1 and up", d)
	}
	// The server applies the change just after the prober publishes it:
	// wait until two batches in a row look nothing like an even share
	// (each under 30 of 100: at p = 1/2 that is about 2·10⁻⁵).
	deadline := time.Now().Add(60 * time.Second)
	for low := 0; low < 2; {
		if firsts(100) < 30 {
			low++
		} else {
			low = 0
		}
		if time.Now().After(deadline) {
			t.Fatal("the answers did not follow the reported weight 10 within 60 s")
		}
	}
	share("at 10%", 0.1/1.1)
	if code, body, _ := adm.do(http.MethodGet, "/"); code != http.StatusOK || !strings.Contains(string(body), "(10 % weight)") {
		t.Errorf("the status page (%d) does not show the reported weight:\n%s", code, body)
	}

	header.Store("lots")
	d = waitWeight("a bad value reported", func(d weightDoc) bool { return d.WeightError != "" })
	if !reported(10)(d) || !strings.Contains(d.WeightError, `"lots" is not a weight`) {
		t.Errorf("after a bad value: %+v, want 10%% kept and the error shown", d)
	}

	header.Store("0%")
	waitWeight("reported 0", reported(0))
	waitDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(2)))
	wantDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(2)))
	if d := weightOf(t, adm, www, l.ip(1)); d.State != "up" || d.Serving || d.Weight != 0 {
		t.Errorf("at 0%%: %+v, want up, not serving, weight 0", d)
	}

	other.stop()
	waitDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(1)))

	other.start()
	header.Store("100")
	waitWeight("reported 100 again", reported(100))
	waitDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(1), l.ip(2)))
}
