package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/dnsrr/dnsrr/internal/cluster"
	"github.com/dnsrr/dnsrr/internal/safefile"
	"github.com/dnsrr/dnsrr/zones/tomlfile"
)

// maxServerName bounds server_name: it travels in gossip metadata (512
// bytes in all) and on /status.
const maxServerName = 255

// maxPeers bounds the peers listed to join: one reachable is enough.
const maxPeers = 64

// readCluster reads server_name and the [cluster] table (README, "Running
// several nameservers"). Its presence turns the cluster on.
func readCluster(root *tomlfile.Table, c *Config) {
	if v, ok := root.String("server_name"); ok {
		if v == "" || len(v) > maxServerName {
			root.Errorf("server_name", "give 1 to %d characters", maxServerName)
		}
		c.ServerName = v
	}
	t, ok := root.Table("cluster")
	if !ok {
		return
	}
	cc := &cluster.Config{MaxStateBytes: cluster.DefaultMaxStateBytes}
	c.Cluster = cc
	if v, ok := t.String("bind"); ok {
		ap, err := netip.ParseAddrPort(v)
		if err != nil || ap.Port() == 0 {
			t.Errorf("bind", "%q is not IP:port, such as \"192.0.2.1:7946\"", v)
		}
		cc.Bind = ap
	} else if !t.Has("bind") {
		t.Errorf("", "bind is missing: the address gossip listens on (UDP and TCP), e.g. bind = \"192.0.2.1:7946\"")
	}
	if v, ok := t.String("advertise"); ok {
		ap, err := netip.ParseAddrPort(v)
		if err != nil || ap.Port() == 0 {
			t.Errorf("advertise", "%q is not IP:port", v)
		}
		cc.Advertise = ap
	}
	if v, ok := t.Strings("peers"); ok {
		if len(v) > maxPeers {
			t.Errorf("peers", "%d peers, more than %d: list a few, one reachable is enough", len(v), maxPeers)
		}
		for i, p := range v {
			if _, port, err := net.SplitHostPort(p); err != nil || port == "" || port == "0" {
				t.ElemErrorf("peers", i, "%q is not host:port", p)
			} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
				t.ElemErrorf("peers", i, "%q: bad port", p)
			}
		}
		cc.Peers = v
	}
	if v, ok := t.String("node_name"); ok {
		if v == "" || len(v) > maxServerName {
			t.Errorf("node_name", "give 1 to %d characters", maxServerName)
		}
		cc.Name = v
	}
	key, hasKey := t.String("secret_key")
	file, hasFile := t.String("secret_file")
	switch {
	case hasKey && hasFile:
		t.Errorf("secret_file", "give secret_key or secret_file, not both")
	case hasKey:
		k, err := parseSecret([]byte(key))
		if err != nil {
			t.Errorf("secret_key", "%v", err)
		}
		cc.SecretKey = k
	case hasFile:
		k, err := readSecretFile(relative(c.File, file))
		if err != nil {
			t.Errorf("secret_file", "%v", err)
		}
		cc.SecretKey = k
	case !t.Has("secret_key") && !t.Has("secret_file"):
		t.Errorf("", "secret_key or secret_file is missing: gossip changes what is served, so it is encrypted and authenticated (e.g. secret_key = the output of: openssl rand -base64 32)")
	}
	if n, ok := t.Int("quorum", 0, 1000); ok {
		cc.Quorum = int(n)
	}
	for _, d := range []struct {
		key    string
		lo, hi time.Duration
		v      *time.Duration
	}{
		{"gossip_interval", 10 * time.Millisecond, time.Minute, &cc.GossipInterval},
		{"push_pull_interval", time.Second, time.Hour, &cc.PushPullInterval},
		{"probe_interval", 100 * time.Millisecond, time.Minute, &cc.ProbeInterval},
	} {
		if v, ok := t.Duration(d.key, d.lo, d.hi); ok {
			*d.v = v
		}
	}
	if v, ok := t.Get("max_state_bytes"); ok {
		n, err := parseSize(v)
		// memberlist reads at most 20 MiB of a peer's push-pull state or
		// message (its maxPushStateBytes, maxUserMsgBytes): a larger state
		// would be refused on the wire, whatever this says, and without
		// this instance's warning that it is too large.
		if err != nil || n < 64<<10 || n > 16<<20 {
			t.Errorf("max_state_bytes", "give a size from 64KiB to 16MiB, such as \"8MiB\"")
		} else {
			cc.MaxStateBytes = int(n)
		}
	}
	t.Done()
}

// maxGossipKeyFile bounds secret_file: a key is one line.
const maxGossipKeyFile = 4096

func readSecretFile(path string) ([]byte, error) {
	b, _, err := safefile.ReadStable(path, maxGossipKeyFile)
	if errors.As(err, new(*safefile.TooLargeError)) {
		return nil, fmt.Errorf("%s is larger than %d bytes: a key is one line", path, maxGossipKeyFile)
	}
	if err != nil {
		return nil, err
	}
	k, err := parseSecret(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// parseSecret decodes a base64 gossip key of 16, 24 or 32 bytes (AES-128,
// -192 or -256).
func parseSecret(b []byte) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(b)))
	if err != nil {
		return nil, errors.New("is not base64 (e.g. from: openssl rand -base64 32)")
	}
	switch len(k) {
	case 16, 24, 32:
		return k, nil
	}
	return nil, fmt.Errorf("decodes to %d bytes; give 16, 24 or 32 (openssl rand -base64 32)", len(k))
}

// readProbeSource reads [health] probe_source: the address checks without
// their own source probe from.
func readProbeSource(h *tomlfile.Table, hc *HealthConfig) {
	v, ok := h.String("probe_source")
	if !ok {
		return
	}
	a, err := netip.ParseAddr(v)
	if err != nil || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() {
		h.Errorf("probe_source", "%q is not a unicast IP address of this host to probe from", v)
		return
	}
	hc.ProbeSource = a.Unmap()
}
