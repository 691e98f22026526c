package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
)

const testSecret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=" // 32 bytes

func loadTransfer(t *testing.T, src string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "dnsrr.toml")
	if err := os.WriteFile(filepath.Join(dir, "xfr.key"), []byte("# made by tsig-keygen\n"+testSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("zones = [\"z.toml\"]\n"+src), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(path)
}

func TestTransferTable(t *testing.T) {
	c, err := loadTransfer(t, "")
	if err != nil || len(c.Transfer.Allow) != 0 || len(c.Transfer.Notify) != 0 {
		t.Fatalf("no [transfer]: %v, %+v; want nothing allowed, nobody notified", err, c.Transfer)
	}
	c, err = loadTransfer(t, `
[tsig_keys."XFR.example"]
secret = "`+testSecret+`"
[tsig_keys.second]
algorithm = "hmac-sha512"
secret_file = "xfr.key"

[transfer]
allow = ["127.0.0.1 key xfr.example.", "10.0.0.0/8", "2001:db8::/32 key second"]
notify = ["127.0.0.1:5400 key xfr.example", "192.0.2.1"]
max_transfers = 3
write_timeout = "1m"
timeout = "3h"
`)
	if err != nil {
		t.Fatal(err)
	}
	x := c.Transfer
	k := x.Keys["xfr.example."]
	if k == nil || k.Algorithm != "hmac-sha256." || len(k.Secret) != 32 {
		t.Errorf("key xfr.example.: %+v", k)
	}
	if k2 := x.Keys["second."]; k2 == nil || k2.Algorithm != "hmac-sha512." || string(k2.Secret) != string(k.Secret) {
		t.Errorf("key second. from its file: %+v", k2)
	}
	want := []dnsrr.TransferACL{
		{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Key: "xfr.example."},
		{Prefix: netip.MustParsePrefix("10.0.0.0/8")},
		{Prefix: netip.MustParsePrefix("2001:db8::/32"), Key: "second."},
	}
	if len(x.Allow) != len(want) {
		t.Fatalf("allow %+v, want %+v", x.Allow, want)
	}
	for i := range want {
		if x.Allow[i] != want[i] {
			t.Errorf("allow[%d] = %+v, want %+v", i, x.Allow[i], want[i])
		}
	}
	if len(x.Notify) != 2 || x.Notify[0].Addr != "127.0.0.1:5400" || x.Notify[0].Key != k ||
		x.Notify[1].Addr != "192.0.2.1:53" || x.Notify[1].Key != nil {
		t.Errorf("notify %+v", x.Notify)
	}
	if x.MaxTransfers != 3 || x.WriteTimeout != time.Minute || x.Timeout != 3*time.Hour {
		t.Errorf("max_transfers %d, write_timeout %v, timeout %v", x.MaxTransfers, x.WriteTimeout, x.Timeout)
	}
}

func TestTransferBadConfig(t *testing.T) {
	key := "[tsig_keys.k]\nsecret = \"" + testSecret + "\"\n"
	for _, c := range []struct{ src, want string }{
		{"[tsig_keys.k]\nsecret = \"not base64!\"\n", "dnsrr.toml:3: tsig_keys.k.secret: is not base64"},
		{"[tsig_keys.k]\nsecret = \"c2hvcnQ=\"\n", "dnsrr.toml:3: tsig_keys.k.secret: is 5 bytes; use 16 to 1024"},
		{"[tsig_keys.k]\nalgorithm = \"hmac-md5\"\nsecret = \"" + testSecret + "\"\n", "dnsrr.toml:3: tsig_keys.k.algorithm: \"hmac-md5\": use hmac-sha256"},
		{"[tsig_keys.k]\nalgorithm = \"hmac-sha256\"\n", "set one of secret (base64) or secret_file"},
		{"[tsig_keys.k]\nsecret_file = \"missing.key\"\n", "dnsrr.toml:3: tsig_keys.k.secret_file:"},
		{key + "[transfer]\nallow = [\"127.0.0.1 key nokey\"]\n", "dnsrr.toml:5: transfer.allow: key \"nokey\" is not in [tsig_keys]"},
		{key + "[transfer]\nallow = [\"127.0.0.1/8\"]\n", "has bits set past its length"},
		{key + "[transfer]\nallow = [\"localhost\"]\n", "\"localhost\" is not an address or a prefix"},
		{key + "[transfer]\nallow = [\"127.0.0.1 k\"]\n", "optionally followed by key NAME"},
		{key + "[transfer]\nnotify = [\"ns2.example:53\"]\n", "dnsrr.toml:5: transfer.notify: \"ns2.example:53\" is not IP:port"},
		{key + "[transfer]\nmax_transfers = 0\n", "transfer.max_transfers"},
		{key + "[transfer]\ntimeout = \"10s\"\n", "dnsrr.toml:5: transfer.timeout"},
		{key + "[transfer]\nnotfy = []\n", "transfer.notfy"},
	} {
		_, err := loadTransfer(t, c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v; want one containing %q", c.src, err, c.want)
		}
	}
}
