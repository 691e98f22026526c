package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/internal/safefile"
	"github.com/dnsrr/dnsrr/zones/tomlfile"
	"github.com/miekg/dns"
)

// Transfer is the [transfer] table and the [tsig_keys] it names: who may
// transfer the zones out, and which secondaries are sent NOTIFY (README,
// "Zone transfers and NOTIFY"). Without the table nothing is transferred
// and no NOTIFY is sent; signed queries are checked against the keys
// whether or not the table is there.
type Transfer struct {
	dnsrr.Transfers
	Notify []dnsrr.NotifyTarget
	// Warnings are problems worth logging that are not errors (a key
	// file others can read).
	Warnings []string
}

// Bounds of the [transfer] and [tsig_keys] tables: each entry is checked
// per transfer or sent a NOTIFY per zone change.
const (
	maxTSIGKeys      = 256
	maxTransferACL   = 1024
	maxNotifyTargets = 64
	// A secret shorter than 16 bytes is guessable offline from one signed
	// message; RFC 8945 §6 asks for at least the hash's length, which
	// tsig-keygen and keymgr give (32 bytes for HMAC-SHA256).
	minTSIGSecret = 16
	maxTSIGSecret = 1024
	maxKeyFile    = 4096
)

// tsigAlgorithms maps the names the configuration accepts to miekg/dns's.
var tsigAlgorithms = map[string]string{
	"hmac-sha256": dns.HmacSHA256,
	"hmac-sha384": dns.HmacSHA384,
	"hmac-sha512": dns.HmacSHA512,
}

// readTransfer reads [tsig_keys] and [transfer] into c.Transfer.
func readTransfer(root *tomlfile.Table, c *Config) {
	keys := map[string]*dnsrr.TSIGKey{}
	c.Transfer.Keys = keys
	if t, ok := root.Table("tsig_keys"); ok {
		names := t.Keys()
		if len(names) > maxTSIGKeys {
			t.Errorf("", "%d keys, more than %d", len(names), maxTSIGKeys)
		}
		for _, name := range names {
			kt, ok := t.Table(name)
			if !ok {
				continue
			}
			if k := readTSIGKey(kt, name, c); k != nil {
				if _, dup := keys[k.Name]; dup {
					t.Errorf(name, "key %s is defined twice (names are compared in lower case, with a final dot)", k.Name)
				}
				keys[k.Name] = k
			}
		}
		t.Done()
	}
	t, ok := root.Table("transfer")
	if !ok {
		return
	}
	x := &c.Transfer
	keyOf := func(key string, i int, words []string) (string, bool) {
		if len(words) == 1 {
			return "", true
		}
		if len(words) != 3 || words[1] != "key" {
			t.ElemErrorf(key, i, "%q: write an address or prefix, optionally followed by key NAME", strings.Join(words, " "))
			return "", false
		}
		name := strings.ToLower(dns.Fqdn(words[2]))
		if keys[name] == nil {
			t.ElemErrorf(key, i, "key %q is not in [tsig_keys]", words[2])
			return "", false
		}
		return name, true
	}
	if v, ok := t.Strings("allow"); ok {
		if len(v) > maxTransferACL {
			t.Errorf("allow", "%d entries, more than %d", len(v), maxTransferACL)
		}
		for i, s := range v {
			words := strings.Fields(s)
			if len(words) == 0 {
				t.ElemErrorf("allow", i, "is empty")
				continue
			}
			p, err := parseACLPrefix(words[0])
			if err != nil {
				t.ElemErrorf("allow", i, "%v", err)
				continue
			}
			if name, ok := keyOf("allow", i, words); ok {
				x.Allow = append(x.Allow, dnsrr.TransferACL{Prefix: p, Key: name})
			}
		}
	}
	if v, ok := t.Strings("notify"); ok {
		if len(v) > maxNotifyTargets {
			t.Errorf("notify", "%d secondaries, more than %d", len(v), maxNotifyTargets)
		}
		for i, s := range v {
			words := strings.Fields(s)
			if len(words) == 0 {
				t.ElemErrorf("notify", i, "is empty")
				continue
			}
			addr, err := parseNotifyAddr(words[0])
			if err != nil {
				t.ElemErrorf("notify", i, "%v", err)
				continue
			}
			if name, ok := keyOf("notify", i, words); ok {
				x.Notify = append(x.Notify, dnsrr.NotifyTarget{Addr: addr, Key: keys[name]})
			}
		}
	}
	if n, ok := t.Int("max_transfers", 1, 1000); ok {
		x.MaxTransfers = int(n)
	}
	if d, ok := t.Duration("write_timeout", time.Second, time.Hour); ok {
		x.WriteTimeout = d
	}
	if d, ok := t.Duration("timeout", time.Minute, 24*time.Hour); ok {
		x.Timeout = d
	}
	t.Done()
}

// readTSIGKey reads one [tsig_keys.NAME] table.
func readTSIGKey(t *tomlfile.Table, name string, c *Config) *dnsrr.TSIGKey {
	defer t.Done()
	k := &dnsrr.TSIGKey{Name: strings.ToLower(dns.Fqdn(name)), Algorithm: dns.HmacSHA256}
	if _, ok := dns.IsDomainName(k.Name); !ok || name == "" {
		t.Errorf("", "%q is not a valid key name (a domain name, as in the secondary's configuration)", name)
		return nil
	}
	if v, ok := t.String("algorithm"); ok {
		alg, known := tsigAlgorithms[strings.ToLower(v)]
		if !known {
			t.Errorf("algorithm", "%q: use hmac-sha256, hmac-sha384 or hmac-sha512 (MD5 and SHA-1 are not offered, RFC 8945 §6)", v)
			return nil
		}
		k.Algorithm = alg
	}
	secret, hasSecret := t.String("secret")
	file, hasFile := t.String("secret_file")
	switch {
	case hasSecret == hasFile:
		t.Errorf("", "set one of secret (base64) or secret_file")
		return nil
	case hasFile:
		path := relative(c.File, file)
		b, err := readKeyFile(path)
		if err != nil {
			t.Errorf("secret_file", "%v", err)
			return nil
		}
		if w := secretFileWarning(path); w != "" {
			c.Transfer.Warnings = append(c.Transfer.Warnings, strings.Replace(w, "can forge cookies", "can sign transfers and NOTIFYs", 1))
		}
		secret = string(b)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(secret))
	key := "secret"
	if hasFile {
		key = "secret_file"
	}
	switch {
	case err != nil:
		t.Errorf(key, "is not base64 (as tsig-keygen and keymgr print it)")
		return nil
	case len(b) < minTSIGSecret || len(b) > maxTSIGSecret:
		t.Errorf(key, "is %d bytes; use %d to %d (tsig-keygen -a %s makes a good one)", len(b), minTSIGSecret, maxTSIGSecret, strings.TrimSuffix(k.Algorithm, "."))
		return nil
	}
	k.Secret = b
	return k
}

// readKeyFile reads a TSIG secret file: the base64 secret on one line;
// blank lines and # comments are skipped. Errors never quote the file.
func readKeyFile(path string) ([]byte, error) {
	b, _, err := safefile.ReadStable(path, maxKeyFile)
	if errors.As(err, new(*safefile.TooLargeError)) {
		return nil, fmt.Errorf("%s is larger than %d bytes: it holds one base64 secret", path, maxKeyFile)
	}
	if err != nil {
		return nil, err
	}
	var secret []byte
	for i, line := range bytes.Split(b, []byte("\n")) {
		if c := bytes.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		if line = bytes.TrimSpace(line); len(line) == 0 {
			continue
		}
		if secret != nil {
			return nil, fmt.Errorf("%s:%d: a second secret: the file holds one line of base64", path, i+1)
		}
		secret = line
	}
	if secret == nil {
		return nil, fmt.Errorf("%s holds no secret: write one line of base64 (tsig-keygen prints one)", path)
	}
	return secret, nil
}

// parseACLPrefix reads an address (a /32 or /128) or a prefix.
func parseACLPrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, fmt.Errorf("%q is not an address or a prefix", s)
	}
	if p.Masked() != p {
		return p, fmt.Errorf("%q has bits set past its length: did you mean %s?", s, p.Masked())
	}
	return p, nil
}

// parseNotifyAddr reads a secondary's address: an IP, with a port or
// without (53). Names are not taken: a NOTIFY must not wait on a lookup.
func parseNotifyAddr(s string) (string, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 {
		return "", fmt.Errorf("%q is not IP:port (or an IP, for port 53)", s)
	}
	return ap.String(), nil
}
