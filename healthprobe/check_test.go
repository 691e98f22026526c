package healthprobe

import (
	"crypto/x509"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseStatusRanges(t *testing.T) {
	got, err := ParseStatusRanges([]string{"200", "200-299", " 301 - 302 "})
	if err != nil {
		t.Fatal(err)
	}
	want := []StatusRange{{200, 200}, {200, 299}, {301, 302}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"", "abc", "99", "600", "300-200", "200-", "2xx", "200-299-300"} {
		if _, err := ParseStatusRanges([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestApplyDefaults(t *testing.T) {
	c := Check{Kind: KindHTTPS}
	c.ApplyDefaults()
	want := Check{Kind: KindHTTPS, Port: 443, Interval: 5 * time.Second, Timeout: 2 * time.Second, Fall: 3, Rise: 2,
		Method: "GET", Path: "/", Status: []StatusRange{{200, 399}}, BodyLimit: 64 << 10}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("https defaults:\n got %+v\nwant %+v", c, want)
	}
	tcp := Check{Kind: KindTCP, Port: 25}
	tcp.ApplyDefaults()
	if tcp.Method != "" || tcp.Path != "" || tcp.Status != nil || tcp.BodyLimit != 0 {
		t.Errorf("tcp got http defaults: %+v", tcp)
	}
	if err := tcp.Validate(); err != nil {
		t.Errorf("tcp with defaults: %v", err)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		c    Check
		want string // "" for valid
	}{
		{"http zero", Check{Kind: KindHTTP}, ""},
		{"tcp", Check{Kind: KindTCP, Port: 22}, ""},
		{"full https", Check{Kind: KindHTTPS, Port: 8443, Interval: time.Second, Timeout: 500 * time.Millisecond,
			Method: "HEAD", Path: "/health?full=1", Host: "www.example.org:8443", Status: []StatusRange{{204, 204}},
			RootCAs: x509.NewCertPool(), RootCAsID: "ca.pem"}, ""},
		{"no kind", Check{}, "kind is missing"},
		{"bad kind", Check{Kind: "icmp"}, `kind "icmp"`},
		{"tcp no port", Check{Kind: KindTCP}, "port 0"},
		{"big port", Check{Kind: KindHTTP, Port: 70000}, "port 70000"},
		{"timeout not below interval", Check{Kind: KindHTTP, Interval: time.Second}, "timeout 2s must be shorter than interval 1s"},
		{"negative fall", Check{Kind: KindHTTP, Fall: -1}, "fall -1"},
		{"negative rise", Check{Kind: KindHTTP, Rise: -1}, "rise -1"},
		{"method", Check{Kind: KindHTTP, Method: "POST"}, `method "POST"`},
		{"path", Check{Kind: KindHTTP, Path: "health"}, "must start with /"},
		{"host", Check{Kind: KindHTTP, Host: "a/b"}, "not a host name"},
		{"status", Check{Kind: KindHTTP, Status: []StatusRange{{300, 200}}}, "reversed"},
		{"body with HEAD", Check{Kind: KindHTTP, Method: "HEAD", BodyContains: "ok"}, "not allowed with HEAD"},
		{"body over limit", Check{Kind: KindHTTP, BodyContains: "hello", BodyLimit: 3}, "longer than body_limit"},
		{"tcp with path", Check{Kind: KindTCP, Port: 1, Path: "/"}, "path applies to http and https"},
		{"http with CA", Check{Kind: KindHTTP, InsecureSkipVerify: true}, "https checks only"},
		{"http with ca_file", Check{Kind: KindHTTP, CAFile: "ca.pem"}, "https checks only"},
		{"ca_file not loaded", Check{Kind: KindHTTPS, CAFile: "ca.pem"}, "ca_file ca.pem is not loaded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.c.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	// Every problem is reported at once.
	err := (&Check{Kind: KindHTTP, Method: "PUT", Path: "x", Fall: -2}).Validate()
	if err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("want three errors joined, got %v", err)
	}
}

func TestKey(t *testing.T) {
	base := func() *Check { return &Check{Kind: KindHTTPS, Path: "/health"} }
	k := Target{addrA, base()}.Key()
	// Explicit defaults are the same check.
	explicit := &Check{Kind: KindHTTPS, Port: 443, Interval: 5 * time.Second, Timeout: 2 * time.Second, Fall: 3, Rise: 2,
		Method: "GET", Path: "/health", Status: []StatusRange{{200, 399}}, BodyLimit: 64 << 10}
	if k2 := (Target{addrA, explicit}).Key(); k2 != k {
		t.Errorf("explicit defaults changed the key:\n%s\n%s", k, k2)
	}
	pool := x509.NewCertPool()
	// Every parameter is part of the identity.
	mods := map[string]func(c *Check){
		"port":      func(c *Check) { c.Port = 8443 },
		"interval":  func(c *Check) { c.Interval = 10 * time.Second },
		"timeout":   func(c *Check) { c.Timeout = time.Second },
		"fall":      func(c *Check) { c.Fall = 4 },
		"rise":      func(c *Check) { c.Rise = 1 },
		"method":    func(c *Check) { c.Method = "HEAD" },
		"path":      func(c *Check) { c.Path = "/other" },
		"host":      func(c *Check) { c.Host = "www.example.org" },
		"status":    func(c *Check) { c.Status = []StatusRange{{200, 200}} },
		"body":      func(c *Check) { c.BodyContains = "ok" },
		"limit":     func(c *Check) { c.BodyContains, c.BodyLimit = "ok", 10 },
		"insecure":  func(c *Check) { c.InsecureSkipVerify = true },
		"ca":        func(c *Check) { c.RootCAs = pool },
		"ca id":     func(c *Check) { c.RootCAs, c.RootCAsID = pool, "ca.pem sha256:00" },
		"kind http": func(c *Check) { c.Kind, c.Port = KindHTTP, 443 },
	}
	seen := map[string]string{k: "base"}
	for name, mod := range mods {
		c := base()
		mod(c)
		mk := Target{addrA, c}.Key()
		if other, dup := seen[mk]; dup {
			t.Errorf("%s: same key as %s: %s", name, other, mk)
		}
		seen[mk] = name
	}
	if (Target{addrB, base()}).Key() == k {
		t.Error("address not in the key")
	}
	// With an ID, two pools with the same meaning keep the key.
	c1, c2 := base(), base()
	c1.RootCAs, c1.RootCAsID = x509.NewCertPool(), "ca.pem"
	c2.RootCAs, c2.RootCAsID = x509.NewCertPool(), "ca.pem"
	if (Target{addrA, c1}).Key() != (Target{addrA, c2}).Key() {
		t.Error("RootCAsID does not name the pool")
	}
	if got := (Target{addrC, &Check{Kind: KindTCP, Port: 53}}).Key(); got != "[2001:db8::3]:53 tcp interval=5s timeout=2s fall=3 rise=2" {
		t.Errorf("tcp key %q", got)
	}
}
