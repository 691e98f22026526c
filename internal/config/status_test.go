package config

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStatusNames(t *testing.T) {
	c, err := loadHealth(t, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Health.StatusNames; n.Label != "_status" || n.Clients != nil {
		t.Errorf("defaults: %+v", n)
	}
	c, err = loadHealth(t, `status_label = "_Health"
status_clients = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7", "::ffff:198.51.100.0/120"]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("198.51.100.0/24")}
	if n := c.Health.StatusNames; n.Label != "_health" || fmt.Sprint(n.Clients) != fmt.Sprint(want) {
		t.Errorf("got %+v", n)
	}
	if c, err = loadHealth(t, `status_label = ""`, nil); err != nil || c.Health.StatusNames.Label != "" {
		t.Errorf("off: %v, %+v", err, c)
	}
}

func TestStatusNamesBad(t *testing.T) {
	many := `"10.0.0.1"` + strings.Repeat(`, "10.0.0.1"`, 1024)
	for _, tc := range []struct{ health, want string }{
		{`status_label = "a.b"`, `dnsrr.toml:3: health.status_label: "a.b" is not one DNS label`},
		{`status_label = "` + strings.Repeat("x", 64) + `"`, `is longer than a DNS label`},
		{`status_label = 5`, `health.status_label: must be a string`},
		{"status_clients = [\n\"10.0.0.0/8\",\n\"10.0.0.1/8\"]", `dnsrr.toml:5: health.status_clients: "10.0.0.1/8" is not an address or a prefix`},
		{`status_clients = ["example.net"]`, `"example.net" is not an address or a prefix`},
		{`status_clients = [` + many + `]`, `lists 1025 prefixes; at most 1024`},
		{`status_lable = "_x"`, `status_lable`},
	} {
		_, err := loadHealth(t, tc.health, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.health, err, tc.want)
		}
	}
}

// TestReadAdminAccess: the control command reads the admin keys alone,
// so a mistake elsewhere in the file does not keep it from the server.
func TestReadAdminAccess(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("tok", testToken+"\n")
	a, err := ReadAdminAccess(write("a.toml", "zones = 5\nbogus = 1\n[health]\nadmin = \"unix:s.sock\"\nadmin_token_file = \"tok\"\nconcurrency = \"x\"\n"))
	if err != nil || a.Addr != "unix:"+filepath.Join(dir, "s.sock") || string(a.Token) != testToken {
		t.Errorf("got %+v, %v", a, err)
	}
	if a, err = ReadAdminAccess(write("b.toml", "zones = []\n")); err != nil || a.Addr != "127.0.0.1:8053" || a.Token != nil {
		t.Errorf("defaults: %+v, %v", a, err)
	}
	for body, want := range map[string]string{
		"[health]\nadmin = \"\"\n":                         "turns the admin API off",
		"[health]\nadmin = \"nowhere\"\n":                  "c.toml:2: health.admin:",
		"[health]\nadmin_token_file = \"missing.token\"\n": "c.toml:2: health.admin_token_file:",
		"[health\n": "c.toml:1",
	} {
		if _, err := ReadAdminAccess(write("c.toml", body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}
