package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr/rrl"
)

// TestRRLTable: [rrl] turns rate limiting on, fills rrl.Config over its
// defaults, and reports bad values with their line.
func TestRRLTable(t *testing.T) {
	load := func(t *testing.T, src string) (*Config, error) {
		path := filepath.Join(t.TempDir(), "dnsrr.toml")
		if err := os.WriteFile(path, []byte("zones = [\"z.toml\"]\n"+src), 0o644); err != nil {
			t.Fatal(err)
		}
		return Load(path)
	}
	c, err := load(t, "")
	if err != nil || c.RRL != nil {
		t.Fatalf("no [rrl]: %v, %+v; want rate limiting off", err, c.RRL)
	}
	c, err = load(t, "[rrl]\nresponses_per_second = 10\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := rrl.Defaults(10); !reflect.DeepEqual(*c.RRL, want) {
		t.Errorf("defaults %+v, want %+v", *c.RRL, want)
	}

	c, err = load(t, `[rrl]
responses_per_second = 20
nodata_per_second = 5
nxdomains_per_second = 0
referrals_per_second = 7
errors_per_second = 3
window = "30s"
slip = 3
ipv4_prefix_length = 32
ipv6_prefix_length = 64
exempt = ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7", "::ffff:203.0.113.1"]
exempt_loopback = false
log_only = true
table_size = 1000
`)
	if err != nil {
		t.Fatal(err)
	}
	want := rrl.Config{
		ResponsesPerSecond: 20, NoDataPerSecond: 5, NXDomainsPerSecond: 0, ReferralsPerSecond: 7, ErrorsPerSecond: 3,
		Window: 30 * time.Second, Slip: 3, IPv4PrefixLen: 32, IPv6PrefixLen: 64,
		Exempt: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32"),
			netip.MustParsePrefix("198.51.100.7/32"), netip.MustParsePrefix("203.0.113.1/32")},
		LogOnly: true, TableSize: 1000,
	}
	if !reflect.DeepEqual(*c.RRL, want) {
		t.Errorf("config\n%+v, want\n%+v", *c.RRL, want)
	}
	if err := c.RRL.Check(); err != nil {
		t.Errorf("the parsed config fails rrl's check: %v", err)
	}

	for _, tc := range []struct{ table, want string }{
		{"slip = 2\n", "dnsrr.toml:2: rrl: responses_per_second is missing"},
		{"responses_per_second = 0\n", "dnsrr.toml:3: rrl.responses_per_second: 0 is out of range 1..100000"},
		{"responses_per_second = \"10\"\n", "dnsrr.toml:3: rrl.responses_per_second: must be an integer"},
		{"responses_per_second = 10\nerrors_per_second = -1\n", "dnsrr.toml:4: rrl.errors_per_second: -1 is out of range 0..100000"},
		{"responses_per_second = 10\nwindow = \"1500ms\"\n", "dnsrr.toml:4: rrl.window: 1.5s: use whole seconds"},
		{"responses_per_second = 10\nwindow = \"2h\"\n", "dnsrr.toml:4: rrl.window: 2h0m0s is out of range"},
		{"responses_per_second = 10\nslip = 11\n", "dnsrr.toml:4: rrl.slip: 11 is out of range 0..10"},
		{"responses_per_second = 10\nipv4_prefix_length = 4\n", "dnsrr.toml:4: rrl.ipv4_prefix_length: 4 is out of range 8..32"},
		{"responses_per_second = 10\nipv6_prefix_length = 129\n", "rrl.ipv6_prefix_length: 129 is out of range 16..128"},
		{"responses_per_second = 10\nexempt = [\n  \"192.0.2.0/24\",\n  \"192.0.2.1/24\",\n]\n", "dnsrr.toml:6: rrl.exempt: \"192.0.2.1/24\" has bits set past the prefix length: write 192.0.2.0/24"},
		{"responses_per_second = 10\nexempt = [\"example.org\"]\n", "rrl.exempt: \"example.org\" is not a network"},
		{"responses_per_second = 10\nexempt = [\"::ffff:192.0.2.0/120\"]\n", "is IPv4-mapped: write the IPv4 network"},
		{"responses_per_second = 10\ntable_size = 1\n", "dnsrr.toml:4: rrl.table_size: 1 is out of range 16..16777216"},
		{"responses_per_second = 10\nlog_only = \"yes\"\n", "dnsrr.toml:4: rrl.log_only: must be true or false"},
		{"responses_per_second = 10\nrate = 5\n", "dnsrr.toml:4: rrl.rate: unknown key"},
	} {
		_, err := load(t, "[rrl]\n"+tc.table)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.table, err, tc.want)
		}
	}
	// Without the rate, the other keys are still checked, and known ones
	// are not called unknown.
	_, err = load(t, "[rrl]\nslip = 2\nwindow = \"0s\"\n")
	if err == nil || strings.Contains(err.Error(), "unknown key") || !strings.Contains(err.Error(), "rrl.window: 0s is out of range") {
		t.Errorf("error %v, want the missing rate and the bad window only", err)
	}
}

func TestRRLBadCookieSlip(t *testing.T) {
	for _, c := range []struct {
		table string
		want  bool
	}{{"", true}, {"[rrl]\nresponses_per_second = 5\n", true}, {"[rrl]\nresponses_per_second = 5\nbadcookie_slip = false\n", false}} {
		path := filepath.Join(t.TempDir(), "dnsrr.toml")
		if err := os.WriteFile(path, []byte("zones = [\"z.toml\"]\n"+c.table), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.BadCookieSlip != c.want {
			t.Errorf("%q: badcookie_slip %v, want %v", c.table, cfg.BadCookieSlip, c.want)
		}
	}
}
