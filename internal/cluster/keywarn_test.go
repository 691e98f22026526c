package cluster

import (
	"bytes"
	"log"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestKeyWarnings: gossip from a peer with another secret_key is warned of
// once an hour per address, however often it comes (memberlist logs each
// packet), and other memberlist lines stay at debug level.
func TestKeyWarnings(t *testing.T) {
	var out bytes.Buffer
	w := logWriter{zerolog.New(&out).Level(zerolog.InfoLevel), &keyWarnings{}}
	ml := log.New(w, "", 0)
	for range 100 {
		ml.Printf("[ERR] memberlist: failed to receive: no installed keys could decrypt the message from=192.0.2.1:41234")
		ml.Printf("[ERR] memberlist: Decrypt packet failed: no installed keys could decrypt the message from=192.0.2.1:7946")
		ml.Printf("[ERR] memberlist: Decrypt packet failed: no installed keys could decrypt the message from=[2001:db8::1]:7946")
		ml.Printf("[DEBUG] memberlist: failed to join 192.0.2.9:7946: no installed keys could decrypt the message")
		ml.Printf("[WARN] memberlist: Was able to connect to dns2 over TCP but UDP probes failed, network may be misconfigured")
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"from":"192.0.2.1"`) || !strings.Contains(lines[1], `"from":"2001:db8::1"`) {
		t.Fatalf("want one warning for each of 192.0.2.1 and 2001:db8::1, got %d lines:\n%s", len(lines), out.String())
	}

	k := &keyWarnings{}
	now := time.Now()
	if _, ok := k.first("x from=192.0.2.1:1", now); !ok {
		t.Fatal("first line not warned of")
	}
	if _, ok := k.first("x from=192.0.2.1:2", now.Add(59*time.Minute)); ok {
		t.Error("warned again within the hour")
	}
	if _, ok := k.first("x from=192.0.2.1:3", now.Add(61*time.Minute)); !ok {
		t.Error("not warned again after an hour")
	}
	// Many addresses: the table stays bounded.
	for i := range 10 * maxKeyWarnings {
		k.first("x from=10.0."+strconv.Itoa(i/256)+"."+strconv.Itoa(i%256)+":7946", now)
	}
	if len(k.last) > maxKeyWarnings {
		t.Errorf("%d addresses remembered; want at most %d", len(k.last), maxKeyWarnings)
	}
}
