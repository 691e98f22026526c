package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/dnsrr/dnsrr/dnsrr/cookie"
	"github.com/dnsrr/dnsrr/internal/safefile"
	"github.com/dnsrr/dnsrr/zones/tomlfile"
)

// Cookies is the [cookies] table: DNS cookies (RFC 7873) and the secret
// their server cookies are made with (README, "DNS cookies").
type Cookies struct {
	Enabled bool
	// Current makes the server cookies sent and checks those received;
	// Previous, when not nil, is still accepted (a rotation).
	Current  cookie.Secret
	Previous *cookie.Secret
	// SecretFile holds the secrets; "" when Random.
	SecretFile string
	// Random is set when no secret_file is configured: Current is then
	// random, the same for the whole process (reloads keep it), so other
	// instances behind the same address do not accept its cookies.
	Random bool
	// Warning, when not "", is a problem worth logging that is not an
	// error: a secret file others can read.
	Warning string
}

// maxSecretFile bounds the secret file: two lines of 32 hex digits and a
// few comments.
const maxSecretFile = 4096

// processSecret is the secret of a process without a secret_file: drawn
// once, so that a reload does not invalidate every cookie handed out.
var processSecret = sync.OnceValue(cookie.RandomSecret)

// defaultCookies: on, as in BIND, with the process's random secret.
func defaultCookies() Cookies {
	return Cookies{Enabled: true, Current: processSecret(), Random: true}
}

// readCookies reads the [cookies] table into c.Cookies.
func readCookies(root *tomlfile.Table, c *Config) {
	t, ok := root.Table("cookies")
	if !ok {
		return
	}
	if v, ok := t.Bool("enabled"); ok {
		c.Cookies.Enabled = v
	}
	if v, ok := t.String("secret_file"); ok {
		if v == "" {
			t.Errorf("secret_file", "is empty: name a file of hex secrets, or leave the key out for a random secret")
		} else {
			path := relative(c.File, v)
			cur, prev, err := ReadCookieSecrets(path)
			if err != nil {
				t.Errorf("secret_file", "%v", err)
			} else {
				c.Cookies.Current, c.Cookies.Previous = cur, prev
				c.Cookies.SecretFile, c.Cookies.Random = path, false
				c.Cookies.Warning = secretFileWarning(path)
			}
		}
	}
	t.Done()
}

// ReadCookieSecrets reads a cookie secret file: one secret of 32 hex
// digits a line, the current one first and, optionally, the previous one
// (still accepted) second; blank lines and # comments are skipped. At most
// maxSecretFile bytes, a regular file. Errors name file:line and never
// quote the file's content.
func ReadCookieSecrets(path string) (current cookie.Secret, previous *cookie.Secret, err error) {
	b, _, err := safefile.ReadStable(path, maxSecretFile)
	if errors.As(err, new(*safefile.TooLargeError)) {
		return current, nil, fmt.Errorf("%s is larger than %d bytes: it holds one or two secrets of 32 hex digits", path, maxSecretFile)
	}
	if err != nil {
		return current, nil, err
	}
	var secrets []cookie.Secret
	for i, line := range bytes.Split(b, []byte("\n")) {
		if c := bytes.IndexByte(line, '#'); c >= 0 {
			line = line[:c]
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(secrets) == 2 {
			return current, nil, fmt.Errorf("%s:%d: a third secret: the file holds the current secret, then optionally the previous one", path, i+1)
		}
		s, err := cookie.ParseSecret(string(line))
		if err != nil {
			return current, nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		secrets = append(secrets, s)
	}
	switch len(secrets) {
	case 0:
		return current, nil, fmt.Errorf("%s holds no secret: write one line of 32 hex digits (openssl rand -hex 16)", path)
	case 2:
		previous = &secrets[1]
	}
	return secrets[0], previous, nil
}

// secretFileWarning says when others than the file's owner can read the
// secret file: with the secret, anyone can forge cookies that exempt their
// queries from rate limiting.
func secretFileWarning(path string) string {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o044 == 0 {
		return ""
	}
	return fmt.Sprintf("%s is readable by group or others (mode %04o): whoever reads it can forge cookies; chmod 600 it", path, fi.Mode().Perm())
}
