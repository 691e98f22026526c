package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
)

func TestCheckListenAddr(t *testing.T) {
	cases := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:5353", true},
		{"[::1]:53", true},
		{"127.0.0.1:0", true},
		{"0.0.0.0:53", false}, // replies would come from the routed address
		{"[::]:53", false},
		{"localhost:53", false}, // names are not resolved: say which address
		{"127.0.0.1", false},
		{"127.0.0.1:65536", false},
	}
	for _, c := range cases {
		if err := CheckListenAddr(c.addr); (err == nil) != c.ok {
			t.Errorf("CheckListenAddr(%q) = %v, want ok=%v", c.addr, err, c.ok)
		}
	}
}

func TestReloadBudget(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "dnsrr.toml")
		if err := os.WriteFile(p, []byte("zones = [\"z.toml\"]\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := Load(write(""))
	if err != nil {
		t.Fatal(err)
	}
	if c.Reload != defaultReload || c.Reload.Timeout != 5*time.Minute || c.Reload.MemoryPercent != 50 {
		t.Errorf("default budget %+v, want 5m and 50%%", c.Reload)
	}
	for _, tc := range []struct {
		body string
		want ReloadBudget
		err  string
	}{
		{"reload_timeout = \"90s\"\nreload_memory = \"512MiB\"\n", ReloadBudget{Timeout: 90 * time.Second, Memory: 512 << 20}, ""},
		{"reload_timeout = 30\nreload_memory = \"1.5GB\"\n", ReloadBudget{Timeout: 30 * time.Second, Memory: 1.5e9}, ""},
		{"reload_memory = \"25%\"\n", ReloadBudget{Timeout: 5 * time.Minute, MemoryPercent: 25}, ""},
		{"reload_memory = 2097152\n", ReloadBudget{Timeout: 5 * time.Minute, Memory: 2 << 20}, ""},
		{"reload_timeout = \"soon\"\n", ReloadBudget{}, "dnsrr.toml:2: reload_timeout: \"soon\" is not a duration"},
		{"reload_timeout = \"2h\"\n", ReloadBudget{}, "reload_timeout: 2h0m0s is out of range"},
		{"reload_memory = \"95%\"\n", ReloadBudget{}, "reload_memory: \"95%\": a share of memory is 1% to 90%"},
		{"reload_memory = \"lots\"\n", ReloadBudget{}, "reload_memory: \"lots\" is not a size"},
		{"reload_memory = \"10KB\"\n", ReloadBudget{}, "below the minimum of 1MiB"},
	} {
		c, err := Load(write(tc.body))
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one containing %q", tc.body, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.body, err)
		case tc.err == "" && c.Reload != tc.want:
			t.Errorf("%q: budget %+v, want %+v", tc.body, c.Reload, tc.want)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for b, want := range map[uint64]string{512: "512B", 16 << 20: "16MiB", 3 << 29: "1.5GiB", 12_600_000_000: "11.7GiB"} {
		if got := FormatSize(b); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", b, got, want)
		}
	}
}

// A check named like a host with dots, unquoted, becomes nested tables:
// the error says how to write it.
func TestCheckNameUnquotedDots(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dnsrr.toml")
	body := "zones = []\n[checks.web.eu]\ntype = \"tcp\"\nport = 80\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), `dnsrr.toml:2: checks.web.eu`) || !strings.Contains(err.Error(), `[checks."web.eu"]`) {
		t.Fatalf("error = %v, want the line and the quoted form", err)
	}
}

// TestTCPTable: the [tcp] table fills dnsrr.TCPLimits (unset keys stay
// zero: dnsrr's defaults), and bad values are reported with their line.
func TestTCPTable(t *testing.T) {
	load := func(t *testing.T, table string) (*Config, error) {
		path := filepath.Join(t.TempDir(), "dnsrr.toml")
		src := "zones = [\"z.toml\"]\n[tcp]\n" + table
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return Load(path)
	}
	c, err := load(t, "max_connections = 50\nmax_connections_per_prefix = 5\nidle_timeout = \"3s\"\nbusy_idle_timeout = \"500ms\"\nframe_timeout = 1\nmax_queries = 100\n")
	if err != nil {
		t.Fatal(err)
	}
	want := dnsrr.TCPLimits{MaxConns: 50, MaxConnsPerPrefix: 5, IdleTimeout: 3 * time.Second,
		BusyIdleTimeout: 500 * time.Millisecond, FrameTimeout: time.Second, MaxQueries: 100}
	if c.TCP != want {
		t.Errorf("limits %+v, want %+v", c.TCP, want)
	}
	for _, tc := range []struct{ table, want string }{
		{"max_connections = 0\n", "dnsrr.toml:3: tcp.max_connections: 0 is out of range"},
		{"idle_timeout = \"soon\"\n", "dnsrr.toml:3: tcp.idle_timeout: \"soon\" is not a duration"},
		{"busy_idle_timeout = \"20s\"\n", "dnsrr.toml:3: tcp.busy_idle_timeout: 20s is longer than idle_timeout (10s)"},
		{"max_conns = 5\n", "dnsrr.toml:3: tcp.max_conns"},
	} {
		_, err := load(t, tc.table)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.table, err, tc.want)
		}
	}
}

func TestNSID(t *testing.T) {
	load := func(t *testing.T, line string) (*Config, error) {
		path := filepath.Join(t.TempDir(), "dnsrr.toml")
		if err := os.WriteFile(path, []byte("zones = [\"z.toml\"]\n"+line), 0o644); err != nil {
			t.Fatal(err)
		}
		return Load(path)
	}
	c, err := load(t, "nsid = \"ns1.fra\"\n")
	if err != nil || c.NSID != "ns1.fra" {
		t.Fatalf("nsid %q, error %v; want ns1.fra", c.NSID, err)
	}
	if c, _ := load(t, ""); c.NSID != "" {
		t.Errorf("nsid %q by default; want off", c.NSID)
	}
	_, err = load(t, "nsid = \""+strings.Repeat("x", dnsrr.MaxNSID+1)+"\"\n")
	if err == nil || !strings.Contains(err.Error(), "dnsrr.toml:2: nsid: is 129 bytes; at most 128") {
		t.Errorf("error %v, want one naming dnsrr.toml:2 and the limit", err)
	}
}
