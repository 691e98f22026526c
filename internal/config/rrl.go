package config

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr/rrl"
	"github.com/dnsrr/dnsrr/zones/tomlfile"
)

// readRRL reads the [rrl] table into c.RRL: its presence turns response
// rate limiting on, and responses_per_second is then required (README,
// "Rate limiting").
func readRRL(root *tomlfile.Table, c *Config) {
	t, ok := root.Table("rrl")
	if !ok {
		return
	}
	if !t.Has("responses_per_second") {
		t.Errorf("", "responses_per_second is missing: the [rrl] table turns rate limiting on, e.g. responses_per_second = 10")
	}
	// Without a good rate the other keys are still checked.
	rate, rateOK := t.Int("responses_per_second", 1, rrl.MaxRate)
	cfg := rrl.Defaults(int(rate))
	// Each kind defaults to responses_per_second; 0 does not limit it.
	for _, k := range []struct {
		key  string
		rate *int
	}{
		{"nodata_per_second", &cfg.NoDataPerSecond},
		{"nxdomains_per_second", &cfg.NXDomainsPerSecond},
		{"referrals_per_second", &cfg.ReferralsPerSecond},
		{"errors_per_second", &cfg.ErrorsPerSecond},
	} {
		if n, ok := t.Int(k.key, 0, rrl.MaxRate); ok {
			*k.rate = int(n)
		}
	}
	if d, ok := t.Duration("window", time.Second, rrl.MaxWindow); ok {
		if d%time.Second != 0 {
			t.Errorf("window", "%v: use whole seconds", d)
		}
		cfg.Window = d
	}
	if n, ok := t.Int("slip", 0, rrl.MaxSlip); ok {
		cfg.Slip = int(n)
	}
	if n, ok := t.Int("ipv4_prefix_length", rrl.MinIPv4Len, 32); ok {
		cfg.IPv4PrefixLen = int(n)
	}
	if n, ok := t.Int("ipv6_prefix_length", rrl.MinIPv6Len, 128); ok {
		cfg.IPv6PrefixLen = int(n)
	}
	if v, ok := t.Strings("exempt"); ok {
		if len(v) > rrl.MaxExempt {
			t.Errorf("exempt", "%d prefixes, more than %d (each is checked on every response)", len(v), rrl.MaxExempt)
		}
		for i, s := range v {
			p, err := parseExempt(s)
			if err != nil {
				t.ElemErrorf("exempt", i, "%v", err)
				continue
			}
			cfg.Exempt = append(cfg.Exempt, p)
		}
	}
	if b, ok := t.Bool("exempt_loopback"); ok {
		cfg.ExemptLoopback = b
	}
	if b, ok := t.Bool("log_only"); ok {
		cfg.LogOnly = b
	}
	if n, ok := t.Int("table_size", rrl.MinTableSize, rrl.MaxTableSize); ok {
		cfg.TableSize = int(n)
	}
	if b, ok := t.Bool("badcookie_slip"); ok {
		c.BadCookieSlip = b
	}
	t.Done()
	if rateOK {
		c.RRL = &cfg
	}
}

// parseExempt reads a network ("192.0.2.0/24") or an address (its /32 or
// /128).
func parseExempt(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap() // the limiter sees IPv4-mapped clients as IPv4
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		return p, fmt.Errorf("%q is not a network such as \"192.0.2.0/24\" or an address", s)
	case p.Masked() != p:
		return p, fmt.Errorf("%q has bits set past the prefix length: write %s", s, p.Masked())
	case p.Addr().Is4In6():
		return p, fmt.Errorf("%q is IPv4-mapped: write the IPv4 network (clients are matched as IPv4)", s)
	}
	return p, nil
}
