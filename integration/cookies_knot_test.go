package integration

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsrr/dnsrr/dnsrr/cookie"
)

// TestCookiesKnotInterop checks that dnsrr/cookie and Knot DNS's
// mod-cookies, sharing a secret, make the same server cookies (RFC 9018):
// Knot's cookies are valid for dnsrr/cookie, and Knot answers queries
// carrying ours as it answers its own. This is what lets servers of both
// kinds sit behind one anycast address. It needs knotd (Debian's knot,
// which CI installs); elsewhere, without it the test is skipped.
func TestCookiesKnotInterop(t *testing.T) {
	t.Parallel()
	knotd, err := exec.LookPath("knotd")
	switch {
	case err != nil && os.Getenv("CI") != "":
		t.Fatal("knotd not on PATH in CI (.ci/run installs knot)")
	case err != nil:
		t.Skip("knotd not on PATH (apt-get install knot)")
	}
	addr := startKnot(t, knotd)
	sg := signer(t, cookieSecret)
	from := hostAddr(t, addr)

	for _, network := range []string{"udp", "tcp"} {
		// A client cookie alone: Knot hands out its server cookie (with
		// BADCOOKIE or an answer, as its badcookie-slip has it).
		r := exchange(t, network, addr, cookieQuery(clientCookie))
		c := replyCookie(t, r)
		if len(c) != cookie.ClientLen+cookie.ServerLen || !bytes.Equal(c[:cookie.ClientLen], clientCookie) {
			t.Fatalf("%s: Knot's COOKIE %x: want our client cookie and 16 bytes", network, c)
		}
		if !sg.Valid(clientCookie, c[cookie.ClientLen:], from, time.Now()) {
			t.Errorf("%s: Knot's server cookie %x is not valid for dnsrr/cookie", network, c[cookie.ClientLen:])
		}
		if ours := sg.Append(nil, clientCookie, from, time.Now()); !bytes.Equal(ours[:4], c[8:12]) {
			t.Errorf("%s: Knot's cookie starts %x, ours %x: not version 1 with zero reserved bytes", network, c[8:12], ours[:4])
		}

		// Our server cookie: Knot takes it as its own and answers.
		ours := sg.Append(bytes.Clone(clientCookie), clientCookie, from, time.Now())
		r = exchange(t, network, addr, cookieQuery(ours))
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			t.Errorf("%s: Knot answered our cookie with %s and %d answers, want NOERROR and the record",
				network, dns.RcodeToString[r.Rcode], len(r.Answer))
		}
	}
}

// startKnot runs knotd with mod-cookies keyed by cookieSecret, serving a
// zone with cookieQname, on a free port of 127.0.0.1; it returns the
// address once knotd answers, and stops knotd by its PID at cleanup.
func startKnot(t *testing.T, knotd string) string {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "lb.example.test.zone", `$ORIGIN lb.example.test.
$TTL 300
@   SOA ns1 hostmaster 1 3600 900 1209600 60
@   NS  ns1
ns1 A   192.0.2.53
www A   192.0.2.10
`)
	conf := writeFile(t, dir, "knot.conf", fmt.Sprintf(`server:
    rundir: %[1]s
    listen: 127.0.0.1@%[2]d
database:
    storage: %[1]s/db
mod-cookies:
  - id: shared
    secret: 0x%[3]s
template:
  - id: default
    storage: %[1]s
    global-module: mod-cookies/shared
zone:
  - domain: lb.example.test
    file: lb.example.test.zone
log:
  - target: stderr
    any: warning
`, dir, port, cookieSecret))
	cmd := exec.Command(knotd, "-c", conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-done
		}
		t.Logf("knotd output:\n%s", out.String())
	})
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
	deadline := time.Now().Add(startTimeout)
	for {
		if _, err := tryExchange("udp", addr, newQuery(cookieQname, dns.TypeA)); err == nil {
			return addr
		}
		select {
		case <-done:
			t.Fatalf("knotd exited:\n%s", out.String())
		case <-time.After(pollInterval):
		}
		if time.Now().After(deadline) {
			t.Fatalf("knotd did not answer on %s within %v:\n%s", addr, startTimeout, out.String())
		}
	}
}

// freePort returns a port free for both UDP and TCP on 127.0.0.1 a moment
// ago (for a server, such as knotd, that cannot be told to pick one).
func freePort(t *testing.T) int {
	t.Helper()
	l, p := listenBoth(t)
	defer p.Close()
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
