package integration

// The admin API cannot be used to take dnsrr down or to change it without
// authority (issue 9): its connections are capped, state changes need the
// token when one is configured, only members can be drained and for a
// bounded time, and /status is paged.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// adminHold is how many connections the hold test keeps open: far more
// than the default cap ([health] admin_max_connections = 32).
const adminHold = 400

// fdCount is the number of open descriptors of process pid.
func fdCount(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(ents)
}

// adminZone is the body of a zone (after testZoneHeader) of pools static (192.0.2.1-3) and pN (N < pools).
func adminZone(pools int) string {
	var b strings.Builder
	b.WriteString(poolTOML("static", []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}, ""))
	for i := range pools {
		b.WriteString(poolTOML(fmt.Sprintf("p%02d", i), []string{fmt.Sprintf("198.51.100.%d", i+1), "198.51.100.200"}, ""))
	}
	return b.String()
}

// TestAdminHold holds hundreds of idle keep-alive connections (and
// connections that never send a request) to the admin API: DNS over UDP
// and TCP keeps answering, a fresh admin request is answered, and the
// server's descriptors stay near the cap, not the number held.
func TestAdminHold(t *testing.T) {
	t.Parallel()
	const org = "hold.admin.test."
	s, adm, _ := startHealthServer(t, org, adminZone(1), "", "")
	pid := s.cmd.Process.Pid
	before := fdCount(t, pid)
	host := strings.TrimPrefix(adm.base, "http://")

	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for i := range adminHold {
		if time.Now().After(deadline) {
			t.Fatalf("holding %d connections took over a minute", i)
		}
		c, err := net.DialTimeout("tcp", host, queryTimeout)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		held = append(held, c)
		if i%4 == 3 {
			continue // never sends a request: held before its headers
		}
		// A complete request, answered; the connection then stays open
		// and idle (keep-alive). At the cap the server may already have
		// closed it for a newer one: that is the point.
		_ = c.SetDeadline(time.Now().Add(queryTimeout))
		fmt.Fprintf(c, "GET /status HTTP/1.1\r\nHost: %s\r\n\r\n", host)
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		_ = c.SetDeadline(time.Time{})
	}
	during := fdCount(t, pid)
	t.Logf("descriptors: %d before, %d holding %d admin connections", before, during, adminHold)
	// The cap (32) plus a few being accepted and closed at that moment.
	if during > before+32+8 {
		t.Errorf("%d descriptors while %d admin connections are held (%d before): the cap of 32 does not hold", during, adminHold, before)
	}

	dnsAddr := s.addr("4")
	wantDNS(t, dnsAddr, "static."+org, dns.TypeA, served("192.0.2.1", "192.0.2.2", "192.0.2.3"))
	if d := adm.status(); len(d.Pools) != 2 {
		t.Errorf("fresh GET /status during the hold: %d pools, want 2", len(d.Pools))
	}
	adm.drain("192.0.2.2", "")
	waitDNS(t, dnsAddr, "static."+org, dns.TypeA, served("192.0.2.1", "192.0.2.3"))
	adm.undrain("192.0.2.2")
}

// TestAdminDrainBounds: only members are drained, timed drains are bounded
// by drain_max, and a drain until undrained stays allowed.
func TestAdminDrainBounds(t *testing.T) {
	t.Parallel()
	const org = "bounds.admin.test."
	s, adm, _ := startHealthServer(t, org, adminZone(1), `drain_max = "1h"`, "")
	cases := []struct {
		path string
		want int
		msg  string
	}{
		{"/drain?address=203.0.113.9", http.StatusNotFound, "in no pool"},
		{"/drain?address=203.0.113.9&for=1m", http.StatusNotFound, "in no pool"},
		{"/drain?address=192.0.2.1&for=8760h", http.StatusBadRequest, "drain_max"},
		{"/drain?address=192.0.2.1&for=61m", http.StatusBadRequest, "drain_max"},
	}
	for _, c := range cases {
		code, body, _ := adm.do(http.MethodPost, c.path)
		if code != c.want || !strings.Contains(string(body), c.msg) {
			t.Errorf("POST %s: %d %s, want %d saying %q", c.path, code, body, c.want, c.msg)
		}
	}
	if d := adm.status().Drains; len(d) != 0 {
		t.Errorf("drains after refused requests: %+v", d)
	}
	adm.drain("192.0.2.1", "1h")
	adm.drain("198.51.100.200", "")
	waitDNS(t, s.addr("4"), "static."+org, dns.TypeA, served("192.0.2.2", "192.0.2.3"))
}

// TestAdminToken: with admin_token_file set, every request to the admin
// address needs the token (checked end to end on loopback);
// status_listen serves /status without it and refuses drains.
func TestAdminToken(t *testing.T) {
	t.Parallel()
	const org = "token.admin.test."
	const token = "c2f8a1d4e7b04f6a9d3c5e8b1a7f2d40"
	dir := t.TempDir()
	writeFile(t, dir, "token", token+"\n")
	s, adm, _ := startHealthServer(t, org, adminZone(1),
		"admin_token_file = \""+filepath.Join(dir, "token")+"\"\nstatus_listen = \"127.0.0.1:0\"", "")
	line, _ := s.waitLog(0, startTimeout, func(l logLine) bool { return l.message() == "serving" })
	status := &admin{t: t, base: "http://" + line.str("status")}
	if line.str("status") == "" {
		t.Fatalf("serving line has no status address: %s", line.raw)
	}

	send := func(base, method, path, auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := adminClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	cases := []struct {
		base, method, path, auth string
		want                     int
	}{
		{adm.base, "POST", "/drain?address=192.0.2.1", "", http.StatusUnauthorized},
		{adm.base, "POST", "/drain?address=192.0.2.1", "Bearer wrong", http.StatusUnauthorized},
		{adm.base, "GET", "/status", "", http.StatusUnauthorized},
		{adm.base, "POST", "/drain?address=192.0.2.1", "Bearer " + token, http.StatusOK},
		{adm.base, "GET", "/status", "Bearer " + token, http.StatusOK},
		{status.base, "GET", "/status", "", http.StatusOK},
		{status.base, "DELETE", "/drain?address=192.0.2.1", "", http.StatusForbidden},
		{status.base, "POST", "/drain?address=192.0.2.2", "Bearer " + token, http.StatusForbidden},
		{adm.base, "DELETE", "/drain?address=192.0.2.1", "Bearer " + token, http.StatusOK},
	}
	for _, c := range cases {
		if code, body := send(c.base, c.method, c.path, c.auth); code != c.want {
			t.Errorf("%s %s%s (Authorization %q): %d %s, want %d", c.method, c.base, c.path, c.auth, code, body, c.want)
		}
	}
	if d := status.status().Drains; len(d) != 0 {
		t.Errorf("drains: %+v, want none", d)
	}
}

// TestAdminFlag: -admin "" turns the API off, -admin ADDR moves it, and an
// address off loopback without a token is a configuration error.
func TestAdminFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const org = "flag.admin.test."
	writeFile(t, dir, "zone.toml", testZoneHeader(org)+adminZone(1))
	cfg := writeHealthConfig(t, dir, "", "")

	s := startServer(t, "-config", cfg, "-admin", "")
	line, _ := s.waitLog(0, startTimeout, func(l logLine) bool { return l.message() == "serving" })
	if _, ok := line.fields["admin"]; ok {
		t.Errorf("-admin \"\": the serving line still names an admin API: %s", line.raw)
	}

	s2 := startServer(t, "-config", cfg, "-admin", "127.0.0.1:0")
	adminOf(t, s2).status()

	_, out, code := runDNSRR(t, "serve", "-config", cfg, "-admin", "192.0.2.1:8053")
	if code != 1 || !strings.Contains(out, "not a loopback address") || !strings.Contains(out, "admin_token_file") {
		t.Errorf("-admin 192.0.2.1:8053 without a token: exit %d, %s; want exit 1 naming admin_token_file", code, out)
	}
}

// TestAdminStatusPages pages through /status with limit and after, and
// filters it by pool and by address.
func TestAdminStatusPages(t *testing.T) {
	t.Parallel()
	const org = "pages.admin.test."
	_, adm, _ := startHealthServer(t, org, adminZone(24), "status_max_pools = 10", "")
	type page struct {
		statusDoc
		Truncated bool   `json:"truncated"`
		Next      string `json:"next"`
	}
	get := func(path string) page {
		t.Helper()
		code, body, _ := adm.do(http.MethodGet, path)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
		var p page
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return p
	}
	var names []string
	after := ""
	for range 10 {
		p := get("/status?after=" + after)
		if len(p.Pools) > 10 {
			t.Errorf("a page of %d pools, want at most status_max_pools 10", len(p.Pools))
		}
		for _, pool := range p.Pools {
			names = append(names, pool.Name)
		}
		if !p.Truncated {
			break
		}
		after = p.Next
	}
	if len(names) != 25 || names[0] != "p00."+org || names[24] != "static."+org {
		t.Errorf("paged through %d pools %v, want p00..p23 and static", len(names), names)
	}
	if p := get("/status?limit=3"); len(p.Pools) != 3 || !p.Truncated || p.Next != "p02."+org {
		t.Errorf("limit=3: %d pools, truncated %v, next %q", len(p.Pools), p.Truncated, p.Next)
	}
	if p := get("/status?pool=p07." + org); len(p.Pools) != 1 || p.Pools[0].Name != "p07."+org || p.Truncated {
		t.Errorf("pool=p07: %+v", p.Pools)
	}
	if p := get("/status?pool=P07." + strings.TrimSuffix(org, ".")); len(p.Pools) != 1 {
		t.Errorf("pool=P07 without the final dot: %d pools, want 1", len(p.Pools))
	}
	if p := get("/status?address=198.51.100.200&limit=5"); len(p.Pools) != 5 || !p.Truncated {
		t.Errorf("address=198.51.100.200&limit=5: %d pools, truncated %v", len(p.Pools), p.Truncated)
	}
	for path, want := range map[string]int{
		"/status?limit=11":            http.StatusBadRequest,
		"/status?pool=nope." + org:    http.StatusNotFound,
		"/status?address=not-an-addr": http.StatusBadRequest,
	} {
		if code, body, _ := adm.do(http.MethodGet, path); code != want {
			t.Errorf("GET %s: %d %s, want %d", path, code, body, want)
		}
	}
}

// TestAdminUnixSocket: admin = "unix:PATH" serves the API on a socket of
// mode 0660 (the file mode is the authority: no Host checks, no token
// needed), and removes it on shutdown.
func TestAdminUnixSocket(t *testing.T) {
	t.Parallel()
	const org = "unix.admin.test."
	dir := t.TempDir()
	writeFile(t, dir, "zone.toml", testZoneHeader(org)+adminZone(1))
	cfg := writeFile(t, dir, "dnsrr.toml", "zones = [\"zone.toml\"]\n[health]\nadmin = \"unix:admin.sock\"\n")
	s := startServer(t, "-config", cfg)
	sock := filepath.Join(dir, "admin.sock")
	line, _ := s.waitLog(0, startTimeout, func(l logLine) bool { return l.message() == "serving" })
	if got := line.str("admin"); got != "unix:"+sock {
		t.Errorf("serving line: admin = %q, want unix:%s", got, sock)
	}
	if st, err := os.Stat(sock); err != nil || st.Mode().Perm() != 0o660 {
		t.Fatalf("socket %s: mode %v, %v; want 0660", sock, st.Mode(), err)
	}
	client := &http.Client{Timeout: queryTimeout, Transport: &http.Transport{
		Proxy:             nil,
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	post := func(path string) int {
		t.Helper()
		resp, err := client.Post("http://dnsrr"+path, "", nil)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("/drain?address=203.0.113.9"); code != http.StatusNotFound {
		t.Errorf("drain of a non-member over the socket: %d, want 404", code)
	}
	if code := post("/drain?address=192.0.2.2"); code != http.StatusOK {
		t.Errorf("drain over the socket: %d, want 200", code)
	}
	waitDNS(t, s.addr("4"), "static."+org, dns.TypeA, served("192.0.2.1", "192.0.2.3"))
	if code, stopped := s.stop(); !stopped || code != 0 {
		t.Fatalf("stop: exit %d", code)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("the socket is left after shutdown: %v", err)
	}
}
