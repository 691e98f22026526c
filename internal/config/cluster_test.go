package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/internal/cluster"
)

const testGossipKey = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=" // 32 bytes

// TestClusterTable: [cluster] turns health agreement on; every key is
// read, and bad values are reported at their line.
func TestClusterTable(t *testing.T) {
	dir := t.TempDir()
	load := func(t *testing.T, src string) (*Config, error) {
		path := filepath.Join(dir, "dnsrr.toml")
		if err := os.WriteFile(path, []byte("zones = [\"z.toml\"]\n"+src), 0o644); err != nil {
			t.Fatal(err)
		}
		return Load(path)
	}
	c, err := load(t, "")
	if err != nil || c.Cluster != nil || c.ServerName != "" {
		t.Fatalf("no [cluster]: %v, %+v; want it off", err, c.Cluster)
	}
	c, err = load(t, "[cluster]\nbind = \"192.0.2.1:7946\"\nsecret_key = \""+testGossipKey+"\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.MaxStateBytes != cluster.DefaultMaxStateBytes || c.Cluster.Quorum != 0 || len(c.Cluster.SecretKey) != 32 {
		t.Errorf("defaults: %+v", c.Cluster)
	}
	if err := os.WriteFile(filepath.Join(dir, "gossip.key"), []byte("MDEyMzQ1Njc4OWFiY2RlZg==\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = load(t, `server_name = "ns1.example.net"
[health]
probe_source = "192.0.2.1"
[cluster]
bind = "192.0.2.1:7946"
advertise = "198.51.100.1:7946"
peers = ["192.0.2.2:7946", "ns3.example.net:7946"]
node_name = "ns1"
secret_file = "gossip.key"
quorum = 2
gossip_interval = "100ms"
push_pull_interval = "10s"
probe_interval = "500ms"
max_state_bytes = "16MiB"
`)
	if err != nil {
		t.Fatal(err)
	}
	cc := c.Cluster
	if c.ServerName != "ns1.example.net" || c.Health.ProbeSource != netip.MustParseAddr("192.0.2.1") ||
		cc.Bind.String() != "192.0.2.1:7946" || cc.Advertise.String() != "198.51.100.1:7946" || len(cc.Peers) != 2 ||
		cc.Name != "ns1" || len(cc.SecretKey) != 16 || cc.Quorum != 2 || cc.GossipInterval != 100*time.Millisecond ||
		cc.PushPullInterval != 10*time.Second || cc.ProbeInterval != 500*time.Millisecond || cc.MaxStateBytes != 16<<20 {
		t.Errorf("read %+v, server %q, probe_source %v", cc, c.ServerName, c.Health.ProbeSource)
	}

	for _, tc := range []struct{ src, want string }{
		{"[cluster]\nsecret_key = \"" + testGossipKey + "\"\n", ":2: cluster: bind is missing"},
		{"[cluster]\nbind = \"192.0.2.1\"\nsecret_key = \"" + testGossipKey + "\"\n", ":3: cluster.bind: \"192.0.2.1\" is not IP:port"},
		{"[cluster]\nbind = \"192.0.2.1:7946\"\n", "secret_key or secret_file is missing"},
		{"[cluster]\nbind = \"192.0.2.1:7946\"\nsecret_key = \"c2hvcnQ=\"\n", ":4: cluster.secret_key: decodes to 5 bytes"},
		{"[cluster]\nbind = \"192.0.2.1:7946\"\nsecret_key = \"not base64!\"\n", "is not base64"},
		{"[cluster]\nbind = \"192.0.2.1:7946\"\nsecret_file = \"missing.key\"\n", ":4: cluster.secret_file:"},
		{"[cluster]\nbind = \"192.0.2.1:7946\"\nsecret_key = \"" + testGossipKey + "\"\npeers = [\"192.0.2.2\"]\n", ":5: cluster.peers: \"192.0.2.2\" is not host:port"},
		{"[cluster]\nbind = \"192.0.2.1:7946\"\nsecret_key = \"" + testGossipKey + "\"\nquorum = -1\n", "cluster.quorum"},
		{"[cluster]\nbind = \"192.0.2.1:7946\"\nsecret_key = \"" + testGossipKey + "\"\ngossip_interval = \"1ms\"\n", "cluster.gossip_interval"},
		{"[cluster]\nbind = \"192.0.2.1:7946\"\nsecret_key = \"" + testGossipKey + "\"\nmax_state_bytes = 10\n", "cluster.max_state_bytes"},
		{"[cluster]\nbind = \"192.0.2.1:7946\"\nsecret_key = \"" + testGossipKey + "\"\nmax_state_bytes = \"64MiB\"\n", ":5: cluster.max_state_bytes: give a size from 64KiB to 16MiB"},
		{"[cluster]\nbind = \"192.0.2.1:7946\"\nsecret_key = \"" + testGossipKey + "\"\nfanout = 3\n", "fanout"},
		{"[health]\nprobe_source = \"0.0.0.0\"\n", ":3: health.probe_source: \"0.0.0.0\" is not a unicast IP"},
		{"server_name = \"\"\n", "server_name: give 1 to 255"},
	} {
		_, err := load(t, tc.src)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.src, err, tc.want)
		}
	}
}

// TestCheckSource: a check's source is the address its probes leave from.
func TestCheckSource(t *testing.T) {
	c, err := loadConfigText(t, "zones = []\n[checks.web]\ntype = \"tcp\"\nport = 80\nsource = \"2001:db8::1\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Checks["web"].Probe.Source; got != netip.MustParseAddr("2001:db8::1") {
		t.Errorf("source %v", got)
	}
	for _, v := range []string{"nonsense", "::", "224.0.0.1", "fe80::1%eth0"} {
		path := filepath.Join(t.TempDir(), "dnsrr.toml")
		body := "zones = []\n[checks.web]\ntype = \"tcp\"\nport = 80\nsource = \"" + v + "\"\n"
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), "dnsrr.toml:5: checks.web.source:") {
			t.Errorf("source %q: error %v, want one at dnsrr.toml:5", v, err)
		}
	}
}
