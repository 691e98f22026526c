package zones

import (
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/healthprobe"
	"github.com/dnsrr/dnsrr/zones/tomlfile"
)

// parseChecks reads the [checks] of text as ParseCheck does for a zone or
// the configuration, and returns them with the file's problems.
func parseChecks(t *testing.T, text string) (map[string]*Check, []string) {
	t.Helper()
	root, err := tomlfile.Parse("dnsrr.toml", text)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*Check{}
	checks, _ := root.Table("checks")
	for _, name := range checks.Keys() {
		ct, _ := checks.Table(name)
		out[name] = ParseCheck(ct, name, "/etc/dnsrr")
	}
	var errs []string
	for _, e := range tomlfile.Flatten(root.File().Errs.Err()) {
		errs = append(errs, e.Error())
	}
	return out, errs
}

// TestParseCheckFillsTheProbe: every key of a check lands in the
// prober's own Check, with nothing defaulted here (healthprobe applies the
// defaults when the targets are planned).
func TestParseCheckFillsTheProbe(t *testing.T) {
	checks, errs := parseChecks(t, `
[checks.web]
type     = "https"
interval = "10s"
timeout  = 3
fall     = 4
rise     = 1
method   = "HEAD"
path     = "/health?full=1"
host     = "www.example.org"
expect   = ["200", "300-302"]
body     = "ok"
insecure = false
ca_file  = "ca.pem"
source   = "::ffff:192.0.2.1"
weight_header = "X-Weight"

[checks.db]
type = "tcp"
port = 5432
`)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := healthprobe.Check{
		Kind: "https", Interval: 10 * time.Second, Timeout: 3 * time.Second, Fall: 4, Rise: 1,
		Method: "HEAD", Path: "/health?full=1", Host: "www.example.org",
		Status:       []healthprobe.StatusRange{{Min: 200, Max: 200}, {Min: 300, Max: 302}},
		BodyContains: "ok", CAFile: filepath.Join("/etc/dnsrr", "ca.pem"),
		Source: netip.MustParseAddr("192.0.2.1"), WeightHeader: "X-Weight",
	}
	if got := checks["web"]; !reflect.DeepEqual(got.Probe, want) || got.Name != "web" || got.File != "dnsrr.toml" || got.Line != 2 {
		t.Errorf("web: %+v\nwant probe %+v at dnsrr.toml:2", got, want)
	}
	if got := checks["db"].Probe; !reflect.DeepEqual(got, healthprobe.Check{Kind: "tcp", Port: 5432}) {
		t.Errorf("db: %+v", got)
	}
}

// TestParseCheckErrors: each mistake is reported at its key's line.
func TestParseCheckErrors(t *testing.T) {
	_, errs := parseChecks(t, `
[checks.a]
type   = "http"
expect = ["200", "abc"]

[checks.b]
type   = "http"
expect = ["299-200"]

[checks.c]
type = "tcp"
path = "/"

[checks.d]
type = "https"
weight_header = "X Weight"

[checks.e]
type = "tcp"
port = 22
weight_header = "X-Weight"
`)
	want := []string{
		`dnsrr.toml:4: checks.a.expect: status "abc": not a status code`,
		`dnsrr.toml:8: checks.b.expect: status "299-200": range is reversed`,
		`dnsrr.toml:10: checks.c: port is missing: a tcp check needs one`,
		`dnsrr.toml:12: checks.c.path: only http and https checks have path`,
		`dnsrr.toml:16: checks.d.weight_header: "X Weight" is not an HTTP header name`,
		`dnsrr.toml:21: checks.e.weight_header: only http and https checks have weight_header`,
	}
	if strings.Join(errs, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(errs, "\n"), strings.Join(want, "\n"))
	}
}
