package integration

// Health agreement between instances (README, "Running several
// nameservers"): three real dnsrr processes on their own loopback
// addresses (…11–13), each probing from its own address, and HTTP backends
// on …21–23 that can refuse chosen source addresses: a partition of one
// instance from one backend.

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// clusterWait bounds every wait for gossip or probes to reach a state: a
// guard against hanging on a loaded machine, never a measure of speed.
const clusterWait = 60 * time.Second

// clusterKey is a fixed AES-256 gossip key (base64) for the tests.
const clusterKey = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80="

// refusing answers 503 to requests from the source addresses in refused,
// 200 to the others: a probe from a refused address fails, every time.
type refusing struct {
	mu      sync.Mutex
	refused map[string]bool
}

func (r *refusing) set(ips ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refused = map[string]bool{}
	for _, ip := range ips {
		r.refused[ip] = true
	}
}

func (r *refusing) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	host, _, _ := net.SplitHostPort(req.RemoteAddr)
	r.mu.Lock()
	no := r.refused[host]
	r.mu.Unlock()
	if no {
		http.Error(w, "refused for "+host, http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok"))
}

// clusterLab is three instances (1–3) and three backends (21–23) of one
// pool, www.
type clusterLab struct {
	t        *testing.T
	lab      *lab
	org      string
	backends map[int]*refusing
	servers  map[int]*server
	admins   map[int]*admin
	dirs     map[int]string // each instance's configuration and zone
	health   string         // more lines of each instance's [health]
}

func newClusterLab(t *testing.T) *clusterLab {
	l := newLab(t)
	c := &clusterLab{t: t, lab: l, org: "cluster.test.", backends: map[int]*refusing{}, servers: map[int]*server{}, admins: map[int]*admin{}, dirs: map[int]string{}}
	for i := 21; i <= 23; i++ {
		r := &refusing{}
		r.set()
		c.backends[i] = r
		l.backend(i, kindHTTP, r, nil)
	}
	return c
}

func (c *clusterLab) www() string { return "www." + c.org }

func (c *clusterLab) members() []string { return c.lab.ips(21, 22, 23) }

// start starts instance i (1–3) probing from address 10+i; with gossip,
// it joins the others at 11–13.
func (c *clusterLab) start(i int, gossip bool) { c.startWith(i, gossip, "fall = 2") }

// startWith is start with the check's fall line given.
func (c *clusterLab) startWith(i int, gossip bool, fall string) {
	cfg := c.configure(i, gossip, fall, c.t.TempDir())
	s := startServer(c.t, "-config", cfg)
	c.servers[i], c.admins[i] = s, adminOf(c.t, s)
}

// configure writes instance i's configuration and zone into dir and
// returns the configuration's path.
func (c *clusterLab) configure(i int, gossip bool, fall, dir string) string {
	t, l := c.t, c.lab
	c.dirs[i] = dir
	writeFile(t, dir, "zone.toml", testZoneHeader(c.org)+poolTOML("www", c.members(), `check = "web"`))
	// fall = 2: a single probe slowed past its timeout on a loaded
	// machine does not take a member down; a refused source fails twice.
	tail := checkTOML("web", "http", l.port, "interval = \"500ms\"\ntimeout = \"400ms\"\nrise = 1\n"+fall)
	if gossip {
		var peers []string
		for j := 1; j <= 3; j++ {
			if j != i {
				peers = append(peers, net.JoinHostPort(l.ip(10+j), fmt.Sprint(l.port)))
			}
		}
		tail += fmt.Sprintf(`
[cluster]
bind = %q
peers = %s
secret_key = %q
gossip_interval = "100ms"
probe_interval = "300ms"
push_pull_interval = "2s"
`, net.JoinHostPort(l.ip(10+i), fmt.Sprint(l.port)), tomlList(peers), clusterKey)
	}
	cfg := writeFile(t, dir, "dnsrr.toml", fmt.Sprintf(`server_name = "dns%d"
zones = ["zone.toml"]

[health]
admin = "127.0.0.1:0"
state_file = "state.json"
probe_source = %q
%s
%s`, i, l.ip(10+i), c.health, tail))
	return cfg
}

func (c *clusterLab) dns(i int) string { return c.servers[i].addr("udp4") }

// clusterDoc is the part of /status about the cluster.
type clusterDoc struct {
	Server string `json:"server"`
	Pools  []struct {
		Name    string `json:"name"`
		Members []struct {
			Address string `json:"address"`
			State   string `json:"state"`
			Cluster *struct {
				Agreed string            `json:"agreed"`
				Views  map[string]string `json:"views"`
			} `json:"cluster"`
		} `json:"members"`
	} `json:"pools"`
	Cluster *struct {
		Name  string `json:"name"`
		Alone bool   `json:"alone"`
		Peers []struct {
			Name  string `json:"name"`
			State string `json:"state"`
			Same  bool   `json:"same_zones_and_checks"`
		} `json:"peers"`
	} `json:"cluster"`
}

func (c *clusterLab) status(i int) clusterDoc {
	c.t.Helper()
	code, body, _ := c.admins[i].do(http.MethodGet, "/status")
	if code != http.StatusOK {
		c.t.Fatalf("dns%d /status: %d %s", i, code, body)
	}
	var d clusterDoc
	if err := json.Unmarshal(body, &d); err != nil {
		c.t.Fatalf("dns%d /status: %v\n%s", i, err, body)
	}
	return d
}

// view is instance i's status of member addr: its own state, the agreed
// one and each instance's view as i knows them.
func (c *clusterLab) view(i int, addr string) (own, agreed string, views map[string]string) {
	for _, p := range c.status(i).Pools {
		for _, m := range p.Members {
			if p.Name == c.www() && m.Address == addr {
				if m.Cluster == nil {
					return m.State, "", nil
				}
				return m.State, m.Cluster.Agreed, m.Cluster.Views
			}
		}
	}
	c.t.Fatalf("dns%d /status lists no %s in %s", i, addr, c.www())
	return
}

// waitFor polls cond until it holds, failing after clusterWait with what
// it last said.
func (c *clusterLab) waitFor(what string, cond func() (bool, string)) {
	c.t.Helper()
	deadline := time.Now().Add(clusterWait)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: not within %v; last: %s", what, clusterWait, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// answers is what instance i answers for www now.
func (c *clusterLab) answers(i int) reply {
	got, _, err := ask(c.dns(i), ways[0], c.www(), dns.TypeA)
	if err != nil {
		return reply{rcode: -1}
	}
	return got
}

// waitServed waits until each of the instances answers exactly addrs
// (every way of asking, once reached over UDP).
func (c *clusterLab) waitServed(instances []int, addrs ...string) {
	c.t.Helper()
	want := served(addrs...)
	for _, i := range instances {
		c.waitFor(fmt.Sprintf("dns%d serving %v", i, addrs), func() (bool, string) {
			got := c.answers(i)
			return got.equal(want), got.String()
		})
		wantDNS(c.t, c.dns(i), c.www(), dns.TypeA, want)
	}
}

// wantMetrics checks that instance i's /metrics has each line.
func (c *clusterLab) wantMetrics(i int, lines ...string) {
	c.t.Helper()
	code, body, _ := c.admins[i].do(http.MethodGet, "/metrics")
	if code != http.StatusOK {
		c.t.Fatalf("dns%d /metrics: %d", i, code)
	}
	have := strings.Split(string(body), "\n")
	for _, l := range lines {
		if !slices.Contains(have, l) {
			c.t.Errorf("dns%d /metrics has no line %q", i, l)
		}
	}
}

// nsid is the NSID instance i answers with.
func (c *clusterLab) nsid(i int) string {
	c.t.Helper()
	m := newEDNSQuery(c.www(), dns.TypeA, 1232)
	m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_NSID{Code: dns.EDNS0NSID}}
	r := exchange(c.t, "udp", c.dns(i), m)
	for _, o := range replyOPT(c.t, r).Option {
		if n, ok := o.(*dns.EDNS0_NSID); ok {
			id, _ := hex.DecodeString(n.Nsid)
			return string(id)
		}
	}
	return ""
}

// waitPeers waits until instance i sees exactly the alive peers given.
func (c *clusterLab) waitPeers(i int, alive ...string) {
	c.t.Helper()
	c.waitFor(fmt.Sprintf("dns%d seeing alive peers %v", i, alive), func() (bool, string) {
		d := c.status(i)
		if d.Cluster == nil {
			return false, "no cluster object"
		}
		var got []string
		for _, p := range d.Cluster.Peers {
			if p.State == "alive" {
				got = append(got, p.Name)
				if !p.Same {
					return false, p.Name + " has other zones or checks"
				}
			}
		}
		slices.Sort(got)
		return slices.Equal(got, alive), fmt.Sprint(got)
	})
}

// TestClusterLocalHealthDisagrees: without a cluster, an instance cut off
// from a backend withdraws it while the others serve it.
func TestClusterLocalHealthDisagrees(t *testing.T) {
	c := newClusterLab(t)
	for i := 1; i <= 3; i++ {
		c.start(i, false)
	}
	all := c.members()
	c.waitServed([]int{1, 2, 3}, all...)
	c.backends[21].set(c.lab.ip(11))
	c.waitServed([]int{1}, c.lab.ips(22, 23)...)
	c.waitServed([]int{2, 3}, all...)
	if d := c.status(1); d.Server != "dns1" || d.Cluster != nil {
		t.Errorf("dns1 /status: server %q, cluster %v; want dns1 and no cluster object", d.Server, d.Cluster)
	}
}

// TestClusterAgreement walks the cluster through a partition of one
// instance from one backend, of two, a drain, the loss of one instance
// and then of both its peers.
func TestClusterAgreement(t *testing.T) {
	c := newClusterLab(t)
	for i := 1; i <= 3; i++ {
		c.start(i, true)
	}
	c.waitPeers(1, "dns2", "dns3")
	c.waitPeers(2, "dns1", "dns3")
	c.waitPeers(3, "dns1", "dns2")
	all, b21 := c.members(), c.lab.ip(21)
	c.waitServed([]int{1, 2, 3}, all...)
	c.wantMetrics(1, "dnsrr_cluster_alone 0", `dnsrr_cluster_peer_alive{peer="dns2"} 1`, `dnsrr_cluster_peer_same_zones{peer="dns3"} 1`)
	for i := 1; i <= 3; i++ {
		// In a cluster, the NSID defaults to the server name.
		if d, id := c.status(i), c.nsid(i); d.Server != fmt.Sprintf("dns%d", i) || id != d.Server {
			t.Errorf("dns%d: /status server %q, NSID %q", i, d.Server, id)
		}
	}

	// dns1 cannot reach 21: it sees it down, the others up; 1 of 3 is
	// short of the quorum (2), so all three keep serving it.
	c.backends[21].set(c.lab.ip(11))
	for i := 1; i <= 3; i++ {
		c.waitFor(fmt.Sprintf("dns%d knowing that dns1 sees %s down", i, b21), func() (bool, string) {
			own, agreed, views := c.view(i, b21)
			return views["dns1"] == "down" && views["dns2"] == "up" && views["dns3"] == "up" && agreed == "up",
				fmt.Sprintf("own %s agreed %s views %v", own, agreed, views)
		})
	}
	if own, _, _ := c.view(1, b21); own != "down" {
		t.Fatalf("dns1's own view of %s is %s, want down", b21, own)
	}
	c.waitServed([]int{1, 2, 3}, all...)

	// dns2 cut off too: 2 of 3 see it down, every instance withdraws it.
	c.backends[21].set(c.lab.ip(11), c.lab.ip(12))
	c.waitServed([]int{1, 2, 3}, c.lab.ips(22, 23)...)
	if _, agreed, _ := c.view(3, b21); agreed != "down" {
		t.Errorf("dns3's agreed view of %s is %s, want down (it sees it up itself)", b21, agreed)
	}
	c.backends[21].set()
	c.waitServed([]int{1, 2, 3}, all...)

	// A drain made on dns2 applies on all; so does its undrain.
	b22 := c.lab.ip(22)
	c.admins[2].drain(b22, "")
	c.waitServed([]int{1, 2, 3}, c.lab.ips(21, 23)...)
	c.admins[2].undrain(b22)
	c.waitServed([]int{1, 2, 3}, all...)

	// A timed drain keeps its end on every instance; an undrain made on
	// another instance than the drain ends it everywhere.
	b23 := c.lab.ip(23)
	c.admins[3].drain(b23, "1h")
	c.waitServed([]int{1, 2, 3}, c.lab.ips(21, 22)...)
	until := func(i int) *time.Time {
		for _, d := range c.admins[i].status().Drains {
			if d.Address == b23 {
				return d.Until
			}
		}
		return nil
	}
	if u3, u1 := until(3), until(1); u3 == nil || u1 == nil || !u1.Equal(*u3) {
		t.Errorf("drain of %s until %v on dns3, %v on dns1; want the same end", b23, u3, u1)
	}
	c.admins[1].undrain(b23)
	c.waitServed([]int{1, 2, 3}, all...)

	// dns3 stops: dns1 and dns2 still agree (1 of the 2 live instances
	// that probe 21 sees it down: short of their majority, 2).
	c.backends[21].set(c.lab.ip(11))
	c.waitFor("dns2 knowing that dns1 sees 21 down", func() (bool, string) {
		_, agreed, views := c.view(2, b21)
		return views["dns1"] == "down", fmt.Sprintf("agreed %s views %v", agreed, views)
	})
	if code, stopped := c.servers[3].stopWith(syscall.SIGTERM); !stopped || code != 0 {
		t.Fatalf("dns3: exit code %d, stopped %v", code, stopped)
	}
	c.waitPeers(1, "dns2")
	c.waitPeers(2, "dns1")
	c.waitServed([]int{1, 2}, all...)

	// dns1 cut off from every peer falls back to its own view: 21 down.
	if code, stopped := c.servers[2].stopWith(syscall.SIGTERM); !stopped || code != 0 {
		t.Fatalf("dns2: exit code %d, stopped %v", code, stopped)
	}
	c.waitPeers(1)
	c.waitServed([]int{1}, c.lab.ips(22, 23)...)
	if d := c.status(1); d.Cluster == nil || !d.Cluster.Alone {
		t.Errorf("dns1 alone: /status cluster %+v, want alone", d.Cluster)
	}
	c.wantMetrics(1, "dnsrr_cluster_alone 1", `dnsrr_cluster_peer_alive{peer="dns2"} 0`)

	// dns2 restarts: the two find each other again (dns1 retries its
	// peers while alone) and agree again, on dns2's new run's views.
	c.start(2, true)
	c.waitPeers(1, "dns2")
	c.waitPeers(2, "dns1")
	c.waitServed([]int{1, 2}, all...)
}

// TestClusterMismatch: an instance with other checks says so, in its log
// and on /status, and the others say so of it.
func TestClusterMismatch(t *testing.T) {
	c := newClusterLab(t)
	c.start(1, true)
	c.startWith(2, true, "fall = 3")
	c.waitFor("dns1 seeing dns2 alive with other checks", func() (bool, string) {
		d := c.status(1)
		for _, p := range d.Cluster.Peers {
			if p.Name == "dns2" && p.State == "alive" {
				return !p.Same, fmt.Sprintf("%+v", p)
			}
		}
		return false, fmt.Sprintf("%+v", d.Cluster)
	})
	for i, peer := range map[int]string{1: "dns2", 2: "dns1"} {
		waitLogLine(t, c.servers[i], 0, "peer has other zones or checks: it probes other targets, and agreement covers only those both probe", map[string]string{"peer": peer})
	}

	// dns2 reloads the same checks as dns1: they match, and agree.
	mark := c.servers[2].logMark()
	c.configure(2, true, "fall = 2", c.dirs[2])
	c.servers[2].signal(syscall.SIGHUP)
	waitLogLine(t, c.servers[2], mark, "reload applied", nil)
	c.waitPeers(1, "dns2")
	c.waitPeers(2, "dns1")
	b21 := c.lab.ip(21)
	c.backends[21].set(c.lab.ip(11))
	c.waitFor("dns2 knowing dns1's view of 21 after its reload", func() (bool, string) {
		_, agreed, views := c.view(2, b21)
		return views["dns1"] == "down" && views["dns2"] == "up" && agreed == "up", fmt.Sprintf("agreed %s views %v", agreed, views)
	})
	c.waitServed([]int{1, 2}, c.members()...)
}

// TestClusterInitialDown: with initial_state = "down", a member whose
// first probes confirm it down changes no state, yet its instances' views
// reach the peers: two of three see it down from the start, so all three
// withdraw it, though the third's probes bring it up.
func TestClusterInitialDown(t *testing.T) {
	c := newClusterLab(t)
	c.health = `initial_state = "down"`
	c.backends[21].set(c.lab.ip(11), c.lab.ip(12))
	for i := 1; i <= 3; i++ {
		c.start(i, true)
	}
	c.waitPeers(3, "dns1", "dns2")
	b21 := c.lab.ip(21)
	c.waitFor("dns3 knowing the others' views of 21", func() (bool, string) {
		own, agreed, views := c.view(3, b21)
		return own == "up" && views["dns1"] == "down" && views["dns2"] == "down" && agreed == "down",
			fmt.Sprintf("own %s agreed %s views %v", own, agreed, views)
	})
	c.waitServed([]int{1, 2, 3}, c.lab.ips(22, 23)...)
}
