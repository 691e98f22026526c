package cluster

import (
	"net"
	"strings"
	"sync"
	"time"
)

// keyWarnings remembers when each address last sent gossip this instance
// could not decrypt, so that such a peer is warned of once an hour, not
// once a packet: it gossips several times a second. At most
// maxKeyWarnings addresses are remembered; past that, the oldest are
// forgotten (a flood from many addresses still warns at most that many
// times an hour).
type keyWarnings struct {
	mu   sync.Mutex
	last map[string]time.Time
}

const (
	keyWarnEvery   = time.Hour
	maxKeyWarnings = 256
)

// first reports the address a memberlist log line names (its "from="
// field) and whether it is the first such line from
// there this hour.
func (k *keyWarnings) first(line string, now time.Time) (string, bool) {
	from := line
	if i := strings.LastIndex(line, "from="); i >= 0 {
		from = line[i+len("from="):]
		if j := strings.IndexByte(from, ' '); j >= 0 {
			from = from[:j]
		}
	}
	if host, _, err := net.SplitHostPort(from); err == nil {
		from = host // a peer's UDP and TCP ports differ: one warning for the address
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.last == nil {
		k.last = map[string]time.Time{}
	}
	if t, ok := k.last[from]; ok && now.Sub(t) < keyWarnEvery {
		return from, false
	}
	if len(k.last) >= maxKeyWarnings {
		var oldest string
		for a, t := range k.last {
			if oldest == "" || t.Before(k.last[oldest]) {
				oldest = a
			}
		}
		delete(k.last, oldest)
	}
	k.last[from] = now
	return from, true
}
