package integration

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The key dnsrr and its secondaries share in these tests.
const (
	xfrKeyName = "xfr.key."
	xfrSecret  = "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs=" // 32 bytes
)

// secondaryWait bounds how long a secondary may take to pull a zone or to
// act on a NOTIFY: generous, for a loaded machine; the poll ends sooner.
const secondaryWait = 60 * time.Second

// xfrZone is a TOML zone with what a transfer must carry: pools (all
// members), a delegation with glue, a wildcard, a CNAME, MX and TXT.
func xfrZone(serial int, www []string) string {
	return fmt.Sprintf(`origin = "xfr.test."
ttl = 300
ns = ["ns1"]

[soa]
rname = "hostmaster"
serial = %d
refresh = 86400
retry = 86400
expire = 1209600
minimum = 60

[pools.www]
addresses = [%s]
ttl = 30

[pools.api]
addresses = ["2001:db8::1", "2001:db8::2", "2001:db8::3"]
ttl = 20

[pools."*.apps"]
addresses = ["192.0.2.80", "192.0.2.81"]

[records.ns1]
a = ["192.0.2.53"]

[records."@"]
mx = ["10 mail"]
txt = ["v=spf1 -all"]

[records.mail]
a = ["192.0.2.25"]

[records.alias]
cname = "www"

[records.kid]
ns = ["ns.kid"]

[records."ns.kid"]
a = ["192.0.2.99"]
`, serial, `"`+strings.Join(www, `", "`)+`"`)
}

// xfrMaster is a master-file zone transferred beside the TOML one.
const xfrMaster = `$ORIGIN master.xfr.test.
$TTL 300
@    SOA ns1.xfr.test. hostmaster.xfr.test. 7 86400 86400 1209600 60
@    NS  ns1.xfr.test.
pool 30 A 198.51.100.1
pool 30 A 198.51.100.2
pool 30 A 198.51.100.3
host AAAA 2001:db8::53
`

// xfrServer starts dnsrr with the two zones, letting 127.0.0.1 transfer
// with the key, and notifying notify (host:port, signed).
func xfrServer(t *testing.T, notify ...string) (s *server, dir string) {
	t.Helper()
	dir = t.TempDir()
	writeFile(t, dir, "zones/xfr.test.toml", xfrZone(1, []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"}))
	writeFile(t, dir, "zones/master.xfr.test.zone", xfrMaster)
	var targets []string
	for _, n := range notify {
		targets = append(targets, fmt.Sprintf("%q", n+" key "+xfrKeyName))
	}
	writeFile(t, dir, "dnsrr.toml", fmt.Sprintf(`zones = ["zones/*"]
[tsig_keys."%[1]s"]
secret = "%[2]s"
[transfer]
allow = ["127.0.0.1 key %[1]s"]
notify = [%[3]s]
[health]
admin = ""
`, xfrKeyName, xfrSecret, strings.Join(targets, ", ")))
	return startServer(t, "-config", filepath.Join(dir, "dnsrr.toml")), dir
}

// transferIn pulls zone from addr by AXFR, from the local address src,
// signed with the shared key when signed; refused transfers return the
// error.
func transferIn(t *testing.T, addr, src, zone string, signed bool) ([]dns.RR, error) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(zone, dns.TypeAXFR)
	tr := &dns.Transfer{ReadTimeout: secondaryWait}
	if signed {
		m.SetTsig(xfrKeyName, dns.HmacSHA256, 300, time.Now().Unix())
		tr.TsigSecret = map[string]string{xfrKeyName: xfrSecret}
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tr.Conn = &dns.Conn{Conn: c}
	env, err := tr.In(m, addr)
	if err != nil {
		return nil, err
	}
	var rrs []dns.RR
	for e := range env {
		if e.Error != nil {
			return nil, e.Error
		}
		rrs = append(rrs, e.RR...)
	}
	return rrs, nil
}

// rrStrings is rrs in presentation form, sorted, with the closing SOA of
// a transfer dropped.
func rrStrings(rrs []dns.RR) []string {
	var out []string
	for i, rr := range rrs {
		if i > 0 && rr.Header().Rrtype == dns.TypeSOA && i == len(rrs)-1 {
			continue
		}
		out = append(out, rr.String())
	}
	slices.Sort(out)
	return out
}

// secondary is NSD or Knot running as a secondary of dnsrr.
type secondary struct {
	name string
	addr string // 127.0.0.1:port
}

func TestTransferToNSDAndKnot(t *testing.T) {
	t.Parallel()
	nsd, nsdErr := exec.LookPath("nsd")
	knotd, knotErr := exec.LookPath("knotd")
	if nsdErr != nil || knotErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("nsd or knotd not on PATH in CI (.ci/run installs nsd and knot)")
		}
		t.Skip("nsd or knotd not on PATH (apt-get install nsd knot)")
	}
	nsdPort, knotPort := freePort(t), freePort(t)
	s, dir := xfrServer(t, fmt.Sprintf("127.0.0.1:%d", nsdPort), fmt.Sprintf("127.0.0.1:%d", knotPort))
	primary := s.addr("4")
	secondaries := []secondary{
		{"nsd", startNSDSecondary(t, nsd, nsdPort, primary)},
		{"knot", startKnotSecondary(t, knotd, knotPort, primary)},
	}
	zonesOf := []string{"xfr.test.", "master.xfr.test."}
	for _, sec := range secondaries {
		for _, z := range zonesOf {
			waitSerial(t, sec, z, map[string]uint32{"xfr.test.": 1, "master.xfr.test.": 7}[z])
		}
	}

	// The secondaries hold what dnsrr transfers, and answer as dnsrr does.
	for _, z := range zonesOf {
		ours, err := transferIn(t, primary, "127.0.0.1", z, true)
		if err != nil {
			t.Fatalf("AXFR %s from dnsrr: %v", z, err)
		}
		for _, sec := range secondaries {
			theirs, err := transferIn(t, sec.addr, "127.0.0.1", z, true)
			if err != nil {
				t.Fatalf("AXFR %s from %s: %v", z, sec.name, err)
			}
			if a, b := rrStrings(ours), rrStrings(theirs); !slices.Equal(a, b) {
				t.Errorf("%s: %s holds\n%s\ndnsrr transfers\n%s", z, sec.name, strings.Join(b, "\n"), strings.Join(a, "\n"))
			}
			compareAnswers(t, sec, primary, ours)
		}
	}
	www := exchange(t, "udp", secondaries[0].addr, newQuery("www.xfr.test.", dns.TypeA))
	if len(www.Answer) != 5 {
		t.Errorf("NSD answers www with %d addresses; want the pool's 5 (the static view)", len(www.Answer))
	}

	// A reload with a changed zone reaches both through NOTIFY: their
	// refresh timer (a day) cannot explain it.
	writeFile(t, dir, "zones/xfr.test.toml", xfrZone(2, []string{"192.0.2.1", "192.0.2.2", "192.0.2.6"}))
	mark := s.logMark()
	s.signal(syscall.SIGHUP)
	for _, sec := range secondaries {
		waitSerial(t, sec, "xfr.test.", 2)
		r := exchange(t, "udp", sec.addr, newQuery("www.xfr.test.", dns.TypeA))
		got := addrsOf(r.Answer)
		slices.Sort(got)
		if want := []string{"192.0.2.1", "192.0.2.2", "192.0.2.6"}; !slices.Equal(got, want) {
			t.Errorf("%s after NOTIFY: www is %v, want %v", sec.name, got, want)
		}
	}
	if _, ok := s.waitLog(mark, secondaryWait, func(l logLine) bool {
		return l.message() == "secondary acknowledged NOTIFY" && l.str("zone") == "xfr.test." && l.str("secondary") == secondaries[1].addr
	}); !ok {
		t.Error("no log line saying Knot acknowledged the NOTIFY")
	}

	// Refused: unsigned where the key is required, and signed from
	// outside the ACL.
	if rrs, err := transferIn(t, primary, "127.0.0.1", "xfr.test.", false); err == nil {
		t.Errorf("unsigned AXFR transferred %d records", len(rrs))
	}
	if rrs, err := transferIn(t, primary, "127.0.0.2", "xfr.test.", true); err == nil {
		t.Errorf("AXFR from 127.0.0.2 (outside the ACL) transferred %d records", len(rrs))
	}
	// As dig sees it: kdig with and without the key.
	if kdig, err := exec.LookPath("kdig"); err == nil {
		host, port, _ := net.SplitHostPort(primary)
		out, _ := exec.Command(kdig, "-p", port, "@"+host, "xfr.test.", "AXFR").CombinedOutput()
		if !bytes.Contains(out, []byte("REFUSED")) {
			t.Errorf("kdig AXFR without the key:\n%s\nwant REFUSED", out)
		}
		out, err = exec.Command(kdig, "-p", port, "@"+host, "-y", "hmac-sha256:"+xfrKeyName+":"+xfrSecret, "xfr.test.", "AXFR").CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("192.0.2.6")) || bytes.Contains(out, []byte("REFUSED")) {
			t.Errorf("kdig AXFR with the key: %v\n%s", err, out)
		}
	}
}

// compareAnswers asks the secondary and dnsrr every name and type of the
// transfer and compares the answers as sets (order is dnsrr's to shuffle).
func compareAnswers(t *testing.T, sec secondary, primary string, rrs []dns.RR) {
	t.Helper()
	type question struct {
		name  string
		qtype uint16
	}
	seen := map[question]bool{}
	for _, rr := range rrs {
		q := question{rr.Header().Name, rr.Header().Rrtype}
		if seen[q] {
			continue
		}
		seen[q] = true
		a := exchange(t, "tcp", sec.addr, newQuery(q.name, q.qtype))
		b := exchange(t, "tcp", primary, newQuery(q.name, q.qtype))
		sa, sb := rrStrings(a.Answer), rrStrings(b.Answer)
		if len(sa) == 0 && len(sb) == 0 {
			// A referral: compare the delegation.
			sa, sb = rrStrings(a.Ns), rrStrings(b.Ns)
		}
		if a.Rcode != b.Rcode || !slices.Equal(sa, sb) {
			t.Errorf("%s %s: %s says %s %v, dnsrr %s %v", q.name, dns.TypeToString[q.qtype], sec.name,
				dns.RcodeToString[a.Rcode], sa, dns.RcodeToString[b.Rcode], sb)
		}
	}
}

// waitSerial polls the secondary until it serves zone at serial.
func waitSerial(t *testing.T, sec secondary, zone string, serial uint32) {
	t.Helper()
	deadline := time.Now().Add(secondaryWait)
	var last string
	for time.Now().Before(deadline) {
		r, err := tryExchange("udp", sec.addr, newQuery(zone, dns.TypeSOA))
		if err == nil && len(r.Answer) == 1 {
			if soa, ok := r.Answer[0].(*dns.SOA); ok && soa.Serial == serial {
				return
			}
		}
		last = fmt.Sprint(r, err)
		time.Sleep(pollInterval)
	}
	t.Fatalf("%s does not serve %s at serial %d after %v; last:\n%s", sec.name, zone, serial, secondaryWait, last)
}

// runSecondary starts a secondary's command and stops it by PID at
// cleanup, printing its output.
func runSecondary(t *testing.T, name string, cmd *exec.Cmd) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
}

// startNSDSecondary runs NSD on 127.0.0.1:port as a secondary of primary
// for both zones, with the shared key for transfers and NOTIFY.
func startNSDSecondary(t *testing.T, nsd string, port int, primary string) string {
	t.Helper()
	dir := t.TempDir()
	host, pport, _ := net.SplitHostPort(primary)
	var zones strings.Builder
	for _, z := range []string{"xfr.test", "master.xfr.test"} {
		fmt.Fprintf(&zones, `zone:
    name: %[1]s
    zonefile: %[1]s.zone
    request-xfr: %[2]s@%[3]s %[4]s
    allow-notify: %[2]s %[4]s
    provide-xfr: 127.0.0.1 %[4]s
`, z, host, pport, xfrKeyName)
	}
	conf := writeFile(t, dir, "nsd.conf", fmt.Sprintf(`server:
    ip-address: 127.0.0.1@%[2]d
    zonesdir: %[1]s
    database: ""
    zonelistfile: %[1]s/zone.list
    xfrdfile: %[1]s/xfrd.state
    pidfile: %[1]s/nsd.pid
    username: ""
    chroot: ""
    logfile: %[1]s/nsd.log
    verbosity: 2
    xfrd-reload-timeout: 0
remote-control:
    control-enable: no
key:
    name: %[3]s
    algorithm: hmac-sha256
    secret: "%[4]s"
%[5]s`, dir, port, xfrKeyName, xfrSecret, zones.String()))
	runSecondary(t, "nsd", exec.Command(nsd, "-d", "-c", conf))
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "nsd.log"))
			t.Logf("nsd.log:\n%s", b)
		}
	})
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// startKnotSecondary runs knotd on 127.0.0.1:port as a secondary of
// primary for both zones. Its refresh timers come from the zones' SOA (a
// day): only a NOTIFY makes it look again soon.
func startKnotSecondary(t *testing.T, knotd string, port int, primary string) string {
	t.Helper()
	dir := t.TempDir()
	host, pport, _ := net.SplitHostPort(primary)
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := writeFile(t, dir, "knot.conf", fmt.Sprintf(`server:
    rundir: %[1]s
    listen: 127.0.0.1@%[2]d
database:
    storage: %[1]s/db
key:
  - id: %[5]s
    algorithm: hmac-sha256
    secret: %[6]s
remote:
  - id: dnsrr
    address: %[3]s@%[4]s
    key: %[5]s
acl:
  - id: from_dnsrr
    address: %[3]s
    key: %[5]s
    action: notify
  - id: to_tests
    address: 127.0.0.1
    key: %[5]s
    action: transfer
template:
  - id: default
    storage: %[1]s
    master: dnsrr
    acl: [from_dnsrr, to_tests]
    zonefile-sync: -1
    zonefile-load: none
    journal-content: none
zone:
  - domain: xfr.test
  - domain: master.xfr.test
log:
  - target: stderr
    any: info
`, dir, port, host, pport, xfrKeyName, xfrSecret))
	runSecondary(t, "knotd", exec.Command(knotd, "-c", conf))
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// TestTransferSerialNotRaised: with transfers configured, a reload that
// changes a zone but not its serial fails for that file, naming it, and
// the old content is still served: secondaries, which compare serials
// only, would never see the change. Raising the serial applies it.
func TestTransferSerialNotRaised(t *testing.T) {
	t.Parallel()
	s, dir := xfrServer(t)
	old := []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"}
	writeFile(t, dir, "zones/xfr.test.toml", xfrZone(1, []string{"192.0.2.9"}))
	mark := s.logMark()
	s.signal(syscall.SIGHUP)
	l, ok := s.waitLog(mark, pollTimeout, func(l logLine) bool {
		return l.message() == "reload failed, keeping old zones"
	})
	if !ok {
		t.Fatal("a reload that changed the zone under the same serial did not fail")
	}
	if !strings.Contains(l.raw, "xfr.test.toml:") || !strings.Contains(l.raw, "did not rise") {
		t.Errorf("the failure does not name the file and the serial: %s", l.raw)
	}
	pollAnswer(t, s.addr("4"), "www.xfr.test.", dns.TypeA, old)
	writeFile(t, dir, "zones/xfr.test.toml", xfrZone(2, []string{"192.0.2.9"}))
	s.signal(syscall.SIGHUP)
	pollAnswer(t, s.addr("4"), "www.xfr.test.", dns.TypeA, []string{"192.0.2.9"})
}
