package integration

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsrr/dnsrr/dnsrr/cookie"
)

// The secrets the cookie tests configure: the file's first line, and the
// one a rotation moves in front of it.
const (
	cookieSecret    = "e5e973e5a6b2a43f48e7dc849e37bfcf"
	cookieSecretNew = "445536bcd2513298075a5d379663c962"
	cookieQname     = "www.lb.example.test."
)

// clientCookie is the client cookie the Go client sends.
var clientCookie = []byte{0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57}

// startCookieServer serves the example zone with [cookies] table, in a
// directory holding the secret file "cookie.secrets" with secrets (none
// when ""). It returns the server and the secret file's path.
func startCookieServer(t *testing.T, table, secrets string) (*server, string) {
	t.Helper()
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "cookie.secrets")
	if secrets != "" {
		writeSecrets(t, secretFile, secrets)
	}
	cfg := writeFile(t, dir, "dnsrr.toml", fmt.Sprintf("zones = [%q]\n[cookies]\n%s\n", exampleZone(), table))
	return startServer(t, "-config", cfg, "-admin", ""), secretFile
}

// writeSecrets replaces the secret file by rename, readable by its owner
// alone, as the README says to.
func writeSecrets(t *testing.T, path, secrets string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(secrets), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func signer(t *testing.T, current string, previous ...string) *cookie.Signer {
	t.Helper()
	cur, err := cookie.ParseSecret(current)
	if err != nil {
		t.Fatal(err)
	}
	var prev *cookie.Secret
	if len(previous) > 0 {
		p, err := cookie.ParseSecret(previous[0])
		if err != nil {
			t.Fatal(err)
		}
		prev = &p
	}
	return cookie.New(cur, prev)
}

// cookieQuery is an EDNS query carrying option as its COOKIE option.
func cookieQuery(option []byte) *dns.Msg {
	m := newEDNSQuery(cookieQname, dns.TypeA, 1232)
	opt := m.IsEdns0()
	opt.Option = append(opt.Option, &dns.EDNS0_LOCAL{Code: dns.EDNS0COOKIE, Data: option})
	return m
}

// replyCookie returns the COOKIE option of r, or nil.
func replyCookie(t testing.TB, r *dns.Msg) []byte {
	t.Helper()
	opt := r.IsEdns0()
	if opt == nil {
		return nil
	}
	for _, o := range opt.Option {
		if c, ok := o.(*dns.EDNS0_COOKIE); ok {
			b, err := hex.DecodeString(c.Cookie)
			if err != nil {
				t.Fatalf("COOKIE option %q: %v", c.Cookie, err)
			}
			return b
		}
	}
	return nil
}

// hostAddr is the loopback address of a listen address: the address the
// server sees our queries come from, which its cookies are bound to.
func hostAddr(t testing.TB, addr string) netip.Addr {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return ap.Addr()
}

// requireCookies fails the test when a query with a client cookie gets
// no COOKIE option back.
func requireCookies(t *testing.T, s *server) {
	t.Helper()
	r := exchange(t, "udp", s.addrs[0], cookieQuery(clientCookie))
	if replyCookie(t, r) == nil {
		t.Fatal("the server returned no COOKIE option to a query with a client cookie")
	}
}

// checkAnswer fails unless r is a full answer to cookieQuery carrying our
// client cookie and a 16-byte server cookie valid under sg for from; it
// returns that server cookie.
func checkAnswer(t testing.TB, r *dns.Msg, sg *cookie.Signer, from netip.Addr) []byte {
	t.Helper()
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		t.Fatalf("reply %s with %d answers, want NOERROR with the pool:\n%v", dns.RcodeToString[r.Rcode], len(r.Answer), r)
	}
	c := replyCookie(t, r)
	if len(c) != cookie.ClientLen+cookie.ServerLen || !bytes.Equal(c[:cookie.ClientLen], clientCookie) {
		t.Fatalf("COOKIE %x: want our client cookie %x and a 16-byte server cookie", c, clientCookie)
	}
	server := c[cookie.ClientLen:]
	if !sg.Valid(clientCookie, server, from, time.Now()) {
		t.Fatalf("server cookie %x is not valid for %v under the configured secret", server, from)
	}
	return server
}

// TestCookies checks DNS cookies (RFC 7873, RFC 9018) on every transport
// and address: the server cookie handed out, taken back, refreshed, a
// wrong one replaced, malformed options refused with FORMERR.
func TestCookies(t *testing.T) {
	t.Parallel()
	s, _ := startCookieServer(t, `secret_file = "cookie.secrets"`, cookieSecret+"\n")
	requireCookies(t, s)
	sg := signer(t, cookieSecret)
	for _, ep := range s.endpoints() {
		t.Run(ep.String(), func(t *testing.T) {
			t.Parallel()
			from := hostAddr(t, ep.addr)
			ask := func(option []byte) *dns.Msg { return exchange(t, ep.net, ep.addr, cookieQuery(option)) }

			// A client cookie alone: it comes back with a server cookie.
			server := checkAnswer(t, ask(clientCookie), sg, from)

			// Sent back, it is valid, and the answer carries a fresh one
			// (same client cookie, a timestamp no older).
			again := checkAnswer(t, ask(append(bytes.Clone(clientCookie), server...)), sg, from)
			if bytes.Compare(again[4:8], server[4:8]) < 0 {
				t.Errorf("the refreshed cookie %x is older than %x", again, server)
			}

			// A wrong server cookie of the right length is no error
			// (RFC 7873 §5.2.3): a normal answer with a fresh cookie.
			wrong := bytes.Clone(server)
			for i := 8; i < len(wrong); i++ {
				wrong[i] ^= 0xff
			}
			if fresh := checkAnswer(t, ask(append(bytes.Clone(clientCookie), wrong...)), sg, from); bytes.Equal(fresh, wrong) {
				t.Error("the wrong server cookie was echoed")
			}

			// Legal server cookies of other servers (8 and 32 bytes) are
			// not ours: replaced like a wrong one.
			for _, n := range []int{cookie.MinServerLen, cookie.MaxServerLen} {
				option := append(bytes.Clone(clientCookie), bytes.Repeat([]byte{0x01}, n)...)
				checkAnswer(t, ask(option), sg, from)
			}

			// Malformed options (RFC 7873 §5.2.2): FORMERR, with an OPT.
			for _, n := range []int{7, 9, 15, 41} {
				r := ask(bytes.Repeat([]byte{0x5a}, n))
				if r.Rcode != dns.RcodeFormatError || r.IsEdns0() == nil || len(r.Answer) != 0 {
					t.Errorf("COOKIE of %d bytes: rcode %s, OPT %v, %d answers; want FORMERR with an OPT",
						n, dns.RcodeToString[r.Rcode], r.IsEdns0() != nil, len(r.Answer))
				}
			}
		})
	}
}

// cookieLine finds the COOKIE option in dig's or kdig's output; both print
// it as hex after "COOKIE:".
var cookieLine = regexp.MustCompile(`COOKIE: *([0-9A-Fa-f]+)`)

// TestCookiesDigKdig runs dig +cookie and kdig +cookie, as an operator
// would: the first query learns a server cookie, the second sends it back.
func TestCookiesDigKdig(t *testing.T) {
	t.Parallel()
	s, _ := startCookieServer(t, `secret_file = "cookie.secrets"`, cookieSecret+"\n")
	requireCookies(t, s)
	sg := signer(t, cookieSecret)
	for _, tool := range []string{"dig", "kdig"} {
		bin, err := exec.LookPath(tool)
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not on PATH in CI (.ci/run installs it)", tool)
			}
			t.Logf("%s not on PATH: skipped", tool)
			continue
		}
		for _, ep := range s.endpoints() {
			t.Run(tool+"/"+ep.String(), func(t *testing.T) {
				t.Parallel()
				host, port, _ := net.SplitHostPort(ep.addr)
				run := func(cookieArg string) []byte {
					// +time and +tries (dig) or +retry (kdig) bound the tool.
					tries := "+tries=1"
					if tool == "kdig" {
						tries = "+retry=0"
					}
					argv := []string{"@" + host, "-p", port, "+norec", "+time=3", tries, cookieArg, cookieQname, "A"}
					if ep.net == "tcp" {
						argv = append(argv, "+tcp")
					}
					ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
					defer cancel()
					out, err := exec.CommandContext(ctx, bin, argv...).CombinedOutput()
					t.Logf("%s %s\n%s", tool, strings.Join(argv, " "), out)
					if err != nil {
						t.Fatalf("%s: %v", tool, err)
					}
					if !strings.Contains(string(out), "NOERROR") {
						t.Fatal("no NOERROR answer")
					}
					m := cookieLine.FindSubmatch(out)
					if m == nil {
						t.Fatal("no COOKIE in the reply")
					}
					c, err := hex.DecodeString(string(m[1]))
					if err != nil || len(c) != cookie.ClientLen+cookie.ServerLen {
						t.Fatalf("COOKIE %s: want 8 + 16 bytes", m[1])
					}
					if !sg.Valid(c[:cookie.ClientLen], c[cookie.ClientLen:], hostAddr(t, ep.addr), time.Now()) {
						t.Fatalf("server cookie of %s is not valid", m[1])
					}
					return c
				}
				learned := run("+cookie")
				again := run("+cookie=" + hex.EncodeToString(learned))
				if !bytes.Equal(again[:cookie.ClientLen], learned[:cookie.ClientLen]) {
					t.Errorf("client cookie %x came back as %x", learned[:cookie.ClientLen], again[:cookie.ClientLen])
				}
			})
		}
	}
}

// TestCookiesRotation rotates the secret as the README says: the new
// secret first, the old one second, SIGHUP. Cookies made before stay
// valid, and fresh ones come from the new secret.
func TestCookiesRotation(t *testing.T) {
	t.Parallel()
	s, secretFile := startCookieServer(t, `secret_file = "cookie.secrets"`, cookieSecret+"\n")
	requireCookies(t, s)
	before := map[endpoint][]byte{}
	for _, ep := range s.endpoints() {
		r := exchange(t, ep.net, ep.addr, cookieQuery(clientCookie))
		before[ep] = checkAnswer(t, r, signer(t, cookieSecret), hostAddr(t, ep.addr))
	}

	writeSecrets(t, secretFile, "# rotated\n"+cookieSecretNew+"\n"+cookieSecret+"\n")
	mark := s.logMark()
	s.signal(syscall.SIGHUP)
	line, ok := s.waitLog(mark, pollTimeout, func(l logLine) bool {
		return l.message() == "reload applied" || strings.HasPrefix(l.message(), "reload failed")
	})
	if !ok || line.message() != "reload applied" {
		t.Fatalf("no \"reload applied\" after SIGHUP (got %q)", line.raw)
	}

	rotated := signer(t, cookieSecretNew, cookieSecret)
	newOnly := signer(t, cookieSecretNew)
	for _, ep := range s.endpoints() {
		from := hostAddr(t, ep.addr)
		old := before[ep]
		if !rotated.Valid(clientCookie, old, from, time.Now()) {
			t.Errorf("%v: the cookie made before the rotation is not valid under the rotated secrets", ep)
		}
		// Sent back, it gets an answer and a fresh cookie of the new
		// secret alone.
		r := exchange(t, ep.net, ep.addr, cookieQuery(append(bytes.Clone(clientCookie), old...)))
		checkAnswer(t, r, newOnly, from)
	}
}

// TestCookiesDisabled: with enabled = false, the option is ignored.
func TestCookiesDisabled(t *testing.T) {
	t.Parallel()
	on, _ := startCookieServer(t, "", "")
	requireCookies(t, on) // the random secret of a server without secret_file
	s, _ := startCookieServer(t, "enabled = false", "")
	for _, ep := range s.endpoints() {
		for _, option := range [][]byte{clientCookie, bytes.Repeat([]byte{1}, 24)} {
			r := exchange(t, ep.net, ep.addr, cookieQuery(option))
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 || r.IsEdns0() == nil {
				t.Errorf("%v: %s with %d answers, want NOERROR with OPT and the pool", ep, dns.RcodeToString[r.Rcode], len(r.Answer))
			}
			if c := replyCookie(t, r); c != nil {
				t.Errorf("%v: COOKIE %x in a reply with cookies off", ep, c)
			}
		}
	}
}
