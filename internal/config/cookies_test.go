package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/dnsrr/cookie"
)

// The answer path takes a Signer through its own interface.
var _ dnsrr.CookieSigner = (*cookie.Signer)(nil)

const (
	secret1 = "e5e973e5a6b2a43f48e7dc849e37bfcf"
	secret2 = "dd3bdf9344b678b185a6f5cb60fca715"
)

// loadCookies loads a config whose [cookies] table is table, beside a
// secret file "secrets" holding secrets (none when ""), of the given mode.
func loadCookies(t *testing.T, table, secrets string, mode os.FileMode) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	if secrets != "" {
		p := filepath.Join(dir, "secrets")
		if err := os.WriteFile(p, []byte(secrets), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "dnsrr.toml")
	if err := os.WriteFile(path, []byte("zones = []\n[cookies]\n"+table), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path)
}

func TestCookiesDefault(t *testing.T) {
	for _, text := range []string{"zones = []\n", "zones = []\n[cookies]\n"} {
		c, err := loadConfigText(t, text)
		if err != nil {
			t.Fatal(err)
		}
		k := c.Cookies
		if !k.Enabled || !k.Random || k.SecretFile != "" || k.Previous != nil || k.Warning != "" {
			t.Errorf("%q: cookies %+v, want enabled with a random secret", text, k)
		}
		if k.Current == (cookie.Secret{}) {
			t.Error("the random secret is zero")
		}
	}
	// One random secret per process: a reload must not invalidate every
	// cookie handed out.
	a, _ := loadConfigText(t, "zones = []\n")
	b, _ := loadConfigText(t, "zones = []\n")
	if a.Cookies.Current != b.Cookies.Current || Default().Cookies.Current != a.Cookies.Current {
		t.Error("two loads drew different random secrets")
	}
}

func TestCookiesDisabled(t *testing.T) {
	c, err := loadCookies(t, "enabled = false\n", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Cookies.Enabled {
		t.Error("enabled = false left cookies on")
	}
}

func TestCookiesSecretFile(t *testing.T) {
	cases := []struct {
		name, secrets string
		previous      bool
	}{
		{"current only", secret1 + "\n", false},
		{"current and previous", secret1 + "\n" + secret2 + "\n", true},
		{"comments, blank lines, upper case, no final newline",
			"# rotated 2026-12-01\n\n  " + strings.ToUpper(secret1) + "  # new\r\n\n# old, drop after an hour\n" + secret2, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadCookies(t, `secret_file = "secrets"`+"\n", tc.secrets, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			k := c.Cookies
			want, _ := cookie.ParseSecret(secret1)
			if k.Current != want || k.Random || !k.Enabled || k.Warning != "" {
				t.Errorf("cookies %+v: want the file's first secret, no warning", k)
			}
			if !filepath.IsAbs(k.SecretFile) || filepath.Base(k.SecretFile) != "secrets" {
				t.Errorf("secret_file = %q, want the path beside the config file", k.SecretFile)
			}
			if (k.Previous != nil) != tc.previous {
				t.Fatalf("previous = %v, want one: %v", k.Previous, tc.previous)
			}
			if tc.previous {
				if old, _ := cookie.ParseSecret(secret2); *k.Previous != old {
					t.Error("previous is not the second secret")
				}
			}
		})
	}
}

// TestCookiesBadSecretFile: each mistake is an error naming the config's
// key and line and, for the content, the secret file's line; none quotes
// a secret.
func TestCookiesBadSecretFile(t *testing.T) {
	cases := []struct {
		name, table, secrets string
		want                 []string
	}{
		{"missing", `secret_file = "nope"`, "", []string{"dnsrr.toml:3: cookies.secret_file: open ", "nope"}},
		{"a directory", `secret_file = "."`, "", []string{"cookies.secret_file:", "not a regular file"}},
		{"empty path", `secret_file = ""`, "", []string{"dnsrr.toml:3: cookies.secret_file: is empty"}},
		{"no secret", `secret_file = "secrets"`, "# nothing yet\n\n", []string{"secrets holds no secret"}},
		{"short", `secret_file = "secrets"`, "\n" + secret1[:30] + "\n", []string{"secrets:2: a cookie secret is 32 hex digits (128 bits), not 30 characters"}},
		{"long", `secret_file = "secrets"`, secret1 + "00\n", []string{"secrets:1: a cookie secret is 32 hex digits (128 bits), not 34 characters"}},
		{"not hex", `secret_file = "secrets"`, secret1 + "\n" + "zz" + secret2[2:] + "\n", []string{"secrets:2: a cookie secret is 32 hex digits (128 bits): character 1 is not a hex digit"}},
		{"two on a line", `secret_file = "secrets"`, secret1 + " " + secret2 + "\n", []string{"not 65 characters"}},
		{"three secrets", `secret_file = "secrets"`, secret1 + "\n" + secret2 + "\n# older\n" + secret1 + "\n", []string{"secrets:4: a third secret"}},
		{"too large", `secret_file = "secrets"`, secret1 + "\n" + strings.Repeat("#", maxSecretFile), []string{"larger than 4096 bytes"}},
		{"not a boolean", "enabled = 1", "", []string{"dnsrr.toml:3: cookies.enabled: must be true or false"}},
		{"unknown key", "secret = \"" + secret1 + "\"", "", []string{"dnsrr.toml:3: cookies.secret: unknown key"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadCookies(t, tc.table+"\n", tc.secrets, 0o600)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), secret1[2:12]) || strings.Contains(err.Error(), secret2[2:12]) {
				t.Errorf("error quotes a secret: %v", err)
			}
		})
	}
}

func TestCookiesSecretFileReadable(t *testing.T) {
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		c, err := loadCookies(t, `secret_file = "secrets"`+"\n", secret1+"\n", mode)
		if err != nil {
			t.Fatal(err)
		}
		if w := c.Cookies.Warning; !strings.Contains(w, "readable by group or others") || !strings.Contains(w, "chmod 600") {
			t.Errorf("mode %04o: warning %q", mode, w)
		}
	}
	c, err := loadCookies(t, `secret_file = "secrets"`+"\n", secret1+"\n", 0o400)
	if err != nil {
		t.Fatal(err)
	}
	if c.Cookies.Warning != "" {
		t.Errorf("mode 0400: warning %q", c.Cookies.Warning)
	}
}
