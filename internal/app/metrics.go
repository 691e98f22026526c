package app

import (
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/dnsrr/rrl"
	"github.com/dnsrr/dnsrr/healthprobe"
	"github.com/dnsrr/dnsrr/internal/config"
	"github.com/dnsrr/dnsrr/internal/metrics"
	"github.com/dnsrr/dnsrr/zones"
)

// appMetrics is what the app records for /metrics beyond the counters the
// server and prober keep: when each zone was loaded and what reloads did,
// and the admin listeners' connection counts.
type appMetrics struct {
	handler http.Handler
	admin   [2]connCounts // admin, status
	// loaded is when each zone served was loaded (a zone kept by a failed
	// reload keeps its time).
	loaded zoneClock

	mu       sync.Mutex
	failedAt map[string]bool // origins whose file the last reload failed to load
	reloads  metrics.Reloads
	snap     *zones.Snapshot
}

// connCounts are what an admin listener's connLimit did; they outlive it.
type connCounts struct {
	refused, evicted atomic.Uint64
	limit            atomic.Pointer[connLimit]
	max              int
}

// track makes l count into c (nil: no metrics).
func (c *connCounts) track(l *connLimit) {
	if c != nil {
		l.counts = c
		c.limit.Store(l)
	}
}

// evict and refuse count a connection evicted or refused (c may be nil).
func (c *connCounts) evict() {
	if c != nil {
		c.evicted.Add(1)
	}
}

func (c *connCounts) refuse() {
	if c != nil {
		c.refused.Add(1)
	}
}

// newAppMetrics returns the metrics of a server starting with snap, or
// nil when [metrics] turns them off.
func newAppMetrics(cfg *config.Config, snap *zones.Snapshot) *appMetrics {
	if !cfg.Metrics.Enabled {
		return nil
	}
	m := &appMetrics{failedAt: map[string]bool{}, snap: snap}
	m.loaded.served(snap, time.Now())
	m.admin[0].max = cfg.Health.AdminLimits.MaxConns
	m.admin[1].max = cfg.Health.AdminLimits.MaxConns
	return m
}

// serve makes the handler, once the server, prober and policies exist.
func (m *appMetrics) serve(cfg config.MetricsConfig, srv *dnsrr.Server, h *health, ps *policies, version string) {
	if m == nil {
		return
	}
	m.handler = metrics.Handler(metrics.Sources{
		Server:          srv.Stats,
		RRL:             ps.stats,
		Zones:           m.zones,
		Reloads:         m.reloadStats,
		Health:          healthMetrics{h},
		Admin:           m.adminStats,
		Cluster:         h.clusterMetrics(),
		MaxMemberSeries: cfg.MaxMemberSeries,
		MaxPoolSeries:   cfg.MaxPoolSeries,
		Version:         version,
	})
}

// reloaded records a reload that swapped in snap, replacing old; err is
// its error, when some zones kept their old version.
func (m *appMetrics) reloaded(old, snap *zones.Snapshot, err error) {
	if m == nil {
		return
	}
	now := time.Now()
	m.loaded.served(snap, now)
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.failedAt)
	for _, z := range snap.Zones() {
		// A reload reads every file again: a zone still served as it was
		// is one whose file failed to load.
		if old.Zone(z.Origin) == z {
			m.failedAt[z.Origin] = true
		}
	}
	m.snap = snap
	m.count(now, err == nil)
}

// failed records a reload that changed nothing: every zone's file counts
// as not loaded.
func (m *appMetrics) failed() {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, z := range m.snap.Zones() {
		m.failedAt[z.Origin] = true
	}
	m.count(time.Now(), false)
}

func (m *appMetrics) count(now time.Time, ok bool) {
	if ok {
		m.reloads.Succeeded++
	} else {
		m.reloads.Failed++
	}
	m.reloads.Last, m.reloads.LastOK = now, ok
}

func (m *appMetrics) zones() []metrics.Zone {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []metrics.Zone
	for _, z := range m.snap.Zones() {
		out = append(out, metrics.Zone{
			Origin: z.Origin, Serial: z.Serial, Records: z.Records,
			LoadedAt: m.loaded.when(z), LastReloadOK: !m.failedAt[z.Origin],
		})
	}
	return out
}

func (m *appMetrics) reloadStats() metrics.Reloads {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reloads
}

func (m *appMetrics) adminStats() []metrics.AdminListener {
	var out []metrics.AdminListener
	for i, name := range []string{"admin", "status"} {
		c := &m.admin[i]
		l := c.limit.Load()
		if l == nil {
			continue // not listening
		}
		out = append(out, metrics.AdminListener{
			Name: name, Open: l.open(), Max: c.max,
			Refused: c.refused.Load(), Evicted: c.evicted.Load(),
		})
	}
	return out
}

// counts returns the connection counts of the admin listener (readOnly:
// the status one), or nil without metrics.
func (m *appMetrics) counts(readOnly bool) *connCounts {
	if m == nil {
		return nil
	}
	if readOnly {
		return &m.admin[1]
	}
	return &m.admin[0]
}

// withMetrics serves /metrics beside the admin API's handler.
func (m *appMetrics) withMetrics(next http.Handler) http.Handler {
	if m == nil || m.handler == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		m.handler.ServeHTTP(w, r)
	})
}

// healthMetrics is the health checks as the metrics see them: by pool.
type healthMetrics struct{ h *health }

func (hm healthMetrics) Counts() healthprobe.Counts { return hm.h.prober.Counts() }
func (hm healthMetrics) View() *healthprobe.View    { return hm.h.prober.View() }

func (hm healthMetrics) plan() *probePlan {
	hm.h.mu.RLock()
	defer hm.h.mu.RUnlock()
	return hm.h.plan
}

func (hm healthMetrics) Size() (pools, members int) {
	p := hm.plan()
	for _, z := range p.snap.Zones() {
		for _, pool := range z.PoolDefs {
			if pool.Check != nil && p.checks[pool.Check] != nil {
				pools++
				members += len(pool.Members())
			}
		}
	}
	return pools, members
}

func (hm healthMetrics) Pools(fn func(pool string, members []netip.Addr, status func(netip.Addr) (healthprobe.Status, bool)) bool) {
	p := hm.plan()
	view := hm.h.prober.View() // one view for the whole scrape
	for _, z := range p.snap.Zones() {
		for _, pool := range z.PoolDefs {
			if pool.Check == nil || p.checks[pool.Check] == nil {
				continue
			}
			status := func(a netip.Addr) (healthprobe.Status, bool) {
				key, ok := p.keys[member{pool.Check, a}]
				if !ok {
					return healthprobe.Status{}, false
				}
				return view.Status(key)
			}
			if !fn(pool.Name, pool.Members(), status) {
				return
			}
		}
	}
}

// stats are the rate limiter's totals since start, over every limiter a
// change of [rrl] made.
func (ps *policies) stats() rrl.Stats {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	s := ps.base
	for _, l := range []*rrl.Limiter{ps.limiter, ps.retired} {
		t := l.Stats()
		s.Passed += t.Passed
		s.Slipped += t.Slipped
		s.Dropped += t.Dropped
		s.WouldLimit += t.WouldLimit
		s.Episodes += t.Episodes
	}
	return s
}
