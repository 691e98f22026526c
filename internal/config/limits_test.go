package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsrr/dnsrr/zones"
)

func loadConfigText(t *testing.T, text string) (*Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dnsrr.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(p)
}

func TestLimitsDefault(t *testing.T) {
	c, err := loadConfigText(t, "zones = [\"z.toml\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits != zones.DefaultLimits() {
		t.Errorf("limits without [limits]: %+v, want the defaults", c.Limits)
	}
}

func TestLimitsTable(t *testing.T) {
	c, err := loadConfigText(t, `zones = ["z.toml"]
[limits]
max_zone_file_size = 1000
max_toml_file_size = 1001
max_ca_file_size = 1002
max_records = 10
max_names = 11
max_rrset_records = 12
max_generate_range = 13
max_generate_total = 14
max_toml_depth = 15
max_toml_line_length = 16
`)
	if err != nil {
		t.Fatal(err)
	}
	want := zones.Limits{
		MaxZoneFileSize: 1000, MaxTOMLFileSize: 1001, MaxCAFileSize: 1002, MaxRecords: 10, MaxNames: 11,
		MaxRRsetRecords: 12, MaxGenerateRange: 13, MaxGenerateTotal: 14, MaxTOMLDepth: 15, MaxTOMLLineLength: 16,
	}
	if c.Limits != want {
		t.Errorf("limits %+v, want %+v", c.Limits, want)
	}
	// Keys left out keep their defaults.
	c, err = loadConfigText(t, "zones = [\"z.toml\"]\n[limits]\nmax_records = 5\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.MaxRecords != 5 || c.Limits.MaxNames != zones.DefaultLimits().MaxNames {
		t.Errorf("limits %+v", c.Limits)
	}
}

func TestLimitsBad(t *testing.T) {
	_, err := loadConfigText(t, "zones = [\"z.toml\"]\n[limits]\nmax_records = 0\nmax_generate_range = 70000\nmax_nmes = 3\n")
	got := zones.Errors(err)
	want := []string{"dnsrr.toml:3: limits.max_records:", "dnsrr.toml:4: limits.max_generate_range:", "dnsrr.toml:5: limits.max_nmes:"}
	if len(got) != len(want) {
		t.Fatalf("errors %q, want %d", got, len(want))
	}
	for i, w := range want {
		if !strings.Contains(got[i].Error(), w) {
			t.Errorf("error %q does not contain %q", got[i], w)
		}
	}
}

// Sizes take units, as reload_memory does.
func TestLimitsSizeUnits(t *testing.T) {
	c, err := loadConfigText(t, "zones = [\"z.toml\"]\n[limits]\nmax_zone_file_size = \"256MiB\"\nmax_toml_file_size = \"2MB\"\nmax_ca_file_size = \"64KiB\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.MaxZoneFileSize != 256<<20 || c.Limits.MaxTOMLFileSize != 2e6 || c.Limits.MaxCAFileSize != 64<<10 {
		t.Errorf("limits %+v", c.Limits)
	}
	_, err = loadConfigText(t, "zones = [\"z.toml\"]\n[limits]\nmax_zone_file_size = \"lots\"\nmax_ca_file_size = 0\n")
	got := zones.Errors(err)
	if len(got) != 2 || !strings.Contains(got[0].Error(), "dnsrr.toml:3: limits.max_zone_file_size:") || !strings.Contains(got[1].Error(), "dnsrr.toml:4: limits.max_ca_file_size:") {
		t.Errorf("errors %q, want one per bad size with its line", got)
	}
}
