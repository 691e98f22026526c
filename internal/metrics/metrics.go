// Package metrics exports dnsrr's counters to Prometheus. The answer path
// counts into plain atomics (dnsrr.Server.Stats), the prober keeps its
// own (healthprobe); a Collector reads them at each scrape and emits
// constant metrics, so nothing on the answer path touches a Prometheus
// type, takes a lock or allocates. The README's "Metrics" section lists
// every metric.
package metrics

import (
	"net/http"
	"net/netip"
	"runtime"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/dnsrr/rrl"
	"github.com/dnsrr/dnsrr/healthprobe"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Zone is one zone served, with what its last reload did.
type Zone struct {
	Origin  string
	Serial  uint32
	Records int
	// LoadedAt is when the version served was loaded.
	LoadedAt time.Time
	// LastReloadOK is false when the last reload failed to load the zone's
	// file, so that the old version is still served.
	LastReloadOK bool
}

// Reloads are the reloads since start.
type Reloads struct {
	// Succeeded and Failed count reloads; one that kept some old zones
	// (a file failed to load) failed.
	Succeeded, Failed uint64
	// Last is when the last reload ended (zero: none yet), LastOK whether
	// it succeeded.
	Last   time.Time
	LastOK bool
}

// AdminListener is what one admin API listener's connection cap did.
type AdminListener struct {
	Name             string // "admin" or "status"
	Open, Max        int
	Refused, Evicted uint64
}

// Health is what the collector asks of the health checks at a scrape.
type Health interface {
	// Counts are the prober's totals, View its current state.
	Counts() healthprobe.Counts
	View() *healthprobe.View
	// Size is the number of pools with a health check and of their
	// members.
	Size() (pools, members int)
	// Pools calls fn for each pool with a health check, with each member's
	// status (ok false: not probed yet); it stops when fn returns false.
	Pools(fn func(pool string, members []netip.Addr, status func(netip.Addr) (healthprobe.Status, bool)) bool)
}

// Sources are what a Collector reads at each scrape; nil ones are left out.
type Sources struct {
	Server  func(*dnsrr.Stats)
	RRL     func() rrl.Stats
	Zones   func() []Zone
	Reloads func() Reloads
	Health  Health
	Admin   func() []AdminListener
	Cluster func() Cluster // nil outside a cluster
	// MaxMemberSeries and MaxPoolSeries bound the health series (see
	// config.MetricsConfig).
	MaxMemberSeries, MaxPoolSeries int
	Version                        string
}

// Collector is a prometheus.Collector of dnsrr's metrics.
type Collector struct {
	src Sources
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a Collector reading src.
func NewCollector(src Sources) *Collector { return &Collector{src: src} }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("dnsrr_"+name, help, labels, nil)
}

var (
	buildInfo = desc("build_info", "The version of dnsrr and of Go that built it; always 1.", "version", "goversion")

	queries   = desc("queries_total", "Queries answered, by transport, query type and the answer's rcode.", "transport", "qtype", "rcode")
	truncated = desc("responses_truncated_total", "Answers sent with TC set: too large for the client's UDP payload, or slipped by rate limiting.", "transport")
	dropped   = desc("queries_dropped_total", "Queries that got no answer: not a query (a response, a runt), or dropped by rate limiting.", "transport", "reason")
	latency   = desc("answer_duration_seconds", "Time from a query's read to its answer's write (UDP: per batch of up to 32 queries; TCP: per write of pipelined answers).", "transport")
	cookies   = desc("cookies_total", "Queries with a DNS COOKIE option while cookies are on, by what it held.", "result")

	tcpAccepted     = desc("tcp_connections_accepted_total", "DNS-over-TCP connections accepted.")
	tcpRefused      = desc("tcp_connections_refused_total", "DNS-over-TCP connections closed at once: at a connection cap with every slot busy answering.")
	tcpEvicted      = desc("tcp_connections_evicted_total", "Idle DNS-over-TCP connections closed to make room for a new one.")
	tcpAcceptErrors = desc("tcp_accept_errors_total", "Failed accepts of DNS-over-TCP connections (out of file descriptors, mostly).")
	tcpOpen         = desc("tcp_connections_open", "DNS-over-TCP connections open now.")
	tcpMax          = desc("tcp_connections_max", "The cap on DNS-over-TCP connections ([tcp] max_connections, after fitting the file descriptor limit).")

	rrlResponses = desc("rrl_responses_total", "Responses rate limiting decided on, by verdict (exempt clients and unlimited kinds are not counted; would_limit: log_only mode).", "verdict")
	rrlEpisodes  = desc("rrl_episodes_total", "Limiting episodes started: an account of a client network running out.")

	zoneSerial   = desc("zone_serial", "The SOA serial of the zone served.", "zone")
	zoneRecords  = desc("zone_records", "Records in the zone served.", "zone")
	zoneLoaded   = desc("zone_last_load_timestamp_seconds", "When the version of the zone served was loaded (Unix time).", "zone")
	zoneReloadOK = desc("zone_last_reload_success", "Whether the last reload loaded the zone's file (0: it failed and the old version is served).", "zone")
	reloads      = desc("reloads_total", "Reloads (SIGHUP), by result; one that kept an old zone failed.", "result")
	reloadLast   = desc("last_reload_timestamp_seconds", "When the last reload ended (Unix time; 0: none yet).")
	reloadOK     = desc("last_reload_success", "Whether the last reload succeeded (1 before the first).")

	adminOpen    = desc("admin_connections_open", "Connections open on an admin API listener.", "listener")
	adminMax     = desc("admin_connections_max", "The cap on an admin API listener's connections ([health] admin_max_connections).", "listener")
	adminRefused = desc("admin_connections_refused_total", "Connections an admin API listener closed at once: at its cap with none to give way.", "listener")
	adminEvicted = desc("admin_connections_evicted_total", "Idle connections an admin API listener closed to make room for a new one.", "listener")

	probeTargets     = desc("probe_targets", "Probe targets (address and check) by health state.", "state")
	probes           = desc("probes_total", "Probes run to a result.")
	probeFailures    = desc("probe_failures_total", "Failed probes by reason.", "reason")
	probeTransitions = desc("probe_transitions_total", "Changes of a target between up and down.")
	drained          = desc("drained_addresses", "Addresses drained by an operator.")

	poolMembers     = desc("pool_members", "Members of a pool with a health check, by health state.", "pool", "state")
	poolDrained     = desc("pool_members_drained", "Members of a pool with a health check that are drained.", "pool")
	poolFailures    = desc("pool_probe_failures_total", "Failed probes of a pool's members, by reason (when members have no series of their own).", "pool", "reason")
	poolTransitions = desc("pool_transitions_total", "Changes of a pool's members between up and down (when members have no series of their own).", "pool")

	memberState       = desc("pool_member_state", "A pool member's health state: 1 for the state it is in.", "pool", "member", "state")
	memberDrained     = desc("pool_member_drained", "Whether a pool member is drained.", "pool", "member")
	memberDuration    = desc("pool_member_probe_duration_seconds", "How long a pool member's last probe took.", "pool", "member")
	memberConsecutive = desc("pool_member_consecutive_failures", "A pool member's failed probes in a row.", "pool", "member")
	memberTransitions = desc("pool_member_transitions_total", "Changes of a pool member between up and down.", "pool", "member")
	memberFailures    = desc("pool_member_probe_failures_total", "A pool member's failed probes, by reason (a reason appears once it occurred).", "pool", "member", "reason")
)

var allDescs = []*prometheus.Desc{
	buildInfo, queries, truncated, dropped, latency, cookies,
	tcpAccepted, tcpRefused, tcpEvicted, tcpAcceptErrors, tcpOpen, tcpMax,
	rrlResponses, rrlEpisodes,
	zoneSerial, zoneRecords, zoneLoaded, zoneReloadOK, reloads, reloadLast, reloadOK,
	adminOpen, adminMax, adminRefused, adminEvicted,
	probeTargets, probes, probeFailures, probeTransitions, drained,
	poolMembers, poolDrained, poolFailures, poolTransitions,
	memberState, memberDrained, memberDuration, memberConsecutive, memberTransitions, memberFailures,
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
	for _, d := range clusterDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(buildInfo, 1, c.src.Version, runtime.Version())
	if c.src.Server != nil {
		c.collectServer(ch, gauge, counter)
	}
	if c.src.RRL != nil {
		s := c.src.RRL()
		counter(rrlResponses, s.Passed, "passed")
		counter(rrlResponses, s.Slipped, "slipped")
		counter(rrlResponses, s.Dropped, "dropped")
		counter(rrlResponses, s.WouldLimit, "would_limit")
		counter(rrlEpisodes, s.Episodes)
	}
	if c.src.Zones != nil {
		for _, z := range c.src.Zones() {
			gauge(zoneSerial, float64(z.Serial), z.Origin)
			gauge(zoneRecords, float64(z.Records), z.Origin)
			gauge(zoneLoaded, unixSeconds(z.LoadedAt), z.Origin)
			gauge(zoneReloadOK, boolValue(z.LastReloadOK), z.Origin)
		}
	}
	if c.src.Cluster != nil {
		c.collectCluster(gauge)
	}
	if c.src.Reloads != nil {
		r := c.src.Reloads()
		counter(reloads, r.Succeeded, "success")
		counter(reloads, r.Failed, "failure")
		gauge(reloadLast, unixSeconds(r.Last))
		gauge(reloadOK, boolValue(r.LastOK || r.Last.IsZero()))
	}
	if c.src.Admin != nil {
		for _, l := range c.src.Admin() {
			gauge(adminOpen, float64(l.Open), l.Name)
			gauge(adminMax, float64(l.Max), l.Name)
			counter(adminRefused, l.Refused, l.Name)
			counter(adminEvicted, l.Evicted, l.Name)
		}
	}
	if c.src.Health != nil {
		c.collectHealth(ch, gauge, counter)
	}
}

func (c *Collector) collectServer(ch chan<- prometheus.Metric, gauge func(*prometheus.Desc, float64, ...string), counter func(*prometheus.Desc, uint64, ...string)) {
	var s dnsrr.Stats
	c.src.Server(&s)
	for tr := range dnsrr.NumTransports {
		trName := dnsrr.TransportNames[tr]
		// Only the combinations seen: most of the 450 per transport never
		// occur, and a series appears when its first answer is counted.
		for qt := range dnsrr.NumQtypes {
			for rc := range dnsrr.NumRcodes {
				if n := s.Queries[tr][qt][rc]; n > 0 {
					counter(queries, n, trName, dnsrr.QtypeNames[qt], dnsrr.RcodeNames[rc])
				}
			}
		}
		counter(truncated, s.Truncated[tr], trName)
		for r := range dnsrr.NumDropReasons {
			counter(dropped, s.Dropped[tr][r], trName, dnsrr.DropReasonNames[r])
		}
		h := &s.Latency[tr]
		buckets := make(map[float64]uint64, len(dnsrr.LatencyBounds))
		var cum uint64
		for i, b := range dnsrr.LatencyBounds {
			cum += h.Counts[i]
			buckets[b.Seconds()] = cum
		}
		ch <- prometheus.MustNewConstHistogram(latency, cum+h.Counts[dnsrr.NumLatencyBuckets-1], h.Sum.Seconds(), buckets, trName)
	}
	for r := range dnsrr.NumCookieResults {
		counter(cookies, s.Cookies[r], dnsrr.CookieResultNames[r])
	}
	counter(tcpAccepted, s.TCP.Accepted)
	counter(tcpRefused, s.TCP.Refused)
	counter(tcpEvicted, s.TCP.Evicted)
	counter(tcpAcceptErrors, s.TCP.AcceptErrors)
	gauge(tcpOpen, float64(s.TCP.Open))
	gauge(tcpMax, float64(s.TCP.MaxConns))
}

// states are the health states, by healthprobe.State.
var states = [...]string{healthprobe.Unknown: "unknown", healthprobe.Up: "up", healthprobe.Down: "down"}

func (c *Collector) collectHealth(ch chan<- prometheus.Metric, gauge func(*prometheus.Desc, float64, ...string), counter func(*prometheus.Desc, uint64, ...string)) {
	h := c.src.Health
	totals := h.Counts()
	counter(probes, totals.Probes)
	for r := range healthprobe.NumErrorReasons {
		counter(probeFailures, totals.Failures[r], r.String())
	}
	counter(probeTransitions, totals.Transitions)
	v := h.View()
	var byState [len(states)]int
	for _, st := range v.All() {
		if int(st.State) < len(byState) {
			byState[st.State]++
		}
	}
	for s, n := range byState {
		gauge(probeTargets, float64(n), states[s])
	}
	var nDrained int
	for range v.Drains() {
		nDrained++
	}
	gauge(drained, float64(nDrained))

	nPools, nMembers := h.Size()
	perMember := nMembers <= c.src.MaxMemberSeries
	if !perMember && nPools > c.src.MaxPoolSeries {
		return // totals only
	}
	h.Pools(func(pool string, members []netip.Addr, status func(netip.Addr) (healthprobe.Status, bool)) bool {
		var count [len(states)]int
		var nDrained int
		var failures [healthprobe.NumErrorReasons]uint64
		var transitions uint64
		for _, a := range members {
			st, ok := status(a)
			if !ok {
				st = healthprobe.Status{}
			}
			if int(st.State) < len(count) {
				count[st.State]++
			}
			if st.Drained {
				nDrained++
			}
			for r, n := range st.Failures {
				failures[r] += n
			}
			transitions += st.Transitions
			if !perMember {
				continue
			}
			member := a.String()
			for s, name := range states {
				gauge(memberState, boolValue(int(st.State) == s), pool, member, name)
			}
			gauge(memberDrained, boolValue(st.Drained), pool, member)
			gauge(memberDuration, st.LastDuration.Seconds(), pool, member)
			gauge(memberConsecutive, float64(st.ConsecutiveFail), pool, member)
			counter(memberTransitions, st.Transitions, pool, member)
			for r, n := range st.Failures {
				if n > 0 {
					counter(memberFailures, n, pool, member, healthprobe.ErrorReason(r).String())
				}
			}
		}
		if nPools > c.src.MaxPoolSeries {
			return true // members have series, pools too many to add theirs
		}
		for s, n := range count {
			gauge(poolMembers, float64(n), pool, states[s])
		}
		gauge(poolDrained, float64(nDrained), pool)
		if !perMember {
			for r, n := range failures {
				if n > 0 {
					counter(poolFailures, n, pool, healthprobe.ErrorReason(r).String())
				}
			}
			counter(poolTransitions, transitions, pool)
		}
		return true
	})
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// maxScrapesInFlight bounds concurrent scrapes: a scrape walks every
// checked pool member, and the read-only status listener needs no token.
const maxScrapesInFlight = 4

// scrapeTimeout bounds a scrape that waits for a slot or collects slowly.
const scrapeTimeout = 10 * time.Second

// Handler serves src's metrics with the Go runtime's and the process's,
// in the Prometheus text or protobuf format the scraper asks for.
func Handler(src Sources) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewCollector(src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: maxScrapesInFlight,
		Timeout:             scrapeTimeout,
	})
}
