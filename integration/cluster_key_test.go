package integration

import (
	"fmt"
	"strings"
	"testing"
)

// TestClusterWrongKey runs two instances whose gossip keys differ: each
// stays alone, and says why at warning level (a failed join, once, and
// gossip that does not decrypt, once per address), rather than only at
// debug level or once a packet.
func TestClusterWrongKey(t *testing.T) {
	t.Parallel()
	p1, p2 := freePort(t), freePort(t)
	keys := []string{clusterKey, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}
	var servers []*server
	for i, port := range []int{p1, p2} {
		peer := p2
		if i == 1 {
			peer = p1
		}
		dir := t.TempDir()
		writeFile(t, dir, "zone.toml", testZoneHeader("wrongkey.test."))
		cfg := writeFile(t, dir, "dnsrr.toml", fmt.Sprintf(`server_name = "dns%d"
zones = ["zone.toml"]
[health]
admin = ""
[cluster]
bind = "127.0.0.1:%d"
peers = ["127.0.0.1:%d"]
secret_key = %q
gossip_interval = "100ms"
probe_interval = "300ms"
push_pull_interval = "2s"
`, i+1, port, peer, keys[i]))
		servers = append(servers, startServer(t, "-config", cfg, "-log-level", "debug"))
	}
	warned := func(s *server, msg string) func(logLine) bool {
		return func(l logLine) bool { return l.str("level") == "warn" && strings.HasPrefix(l.message(), msg) }
	}
	for i, s := range servers {
		if _, ok := s.waitLog(0, clusterWait, warned(s, "gossip that does not decrypt")); !ok {
			t.Errorf("dns%d: no warning of gossip that does not decrypt", i+1)
		}
		if _, ok := s.waitLog(0, clusterWait, warned(s, "cannot join any peer")); !ok {
			t.Errorf("dns%d: no warning that it cannot join", i+1)
		}
	}
	// Both keep trying, at debug level: a join every 5 s, gossip several
	// times a second. After three more joins and many packets, each has
	// still warned once of each.
	for i, s := range servers {
		joins, packets := 0, 0
		if _, ok := s.waitLog(0, 3*clusterWait, func(l logLine) bool {
			switch {
			case l.str("level") != "debug":
			case strings.HasPrefix(l.message(), "cannot join any peer"):
				joins++
			case strings.Contains(l.message(), "decrypt"):
				packets++
			}
			return joins >= 3 && packets >= 10
		}); !ok {
			t.Fatalf("dns%d: %d failed joins and %d undecryptable packets at debug level; want 3 and 10", i+1, joins, packets)
		}
	}
	for i, s := range servers {
		s.mu.Lock()
		joins, decrypts := 0, 0
		for _, l := range s.lines {
			switch {
			case l.str("level") != "warn":
			case strings.HasPrefix(l.message(), "cannot join any peer"):
				joins++
			case strings.HasPrefix(l.message(), "gossip that does not decrypt"):
				decrypts++
			}
		}
		s.mu.Unlock()
		if joins != 1 || decrypts != 1 {
			t.Errorf("dns%d: %d join warnings and %d decrypt warnings; want one of each", i+1, joins, decrypts)
		}
	}
}
