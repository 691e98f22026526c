package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMetricsTable: [metrics] defaults, values, and bad values reported
// with their line and key.
func TestMetricsTable(t *testing.T) {
	load := func(t *testing.T, src string) (*Config, error) {
		path := filepath.Join(t.TempDir(), "dnsrr.toml")
		if err := os.WriteFile(path, []byte("zones = [\"z.toml\"]\n"+src), 0o644); err != nil {
			t.Fatal(err)
		}
		return Load(path)
	}
	c, err := load(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := (MetricsConfig{Enabled: true, MaxMemberSeries: 1000, MaxPoolSeries: 10000}); c.Metrics != want {
		t.Errorf("defaults %+v, want %+v", c.Metrics, want)
	}
	c, err = load(t, "[metrics]\nenabled = false\nmax_member_series = 0\nmax_pool_series = 50\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := (MetricsConfig{MaxPoolSeries: 50}); c.Metrics != want {
		t.Errorf("got %+v, want %+v", c.Metrics, want)
	}
	for _, c := range []struct{ src, want string }{
		{"[metrics]\nmax_member_series = -1\n", "dnsrr.toml:3: metrics.max_member_series: -1 is out of range 0..1000000"},
		{"[metrics]\nmax_pool_series = 2000000\n", "dnsrr.toml:3: metrics.max_pool_series: 2000000 is out of range 0..1000000"},
		{"[metrics]\nenabled = \"yes\"\n", "dnsrr.toml:3: metrics.enabled: must be true or false"},
		{"[metrics]\nmax_members = 5\n", "dnsrr.toml:3: metrics.max_members"},
	} {
		_, err := load(t, c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.src, err, c.want)
		}
	}
}
