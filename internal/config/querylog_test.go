package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQueryLogAndWatchTables: [query_log] and [watch] over their defaults,
// and each bad value reported at its line.
func TestQueryLogAndWatchTables(t *testing.T) {
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
	if c.QueryLog != (QueryLog{MaxPerSecond: 100}) || c.Watch != (Watch{Quiet: 500 * time.Millisecond, MaxDelay: 5 * time.Second, MaxDirs: 256}) {
		t.Errorf("defaults: %+v %+v", c.QueryLog, c.Watch)
	}
	c, err = load(t, "[query_log]\nsample = 100\nfile = \"log/q.log\"\nmax_per_second = 50\n[watch]\nenabled = true\nquiet = \"1s\"\nmax_delay = \"30s\"\nmax_dirs = 8\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.QueryLog.Sample != 100 || c.QueryLog.MaxPerSecond != 50 || c.QueryLog.File != filepath.Join(filepath.Dir(c.File), "log", "q.log") {
		t.Errorf("query_log %+v", c.QueryLog)
	}
	if c.Watch != (Watch{Enabled: true, Quiet: time.Second, MaxDelay: 30 * time.Second, MaxDirs: 8}) {
		t.Errorf("watch %+v", c.Watch)
	}
	for _, bad := range []struct{ src, want string }{
		{"[query_log]\nsample = -1\n", "dnsrr.toml:3: query_log.sample"},
		{"[query_log]\nmax_per_second = 0\n", "dnsrr.toml:3: query_log.max_per_second"},
		{"[query_log]\nsampel = 1\n", "dnsrr.toml:3: query_log.sampel"},
		{"[watch]\nquiet = \"1ms\"\n", "dnsrr.toml:3: watch.quiet"},
		{"[watch]\nquiet = \"2s\"\nmax_delay = \"1s\"\n", "dnsrr.toml:4: watch.max_delay: 1s is shorter than quiet"},
		{"[watch]\nmax_dirs = 0\n", "dnsrr.toml:3: watch.max_dirs"},
		{"[watch]\nenabled = \"yes\"\n", "dnsrr.toml:3: watch.enabled"},
	} {
		_, err := load(t, bad.src)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want one containing %q", bad.src, err, bad.want)
		}
	}
}
