package zones

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestPoolMaxAnswersAndWeights(t *testing.T) {
	z := mustTOMLString(t, `
[pools.www]
addresses = ["192.0.2.1", "192.0.2.2", "2001:db8::1", "2001:db8::2", "2001:db8::3"]
max_answers = 2
weights = { "192.0.2.2" = 5, "2001:db8::3" = 7 }
`)
	a, aaaa := rrset(t, z, "www.z.test.", dns.TypeA), rrset(t, z, "www.z.test.", dns.TypeAAAA)
	if a.MaxAnswers != 2 || aaaa.MaxAnswers != 2 || a.Answers() != 2 || aaaa.Answers() != 2 {
		t.Errorf("max_answers per family: A %d (%d served), AAAA %d (%d served); want 2 each",
			a.MaxAnswers, a.Answers(), aaaa.MaxAnswers, aaaa.Answers())
	}
	if !slices.Equal(a.Weights, []uint32{1, 5}) || !slices.Equal(aaaa.Weights, []uint32{1, 1, 7}) {
		t.Errorf("weights A %v AAAA %v; want [1 5] and [1 1 7]", a.Weights, aaaa.Weights)
	}
	// A health subset keeps the weights of the members it keeps.
	sub := aaaa.WithRRs(func(i int) bool { return i != 0 })
	if len(sub.Records()) != 2 || !slices.Equal(sub.Weights, []uint32{1, 7}) || sub.Answers() != 2 {
		t.Errorf("subset: %d records, weights %v, %d served; want 2, [1 7], 2", len(sub.Records()), sub.Weights, sub.Answers())
	}
	// Without weights, none are kept.
	z = mustTOMLString(t, "[pools.www]\naddresses = [\"192.0.2.1\", \"192.0.2.2\"]\n")
	if w := rrset(t, z, "www.z.test.", dns.TypeA).Weights; w != nil {
		t.Errorf("weights %v without a weights table; want nil", w)
	}
}

func TestPoolMaxAnswersAndWeightsErrors(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"max_answers = 0\n", "z.test.toml:7: pools.www.max_answers: 0 is out of range"},
		{"max_answers = 65\n", "z.test.toml:7: pools.www.max_answers: 65 is out of range"},
		{"weights = { \"192.0.2.9\" = 2 }\n", `z.test.toml:7: pools.www.weights."192.0.2.9": 192.0.2.9 is not one of the pool's addresses`},
		{"weights = { \"www\" = 2 }\n", "is not an IP address"},
		{"weights = { \"192.0.2.1\" = 0 }\n", "0 is out of range"},
		{"weights = { \"192.0.2.1\" = 1001 }\n", "1001 is out of range"},
		{"weights = [1, 2]\n", "must be a table"},
		// Keys that would be ignored are errors.
		{"order = \"cyclic\"\nweights = { \"192.0.2.1\" = 2 }\n", `z.test.toml:8: pools.www.weights: weights act on order = "random" and sticky pools, not on cyclic order`},
		{"order = \"fixed\"\nsticky = \"client\"\n", "z.test.toml:7: pools.www.order: a sticky pool orders each client's answer by its own hash: leave order out"},
	} {
		_, err := loadTOMLString(t, "[pools.www]\naddresses = [\"192.0.2.1\", \"192.0.2.2\"]\n"+c.body)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v; want %q", c.body, err, c.want)
		}
	}
}

func TestPoolTTLDegradedErrors(t *testing.T) {
	head := "[checks.web]\ntype = \"tcp\"\nport = 80\n[pools.www]\naddresses = [\"192.0.2.1\"]\n"
	z := mustTOMLString(t, head+"check = \"web\"\nttl = 60\nttl_degraded = 5\nttl_degraded_drains = true\n")
	if p := z.PoolDefs[0]; p.TTLDegraded != 5 || !p.TTLDegradedDrains {
		t.Errorf("ttl_degraded %d, drains %v; want 5, true", p.TTLDegraded, p.TTLDegradedDrains)
	}
	for _, c := range []struct{ body, want string }{
		{"check = \"web\"\nttl = 60\nttl_degraded = 60\n", "ttl_degraded: 60 is not below the pool's ttl (60)"},
		{"ttl_degraded = 5\n", "min_healthy, on_all_down, ttl_degraded and slow_start need a check"},
		{"slow_start = \"30s\"\n", "need a check"},
		{"check = \"web\"\nslow_start = \"2h\"\n", "slow_start"},
		{"check = \"web\"\nttl_degraded = 0\n", "ttl_degraded: 0 is out of range"},
		{"check = \"web\"\nttl_degraded_drains = true\n", "ttl_degraded_drains: needs ttl_degraded"},
		{"check = \"web\"\norder = \"cyclic\"\nslow_start = \"30s\"\n", "slow_start: ramps weights, which act on order = \"random\" and sticky pools, not on cyclic order"},
	} {
		_, err := loadTOMLString(t, head+c.body)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v; want %q", c.body, err, c.want)
		}
	}
}
