package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const testToken = "6f1c0d7e9b2a44c58e3f1a2b3c4d5e6f"

// loadHealth loads a config whose [health] table is health, in a temp dir
// holding the given files.
func loadHealth(t *testing.T, health string, files map[string]string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "dnsrr.toml")
	if err := os.WriteFile(path, []byte("zones = []\n[health]\n"+health), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path)
}

func TestAdminUnixPath(t *testing.T) {
	c, err := loadHealth(t, `admin = "unix:admin.sock"`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := UnixSocket(c.Health.Admin); !ok || !filepath.IsAbs(p) || filepath.Base(p) != "admin.sock" {
		t.Errorf("admin = %q, want unix: and the socket's path beside the config file", c.Health.Admin)
	}
	if !IsLocalAdmin(c.Health.Admin) {
		t.Error("a Unix socket is not local")
	}
}

func TestAdminDefaults(t *testing.T) {
	c, err := loadHealth(t, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	h := c.Health
	if h.Admin != "127.0.0.1:8053" || h.StatusListen != "" || h.AdminToken != nil ||
		h.AdminLimits != DefaultAdminLimits || h.DrainMax != 7*24*time.Hour || h.StatusMaxPools != 1000 {
		t.Errorf("defaults: %+v", h)
	}
}

func TestAdminAuthority(t *testing.T) {
	big := strings.Repeat("x", maxTokenFile+1)
	cases := []struct {
		name, health string
		files        map[string]string
		err          string // "" for none
	}{
		{"loopback without token", `admin = "127.0.0.1:8053"`, nil, ""},
		{"IPv6 loopback", `admin = "[::1]:8053"`, nil, ""},
		{"off", `admin = ""`, nil, ""},
		{"unix socket", `admin = "unix:admin.sock"`, nil, ""},
		{"unix without path", `admin = "unix:"`, nil, "health.admin: unix: needs a path"},
		{"elsewhere without token", `admin = "192.0.2.1:8053"`, nil,
			"dnsrr.toml:3: health.admin: 192.0.2.1:8053 is not a loopback address: set [health] admin_token_file"},
		{"elsewhere with token", "admin = \"192.0.2.1:8053\"\nadmin_token_file = \"token\"", map[string]string{"token": testToken + "\n"}, ""},
		{"token on loopback", `admin_token_file = "token"`, map[string]string{"token": testToken}, ""},
		{"token file missing", `admin_token_file = "nope"`, nil, "health.admin_token_file: open "},
		{"token too short", `admin_token_file = "token"`, map[string]string{"token": "secret\n"}, "at least 32 characters"},
		{"two tokens", `admin_token_file = "token"`, map[string]string{"token": testToken + " " + testToken}, "no spaces"},
		{"token file huge", `admin_token_file = "token"`, map[string]string{"token": big}, "larger than 4096 bytes"},
		{"token file a directory", `admin_token_file = "."`, nil, "not a regular file"},
		{"status elsewhere", `status_listen = "192.0.2.1:8054"`, nil, ""},
		{"status wildcard", `status_listen = "0.0.0.0:8054"`, nil, "health.status_listen"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := loadHealth(t, c.health, c.files)
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("error %v, want one containing %q", err, c.err)
			case c.err == "" && c.files["token"] != "" && string(cfg.Health.AdminToken) != testToken:
				t.Errorf("token %q, want %q", cfg.Health.AdminToken, testToken)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("the error quotes the token file: %v", err)
			}
		})
	}
}

// A FIFO as the token file must fail at once, not hang the load.
func TestAdminTokenFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	if _, err := ReadToken(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("ReadToken(FIFO) = %v, want not a regular file", err)
	}
}

func TestAdminLimitKeys(t *testing.T) {
	c, err := loadHealth(t, `admin_max_connections = 8
admin_max_header_bytes = 4096
admin_max_body_bytes = 0
admin_read_timeout = "2s"
admin_write_timeout = 20
admin_idle_timeout = "1m"
drain_max = "24h"
status_max_pools = 50
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := AdminLimits{MaxConns: 8, MaxHeaderBytes: 4096, MaxBodyBytes: 0,
		ReadTimeout: 2 * time.Second, WriteTimeout: 20 * time.Second, IdleTimeout: time.Minute}
	if c.Health.AdminLimits != want || c.Health.DrainMax != 24*time.Hour || c.Health.StatusMaxPools != 50 {
		t.Errorf("got %+v, drain_max %v, status_max_pools %d", c.Health.AdminLimits, c.Health.DrainMax, c.Health.StatusMaxPools)
	}
	for _, bad := range []string{
		"admin_max_connections = 0", "admin_max_header_bytes = 10", `admin_read_timeout = "1h"`,
		`admin_idle_timeout = "soon"`, "admin_write_timeout = 99999999999999", `drain_max = "1s"`, "status_max_pools = 0",
	} {
		key := strings.Fields(bad)[0]
		if _, err := loadHealth(t, bad, nil); err == nil || !strings.Contains(err.Error(), "health."+key) {
			t.Errorf("%s: error %v, want one naming health.%s", bad, err, key)
		}
	}
}
