package integration

// The control command (dnsrr status, drain, undrain, reload) against a
// running server, over a Unix socket and over TCP with a token; and the CH
// TXT status names, compared member by member with GET /status.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const controlToken = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"

// controlZone is a pool of three members checked over TCP (backends on 1
// and 3, none on 2: it is down) and a static pool.
func controlZone(l *lab) string {
	return checkTOML("tcp", "tcp", l.port, fast+"fall = 1\nrise = 1") +
		poolTOML("www", l.ips(1, 2, 3), `check = "tcp"`) +
		poolTOML("static", []string{"192.0.2.10", "192.0.2.11"}, "") +
		"\n[records.plain]\na = [\"198.51.100.1\"]\n"
}

// settle waits until /status shows members 1 and 3 up and 2 down.
func settleControl(t *testing.T, adm *admin, l *lab, www string) {
	t.Helper()
	adm.waitMember(www, l.ip(1), "up", func(m memberDoc) bool { return m.State == "up" })
	adm.waitMember(www, l.ip(3), "up", func(m memberDoc) bool { return m.State == "up" })
	adm.waitMember(www, l.ip(2), "down", func(m memberDoc) bool { return m.State == "down" })
}

// chStatus asks the CH TXT status name of pool and returns the records'
// strings, or the rcode when it is not NOERROR.
func chStatus(t *testing.T, network, addr, pool string) ([][]string, int) {
	t.Helper()
	q := newQuery("_status."+pool, dns.TypeTXT)
	q.Question[0].Qclass = dns.ClassCHAOS
	r := exchange(t, network, addr, q)
	var out [][]string
	for _, rr := range r.Answer {
		txt, ok := rr.(*dns.TXT)
		if !ok || txt.Hdr.Class != dns.ClassCHAOS {
			t.Fatalf("answer %v: want CH TXT", rr)
		}
		out = append(out, txt.Txt)
	}
	return out, r.Rcode
}

// txtFields reads one status record: the key=value fields of its first
// string, and last_error from the strings after it, joined.
func txtFields(t *testing.T, strs []string) map[string]string {
	t.Helper()
	f := map[string]string{}
	for _, kv := range strings.Fields(strs[0]) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("field %q of %q is not key=value", kv, strs)
		}
		f[k] = v
	}
	if len(strs) > 1 {
		joined := strings.Join(strs[1:], "")
		v, ok := strings.CutPrefix(joined, "last_error=")
		if !ok {
			t.Fatalf("strings after the first of %q: want last_error=...", strs)
		}
		// miekg/dns gives TXT strings in presentation form.
		f["last_error"] = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(v)
	}
	return f
}

// memberTXT is a /status member as its status record must read.
func memberTXT(m memberDoc) map[string]string {
	yes := map[bool]string{true: "yes", false: "no"}
	f := map[string]string{"addr": m.Address, "state": m.State, "drained": yes[m.Drained], "served": yes[m.Serving]}
	if m.Since != nil {
		f["since"] = m.Since.UTC().Format(time.RFC3339)
	}
	if m.DrainUntil != nil {
		f["drain_until"] = m.DrainUntil.UTC().Format(time.RFC3339)
	}
	if m.LastError != "" {
		f["last_error"] = m.LastError
	}
	return f
}

// compareStatus reports how the TXT records of a pool differ from its
// members in /status ("" when they agree, member by member, in order).
func compareStatus(t *testing.T, txt [][]string, p poolDoc) string {
	if len(txt) != len(p.Members) {
		return fmt.Sprintf("%d TXT records, %d members in /status", len(txt), len(p.Members))
	}
	for i, m := range p.Members {
		got, want := txtFields(t, txt[i]), memberTXT(m)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Sprintf("member %d: TXT %v, /status %v", i, got, want)
		}
	}
	return ""
}

// TestControlStatusTXT: dig CH TXT _status.<pool> says, member by member,
// what GET /status says (state, since, drain, served, last error), over
// UDP and TCP; the label can be changed or turned off by a reload.
func TestControlStatusTXT(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.backend(1, kindTCP, nil, nil)
	l.backend(3, kindTCP, nil, nil)
	const org = "txt.control.test."
	s, adm, dir := startHealthServer(t, org, controlZone(l), "", "")
	www, static := "www."+org, "static."+org
	settleControl(t, adm, l, www)
	adm.drain(l.ip(3), "30m")
	adm.drain("192.0.2.11", "")
	adm.waitMember(www, l.ip(3), "drained", func(m memberDoc) bool { return m.Drained && !m.Serving })

	// The state is steady now; a probe may still land between the two
	// reads and move last_check, which neither shows: poll until equal.
	for _, pool := range []string{www, static} {
		for _, network := range []string{"udp", "tcp"} {
			deadline := time.Now().Add(healthWait)
			for {
				txt, rcode := chStatus(t, network, s.addr("4"), pool)
				if rcode != dns.RcodeSuccess {
					t.Fatalf("%s %s: %s", network, pool, dns.RcodeToString[rcode])
				}
				p, _ := adm.status().pool(pool)
				diff := compareStatus(t, txt, p)
				if diff == "" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s %s: TXT and /status differ: %s", network, pool, diff)
				}
				time.Sleep(pollInterval)
			}
		}
	}
	// The down member's error is there, as /status has it.
	txt, _ := chStatus(t, "udp", s.addr("4"), www)
	if f := txtFields(t, txt[1]); f["state"] != "down" || !strings.Contains(f["last_error"], "refused") {
		t.Errorf("down member: %v, want state=down and a connection refused error", f)
	}

	// The real dig shows it.
	if digPath, err := exec.LookPath("dig"); err == nil {
		host, port, _ := net.SplitHostPort(s.addr("4"))
		out, err := exec.Command(digPath, "@"+host, "-p", port, "+norec", "+tries=1", "+time=5", "CH", "TXT", "_status."+www).CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"addr=`+l.ip(1)+` state=up since=`) || !strings.Contains(string(out), "status: NOERROR") {
			t.Errorf("dig: %v\n%s", err, out)
		}
	}

	// An unknown pool is NXDOMAIN; another CH name REFUSED.
	if _, rcode := chStatus(t, "udp", s.addr("4"), "nope."+org); rcode != dns.RcodeNameError {
		t.Errorf("unknown pool: %s, want NXDOMAIN", dns.RcodeToString[rcode])
	}

	// status_label = "" turns the names off, on reload.
	writeHealthConfig(t, dir, `status_label = ""`, "")
	s.signal(syscall.SIGHUP)
	deadline := time.Now().Add(startTimeout)
	for {
		_, rcode := chStatus(t, "udp", s.addr("4"), www)
		if rcode == dns.RcodeRefused {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status_label = \"\" after a reload: %s, want REFUSED", dns.RcodeToString[rcode])
		}
		time.Sleep(pollInterval)
	}
	// The IN class never had the name.
	r := exchange(t, "udp", s.addr("4"), newQuery("_status."+www, dns.TypeTXT))
	if r.Rcode != dns.RcodeNameError || len(r.Answer) != 0 {
		t.Errorf("IN _status.%s: %s with %d answers, want NXDOMAIN", www, dns.RcodeToString[r.Rcode], len(r.Answer))
	}
}

// TestControlStatusTXTLargePool: a pool too large for a UDP answer is
// truncated, and TCP carries it whole.
func TestControlStatusTXTLargePool(t *testing.T) {
	t.Parallel()
	var addrs []string
	for i := range 300 {
		addrs = append(addrs, fmt.Sprintf("10.9.%d.%d", i/250, i%250+1))
	}
	const org = "big.control.test."
	s, _, _ := startHealthServer(t, org, poolTOML("www", addrs, ""), "", "")
	q := newEDNSQuery("_status.www."+org, dns.TypeTXT, 1232)
	q.Question[0].Qclass = dns.ClassCHAOS
	r := exchange(t, "udp", s.addr("4"), q)
	if !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("UDP: TC %v with %d answers, want TC and none", r.Truncated, len(r.Answer))
	}
	r = exchange(t, "tcp", s.addr("4"), q)
	if r.Truncated || len(r.Answer) != len(addrs) {
		t.Errorf("TCP: TC %v with %d answers, want %d", r.Truncated, len(r.Answer), len(addrs))
	}
}

// controlServer is a running server and the flags that reach its admin API.
type controlServer struct {
	s     *server
	adm   *admin // plain HTTP client, for comparing
	dir   string
	flags []string
	lab   *lab
}

// startControlServer starts the control zone's server with the admin API
// on a Unix socket (found from -config alone) or on TCP with a token
// (-admin and the token from -config).
func startControlServer(t *testing.T, org string, unix bool) *controlServer {
	t.Helper()
	l := newLab(t)
	l.backend(1, kindTCP, nil, nil)
	l.backend(3, kindTCP, nil, nil)
	dir := t.TempDir()
	writeFile(t, dir, "zone.toml", testZoneHeader(org)+controlZone(l))
	writeFile(t, dir, "admin.token", controlToken+"\n")
	// One pool per /status response: the command must page (after=).
	health := `admin_token_file = "admin.token"
status_listen = "127.0.0.1:0"
status_max_pools = 1`
	if unix {
		health = `admin = "unix:admin.sock"`
	}
	cfg := writeHealthConfig(t, dir, health, "")
	if unix {
		// writeHealthConfig's admin line comes first: drop it.
		body := strings.Replace(readFile(t, cfg), "admin = \"127.0.0.1:0\"\n", "", 1)
		cfg = writeFile(t, dir, "dnsrr.toml", body)
	}
	s := startServer(t, "-config", cfg)
	c := &controlServer{s: s, dir: dir, flags: []string{"-config", cfg}, lab: l}
	line, _ := s.waitLog(0, startTimeout, func(l logLine) bool { return l.message() == "serving" })
	if unix {
		if got := line.str("admin"); got != "unix:"+filepath.Join(dir, "admin.sock") {
			t.Fatalf("admin = %q, want the socket in %s", got, dir)
		}
	} else {
		c.flags = append(c.flags, "-admin", line.str("admin"))
		c.adm = &admin{t: t, base: "http://" + line.str("status")} // read-only, no token
	}
	return c
}

// run runs `dnsrr CMD FLAGS ARGS...`.
func (c *controlServer) run(t *testing.T, cmd string, args ...string) (string, string, int) {
	t.Helper()
	return runDNSRR(t, append(append([]string{cmd}, c.flags...), args...)...)
}

// TestControlCommands: status, drain -for, undrain, with and without
// -json, over a Unix socket and over TCP with a token (and one pool per
// /status page, so that status pages); errors exit nonzero with the
// server's message.
func TestControlCommands(t *testing.T) {
	t.Parallel()
	for _, unix := range []bool{true, false} {
		name := map[bool]string{true: "unix", false: "tcp-token"}[unix]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			org := name + ".control.test."
			c := startControlServer(t, org, unix)
			www := "www." + org
			l := c.lab

			// Wait for the probes through the command itself.
			deadline := time.Now().Add(healthWait)
			var status statusDoc
			for {
				out, _, code := c.run(t, "status", "-json", www)
				if code != 0 {
					t.Fatalf("status -json: exit %d", code)
				}
				status = statusDoc{}
				if err := json.Unmarshal([]byte(out), &status); err != nil {
					t.Fatalf("status -json: %v\n%s", err, out)
				}
				m2, _ := status.member(www, l.ip(2))
				m1, _ := status.member(www, l.ip(1))
				if m2.State == "down" && m1.State == "up" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("members not settled: %s", out)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if len(status.Pools) != 1 || status.Pools[0].Name != www || len(status.Pools[0].Members) != 3 {
				t.Errorf("status -json %s: %+v", www, status.Pools)
			}

			// The table: a header and a row per member of every pool.
			out, _, code := c.run(t, "status")
			if code != 0 || !regexp.MustCompile(`(?m)^POOL +ADDRESS +STATE +SINCE +SERVED +DRAINED +LAST ERROR$`).MatchString(out) {
				t.Fatalf("status: exit %d\n%s", code, out)
			}
			for _, want := range []string{
				`(?m)^` + regexp.QuoteMeta(www) + ` +` + regexp.QuoteMeta(l.ip(1)) + ` +up +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ +yes +no *$`,
				`(?m)^` + regexp.QuoteMeta(www) + ` +` + regexp.QuoteMeta(l.ip(2)) + ` +down +\S+ \S+ +no +no +.*refused`,
				`(?m)^static\.` + regexp.QuoteMeta(org) + ` +192\.0\.2\.10 +static +- +yes +no *$`,
			} {
				if !regexp.MustCompile(want).MatchString(out) {
					t.Errorf("status table lacks %s:\n%s", want, out)
				}
			}
			// -limit 1 lists one pool and says there are more.
			out, _, code = c.run(t, "status", "-limit", "1")
			if code != 0 || strings.Count(out, "\nstatic."+org) != 2 || strings.Contains(out, www) || !strings.Contains(out, "more pools after static."+org) {
				t.Errorf("status -limit 1: exit %d\n%s", code, out)
			}

			// drain ADDR -for 30m, then undrain.
			before := time.Now()
			out, _, code = c.run(t, "drain", l.ip(3), "-for", "30m")
			if code != 0 || !regexp.MustCompile(`^drained `+regexp.QuoteMeta(l.ip(3))+` until \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\n$`).MatchString(out) {
				t.Errorf("drain -for 30m: exit %d %q", code, out)
			}
			out, _, _ = c.run(t, "status", "-json", www)
			status = statusDoc{}
			_ = json.Unmarshal([]byte(out), &status)
			m, _ := status.member(www, l.ip(3))
			if !m.Drained || m.Serving || m.DrainUntil == nil || m.DrainUntil.Before(before.Add(29*time.Minute)) || m.DrainUntil.After(time.Now().Add(31*time.Minute)) {
				t.Errorf("after drain -for 30m: %v", m)
			}
			out, _, code = c.run(t, "status")
			if !regexp.MustCompile(`(?m)^drained addresses:\n  ` + regexp.QuoteMeta(l.ip(3)) + ` until \d{4}`).MatchString(out) {
				t.Errorf("status after drain: exit %d\n%s", code, out)
			}
			out, _, code = c.run(t, "drain", "-json", l.ip(1))
			var d drainDoc
			if code != 0 || json.Unmarshal([]byte(out), &d) != nil || d.Address != l.ip(1) || d.Until != nil {
				t.Errorf("drain -json: exit %d %q", code, out)
			}
			for _, a := range []string{l.ip(3), l.ip(1)} {
				if out, _, code = c.run(t, "undrain", a); code != 0 || out != "undrained "+a+"\n" {
					t.Errorf("undrain %s: exit %d %q", a, code, out)
				}
			}

			// Errors: the server's message, exit 1 (2 for bad arguments).
			for _, tc := range []struct {
				args []string
				code int
				msg  string
			}{
				{[]string{"undrain", l.ip(3)}, 1, "not drained"},
				{[]string{"drain", "192.0.2.99"}, 1, "is in no pool of the zones loaded"},
				{[]string{"status", "nope." + org}, 1, `pool="nope.` + org + `": no such pool`},
				{[]string{"drain", l.ip(1), "-for", "soon"}, 2, `for="soon"`},
				{[]string{"drain", "not-an-ip"}, 2, `"not-an-ip" is not an IP address`},
				{[]string{"drain"}, 2, "wrong number of arguments"},
			} {
				_, errOut, code := c.run(t, tc.args[0], tc.args[1:]...)
				if code != tc.code || !strings.Contains(errOut, tc.msg) {
					t.Errorf("%v: exit %d %q, want %d and %q", tc.args, code, errOut, tc.code, tc.msg)
				}
			}
			if !unix {
				// A wrong token, and none.
				bad := writeFile(t, c.dir, "bad.token", strings.Repeat("0", 40))
				_, errOut, code := runDNSRR(t, "status", "-admin", c.flags[3], "-token-file", bad)
				if code != 1 || !strings.Contains(errOut, "refused the token") {
					t.Errorf("wrong token: exit %d %q", code, errOut)
				}
				_, errOut, code = runDNSRR(t, "drain", "-admin", c.flags[3], l.ip(1))
				if code != 1 || !strings.Contains(errOut, "refused the token") {
					t.Errorf("no token: exit %d %q", code, errOut)
				}
				// The environment names the address and the token file.
				cmd := exec.Command(binPath, "status", www)
				cmd.Env = append(os.Environ(), "DNSRR_ADMIN="+c.flags[3], "DNSRR_ADMIN_TOKEN_FILE="+filepath.Join(c.dir, "admin.token"))
				if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), l.ip(2)) {
					t.Errorf("status with DNSRR_ADMIN and DNSRR_ADMIN_TOKEN_FILE: %v\n%s", err, out)
				}
				// The read-only listener refuses changes.
				if code, body, _ := c.adm.do(http.MethodPost, "/reload"); code != http.StatusForbidden {
					t.Errorf("POST /reload on status_listen: %d %s, want 403", code, body)
				}
			}
		})
	}
}

// TestControlNotRunning: no server at the address is exit 3 and says so.
func TestControlNotRunning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, addr := range []string{"unix:" + filepath.Join(dir, "none.sock"), freeTCPAddr(t)} {
		_, errOut, code := runDNSRR(t, "status", "-admin", addr)
		if code != 3 || !strings.Contains(errOut, "is dnsrr running") {
			t.Errorf("status -admin %s: exit %d %q, want 3 and a hint", addr, code, errOut)
		}
	}
	// The environment names the address when no flag does.
	cmd := exec.Command(binPath, "reload")
	cmd.Env = append(os.Environ(), "DNSRR_ADMIN=unix:"+filepath.Join(dir, "env.sock"))
	out, err := cmd.CombinedOutput()
	if exitCode(err) != 3 || !strings.Contains(string(out), "env.sock") {
		t.Errorf("DNSRR_ADMIN: exit %d %q", exitCode(err), out)
	}
}

// freeTCPAddr is a loopback address nothing listens on (bound, then closed).
func freeTCPAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

// TestControlReload: `dnsrr reload` waits for the reload: a broken zone
// file gives its errors at file:line and exit 1 while the old zone keeps
// serving; a good change is served as soon as the command returns.
// Concurrent requests each get an outcome.
func TestControlReload(t *testing.T) {
	t.Parallel()
	c := startControlServer(t, "reload.control.test.", true)
	org := "reload.control.test."
	plain := "plain." + org
	dnsAddr := c.s.addr("4")
	zone := filepath.Join(c.dir, "zone.toml")
	good := readFile(t, zone)

	wantA := func(want string) {
		t.Helper()
		r := exchange(t, "udp", dnsAddr, newQuery(plain, dns.TypeA))
		if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != want {
			t.Errorf("%s A: %v, want %s", plain, r.Answer, want)
		}
	}

	// Nothing changed: applied, serials as before.
	out, _, code := c.run(t, "reload")
	if code != 0 || !strings.HasPrefix(out, "reload applied in ") || !strings.Contains(out, "no serial changed") {
		t.Errorf("reload of unchanged files: exit %d %q", code, out)
	}

	// A broken file: exit 1, the error at file:line, the old zone served.
	broken := strings.Replace(good, `a = ["198.51.100.1"]`, `a = ["198.51.100.2"]`+"\nbogus = 1", 1)
	broken = strings.Replace(broken, "serial = 1\n", "serial = 2\n", 1)
	writeFile(t, c.dir, "zone.toml", broken)
	line := strings.Count(broken[:strings.Index(broken, "bogus")], "\n") + 1
	out, errOut, code := c.run(t, "reload")
	wantErr := fmt.Sprintf("%s:%d: records.plain.bogus", zone, line)
	if code != 1 || !strings.HasPrefix(out, "reload failed") || !strings.Contains(out, "old version kept") || !strings.Contains(errOut, wantErr) {
		t.Errorf("reload of a broken file: exit %d\nstdout %q\nstderr %q\nwant the error %q", code, out, errOut, wantErr)
	}
	wantA("198.51.100.1")
	out, _, code = c.run(t, "reload", "-json")
	var res struct {
		Result string   `json:"result"`
		Errors []string `json:"errors"`
		Zones  []struct {
			Zone    string `json:"zone"`
			Serial  uint32 `json:"serial"`
			KeptOld bool   `json:"kept_old"`
		} `json:"zones"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 || res.Result != "failed" ||
		len(res.Errors) != 1 || !strings.Contains(res.Errors[0], wantErr) || len(res.Zones) != 1 || !res.Zones[0].KeptOld || res.Zones[0].Serial != 1 {
		t.Errorf("reload -json of a broken file: exit %d %v %+v\n%s", code, err, res, out)
	}

	// A broken configuration file: the command still reaches the server
	// (it reads the admin keys alone), whose reload reports the mistake.
	cfgPath := c.flags[1]
	cfgGood := readFile(t, cfgPath)
	writeFile(t, c.dir, "dnsrr.toml", cfgGood+"\n[log]\nlevel = \"loud\"\n")
	cfgLine := strings.Count(cfgGood, "\n") + 3
	out, errOut, code = c.run(t, "reload")
	wantErr = fmt.Sprintf("%s:%d: log.level:", cfgPath, cfgLine)
	if code != 1 || !strings.HasPrefix(out, "reload failed") || !strings.Contains(errOut, wantErr) {
		t.Errorf("reload with a broken configuration: exit %d\nstdout %q\nstderr %q\nwant %q", code, out, errOut, wantErr)
	}
	wantA("198.51.100.1")
	writeFile(t, c.dir, "dnsrr.toml", cfgGood)

	// A good change is served when the command returns: no polling.
	fixed := strings.Replace(broken, "\nbogus = 1", "", 1)
	writeFile(t, c.dir, "zone.toml", fixed)
	out, _, code = c.run(t, "reload")
	if code != 0 || !strings.Contains(out, org+" serial 1 -> 2") {
		t.Errorf("reload of a fixed file: exit %d %q", code, out)
	}
	wantA("198.51.100.2")

	// Concurrent requests coalesce, and each gets an outcome.
	var wg sync.WaitGroup
	results := make(chan string, 4)
	for range 4 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, binPath, append([]string{"reload"}, c.flags...)...)
			b, err := cmd.Output()
			results <- fmt.Sprintf("%d %s", exitCode(err), b)
		})
	}
	wg.Wait()
	close(results)
	for r := range results {
		if !strings.HasPrefix(r, "0 reload applied") {
			t.Errorf("concurrent reload: %q", r)
		}
	}
	// The log has a line per reload that ran: the two before, and one to
	// four for the four requests (as many as did not coalesce).
	if n := len(findLogLines(c.s, 0, "reload applied", nil)); n < 3 || n > 6 {
		t.Errorf("%d reloads applied for 6 successful requests", n)
	}
	{
		// Other methods are refused.
		sock := filepath.Join(c.dir, "admin.sock")
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			}}}
		resp, err := client.Get("http://localhost/reload")
		if err != nil || resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("GET /reload: %v %v", err, resp)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
}
