package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// A delegation chain on loopback, inside a network namespace of its own
// (netns_linux_test.go): a fake root zone served by NSD delegates
// lb.example.test. to dnsrr, and recursive resolvers (Unbound, BIND,
// Knot Resolver), each with its own cache, find dnsrr through it from
// their root hints alone, as they would on the internet.
const (
	chainOrigin = "lb.example.test."
	rootAddr    = "127.0.0.2" // the root server, port 53; dnsrr is 127.0.0.1:53 and [::1]:53
	// resolverStartTimeout bounds a resolver's start until it resolves a
	// name through the chain; named takes a few seconds on a busy machine.
	resolverStartTimeout = 30 * time.Second
	// fetchTimeout bounds the wait for a resolver's cached answer to expire
	// and be fetched again (its TTL is a few seconds).
	fetchTimeout = 30 * time.Second
)

// orderBehaviour is what a resolver does to the order of a cached RRset
// when it answers from its cache.
type orderBehaviour int

const (
	rotates     orderBehaviour = iota // rotations of the order it fetched
	keeps                             // the order it fetched, unchanged
	shuffles                          // a fresh random order per answer
	sortRotates                       // rotations of the records in sorted order
	sorts                             // the records in sorted order
)

var behaviourNames = [...]string{
	rotates:     "rotations of the order fetched",
	keeps:       "the order fetched, until the TTL ends",
	shuffles:    "a fresh random order per answer",
	sortRotates: "rotations of the sorted order",
	sorts:       "sorted, lowest address first",
}

func (b orderBehaviour) String() string { return behaviourNames[b] }

// resolverKind is a recursive resolver and the settings it runs with.
type resolverKind struct {
	name      string // as the report prints it
	program   string
	pkg       string // the Debian package that has program
	setting   string // what differs from the program's defaults, for the report
	behaviour orderBehaviour
	// config writes the resolver's files into dir and returns its argv,
	// listening on 127.0.0.1:port, resolving from the hints file, and
	// sending its queries from the address source, over IPv4 only.
	config func(t *testing.T, dir, hints string, port int, source string) []string
}

var resolverKinds = []resolverKind{
	{"unbound", "unbound", "unbound", "defaults (rrset-roundrobin: yes)", rotates, unboundConfig("yes")},
	{"unbound-fixed", "unbound", "unbound", "rrset-roundrobin: no", keeps, unboundConfig("no")},
	{"named", "named", "bind9", "defaults", shuffles, namedConfig},
	{"kresd", "kresd", "knot-resolver", "defaults (reorder_RR(true))", sortRotates, kresdConfig(true)},
	{"kresd-sorted", "kresd", "knot-resolver", "reorder_RR(false)", sorts, kresdConfig(false)},
}

func findResolverKind(name string) (resolverKind, bool) {
	for _, k := range resolverKinds {
		if k.name == name {
			return k, true
		}
	}
	return resolverKind{}, false
}

// programPath finds a daemon on PATH or in /usr/sbin (not on a user's PATH).
func programPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

func unboundConfig(roundRobin string) func(*testing.T, string, string, int, string) []string {
	return func(t *testing.T, dir, hints string, port int, source string) []string {
		conf := writeFile(t, dir, "unbound.conf", fmt.Sprintf(`server:
  interface: 127.0.0.1
  port: %[3]d
  outgoing-interface: %[5]s
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  root-hints: %[2]q
  # test. is a special-use name (RFC 6761) that Unbound answers itself.
  local-zone: "test." nodefault
  do-not-query-localhost: no
  # No validator: no trust anchor, no DNSSEC.
  module-config: "iterator"
  username: ""
  chroot: ""
  directory: %[1]q
  pidfile: "%[1]s/unbound.pid"
  use-syslog: no
  logfile: ""
  num-threads: 1
  so-reuseport: no
  msg-cache-size: 1m
  rrset-cache-size: 1m
  verbosity: 0
  rrset-roundrobin: %[4]s
remote-control:
  control-enable: no
`, dir, hints, port, roundRobin, source))
		return []string{"-d", "-c", conf}
	}
}

func namedConfig(t *testing.T, dir, hints string, port int, source string) []string {
	conf := writeFile(t, dir, "named.conf", fmt.Sprintf(`options {
  directory %[1]q;
  pid-file "%[1]s/named.pid";
  session-keyfile "%[1]s/session.key";
  managed-keys-directory %[1]q;
  listen-on port %[3]d { 127.0.0.1; };
  listen-on-v6 { none; };
  query-source address %[4]s;
  recursion yes;
  allow-query { 127.0.0.0/8; };
  allow-recursion { 127.0.0.0/8; };
  dnssec-validation no;
  notify no;
};
controls { };
zone "." { type hint; file %[2]q; };
`, dir, hints, port, source))
	return []string{"-g", "-4", "-n", "1", "-c", conf}
}

func kresdConfig(reorder bool) func(*testing.T, string, string, int, string) []string {
	return func(t *testing.T, dir, hints string, port int, source string) []string {
		conf := writeFile(t, dir, "kresd.conf", fmt.Sprintf(`net.listen('127.0.0.1', %[2]d, { kind = 'dns' })
net.ipv6 = false
net.outgoing_v4('%[5]s')
-- No DNSSEC.
trust_anchors.remove('.')
-- test. is a special-use name (RFC 6761) that kresd refuses by default.
policy.special_names = {}
modules.load('hints > iterate')
hints.root({ ['a.root-servers.net.'] = '%[3]s' })
cache.open(10 * MB, 'lmdb://%[1]s/cache')
-- The default minimum TTL (5 s) would make the rounds across TTLs last
-- 5 s each; order does not depend on it.
cache.min_ttl(1)
reorder_RR(%[4]t)
`, dir, port, rootAddr, reorder, source))
		return []string{"-n", "-c", conf, dir}
	}
}

// resolver is one running resolver of the chain.
type resolver struct {
	kind   resolverKind
	addr   string // 127.0.0.1:port inside the namespace
	source string // the address it queries from
	d      *daemon
}

// chain is the whole delegation chain, running.
type chain struct {
	ns        *netns
	dnsrr     *server
	resolvers []*resolver
}

// startChain starts NSD with the root zone, dnsrr with zone (a TOML zone
// of chainOrigin whose ns1 is 127.0.0.1 and ::1), and count resolvers of
// each kind, waiting until every resolver resolves a name of zone. A kind
// whose program is missing skips the test, except in CI, where it fails.
func startChain(t *testing.T, zone string, kinds []resolverKind, count int) *chain {
	t.Helper()
	programs := map[string]string{}
	for _, k := range append([]resolverKind{{program: "nsd", pkg: "nsd"}}, kinds...) {
		p, err := programPath(k.program)
		if err != nil {
			skipOrFailInCI(t, fmt.Sprintf("%s not found (apt-get install %s)", k.program, k.pkg))
		}
		programs[k.program] = p
	}
	c := &chain{ns: newNetns(t)}
	dir := t.TempDir()

	hints := writeFile(t, dir, "root.hints", fmt.Sprintf(". 3600000 NS a.root-servers.net.\na.root-servers.net. 3600000 A %s\n", rootAddr))
	c.startRoot(t, programs["nsd"], filepath.Join(dir, "root"))

	args := []string{"serve", "-log-format", "json", "-listen", "127.0.0.1:53", "-zone", writeFile(t, dir, "zone.toml", zone), "-admin", ""}
	if haveIPv6 {
		args = append(args, "-listen", "[::1]:53")
	}
	c.dnsrr = startServingCommand(t, c.ns.command(binPath, args...))

	for _, k := range kinds {
		for i := range count {
			n := len(c.resolvers)
			rdir := filepath.Join(dir, fmt.Sprintf("%s-%d", k.name, i+1))
			if err := os.MkdirAll(rdir, 0o755); err != nil {
				t.Fatal(err)
			}
			// Each resolver queries from a network of its own (a /24, as
			// dnsrr groups clients), as resolvers of different sites do.
			r := &resolver{kind: k, addr: fmt.Sprintf("127.0.0.1:%d", 5301+n), source: fmt.Sprintf("127.%d.%d.1", 10+n/256, n%256)}
			argv := append([]string{programs[k.program]}, k.config(t, rdir, hints, 5301+n, r.source)...)
			r.d = c.ns.startDaemon(fmt.Sprintf("%s %d", k.name, i+1), argv...)
			c.resolvers = append(c.resolvers, r)
		}
	}
	for _, r := range c.resolvers {
		c.waitResolves(t, r)
	}
	return c
}

// startRoot runs NSD serving the root zone on rootAddr:53, delegating
// chainOrigin to dnsrr with glue.
func (c *chain) startRoot(t *testing.T, nsd, dir string) {
	t.Helper()
	glue := "ns1.lb.example.test. 86400 IN A 127.0.0.1\n"
	if haveIPv6 {
		glue += "ns1.lb.example.test. 86400 IN AAAA ::1\n"
	}
	writeFile(t, dir, "root.zone", `. 86400 IN SOA a.root-servers.net. hostmaster.root-servers.net. 1 1800 900 604800 86400
. 86400 IN NS a.root-servers.net.
a.root-servers.net. 86400 IN A `+rootAddr+`
lb.example.test. 86400 IN NS ns1.lb.example.test.
`+glue)
	conf := writeFile(t, dir, "nsd.conf", fmt.Sprintf(`server:
  ip-address: %[2]s@53
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: %[1]q
  database: ""
  zonelistfile: "%[1]s/zone.list"
  xfrdfile: "%[1]s/xfrd.state"
  pidfile: "%[1]s/nsd.pid"
  verbosity: 0
  # Debian builds NSD with rate limiting on; every resolver here is one client.
  rrl-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: "."
  zonefile: root.zone
`, dir, rootAddr))
	d := c.ns.startDaemon("nsd (root)", nsd, "-d", "-c", conf)
	probe := c.ns.dialUDP(net.JoinHostPort(rootAddr, "53"), 1)[0]
	deadline := time.Now().Add(startTimeout)
	for {
		if r, err := exchangeOn(probe, ".", dns.TypeSOA, false); err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1 {
			return
		}
		if d.exited() || time.Now().After(deadline) {
			t.Fatalf("NSD does not serve the root zone on %s:53 (exited: %v):\n%s", rootAddr, d.exited(), d.out.String())
		}
		time.Sleep(pollInterval)
	}
}

// waitResolves polls r until it resolves ns1 of the zone through the root,
// which also leaves the delegation in its cache.
func (c *chain) waitResolves(t *testing.T, r *resolver) {
	t.Helper()
	conn := c.ns.dialUDP(r.addr, 1)[0]
	deadline := time.Now().Add(resolverStartTimeout)
	var last string
	for {
		resp, err := exchangeOn(conn, "ns1."+chainOrigin, dns.TypeA, true)
		if err == nil && resp.Rcode == dns.RcodeSuccess && len(addrsOf(resp.Answer)) == 1 {
			return
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%s with %d answers", dns.RcodeToString[resp.Rcode], len(resp.Answer))
		}
		if r.d.exited() || time.Now().After(deadline) {
			t.Fatalf("%s on %s does not resolve ns1.%s (last: %s; exited: %v):\n%s",
				r.d.name, r.addr, chainOrigin, last, r.d.exited(), r.d.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// exchangeOn sends one query on a connected UDP socket and reads its reply,
// skipping stray replies (to an earlier query that timed out).
func exchangeOn(conn net.Conn, name string, qtype uint16, recurse bool) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.RecursionDesired = recurse
	co := &dns.Conn{Conn: conn}
	deadline := time.Now().Add(queryTimeout)
	_ = conn.SetDeadline(deadline)
	if err := co.WriteMsg(q); err != nil {
		return nil, err
	}
	for {
		r, err := co.ReadMsg()
		if err != nil {
			return nil, err
		}
		if r.Id == q.Id {
			return r, nil
		}
	}
}

// resolverNames lists the kinds of the chain, for messages.
func resolverNames(kinds []resolverKind) string {
	var names []string
	for _, k := range kinds {
		names = append(names, k.name)
	}
	return strings.Join(names, ", ")
}
