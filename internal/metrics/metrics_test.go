package metrics

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/dnsrr/rrl"
	"github.com/dnsrr/dnsrr/healthprobe"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

// fakeHealth is two pools of two members; 192.0.2.2 is down after three
// refused probes.
type fakeHealth struct{}

func (fakeHealth) Counts() healthprobe.Counts {
	var c healthprobe.Counts
	c.Probes, c.Transitions = 10, 1
	c.Failures[healthprobe.ReasonRefused] = 3
	return c
}

func (fakeHealth) View() *healthprobe.View {
	// An empty View: the prober with no targets publishes one.
	p, err := healthprobe.New(healthprobe.Options{}, zerolog.Nop())
	if err != nil {
		panic(err)
	}
	return p.View()
}

func (fakeHealth) Size() (int, int) { return 2, 4 }

func (fakeHealth) Pools(fn func(string, []netip.Addr, func(netip.Addr) (healthprobe.Status, bool)) bool) {
	status := func(a netip.Addr) (healthprobe.Status, bool) {
		st := healthprobe.Status{State: healthprobe.Up, LastDuration: 2 * time.Millisecond}
		if a == netip.MustParseAddr("192.0.2.2") {
			st.State, st.ConsecutiveFail, st.Transitions = healthprobe.Down, 3, 1
			st.Failures[healthprobe.ReasonRefused] = 3
		}
		return st, true
	}
	members := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}
	if fn("a.example.", members, status) {
		fn("b.example.", members[:1], status)
	}
}

func sources() Sources {
	return Sources{
		Server: func(s *dnsrr.Stats) {
			s.Queries[dnsrr.TransportUDP][0][0] = 5 // A NOERROR
			s.Queries[dnsrr.TransportTCP][dnsrr.NumQtypes-1][23] = 2
			s.Truncated[dnsrr.TransportUDP] = 1
			s.Dropped[dnsrr.TransportUDP][dnsrr.DropRRL] = 4
			s.Latency[dnsrr.TransportUDP].Counts[0] = 3
			s.Latency[dnsrr.TransportUDP].Counts[dnsrr.NumLatencyBuckets-1] = 1
			s.Latency[dnsrr.TransportUDP].Sum = time.Second
			s.TCP = dnsrr.TCPStats{Accepted: 7, Refused: 1, Open: 2, MaxConns: 1024}
		},
		RRL: func() rrl.Stats { return rrl.Stats{Passed: 9, Slipped: 2, Dropped: 4, Episodes: 1} },
		Zones: func() []Zone {
			return []Zone{{Origin: "a.example.", Serial: 42, Records: 10, LoadedAt: time.Unix(1700000000, 0), LastReloadOK: false}}
		},
		Reloads:         func() Reloads { return Reloads{Succeeded: 2, Failed: 1, Last: time.Unix(1700000100, 0), LastOK: false} },
		Health:          fakeHealth{},
		MaxMemberSeries: 1000,
		MaxPoolSeries:   1000,
		Version:         "test",
	}
}

// TestCollector compares the collector's output with what it must be.
func TestCollector(t *testing.T) {
	c := NewCollector(sources())
	want := `
# HELP dnsrr_queries_total Queries answered, by transport, query type and the answer's rcode.
# TYPE dnsrr_queries_total counter
dnsrr_queries_total{qtype="A",rcode="NOERROR",transport="udp"} 5
dnsrr_queries_total{qtype="other",rcode="BADCOOKIE",transport="tcp"} 2
# HELP dnsrr_answer_duration_seconds Time from a query's read to its answer's write (UDP: per batch of up to 32 queries; TCP: per write of pipelined answers).
# TYPE dnsrr_answer_duration_seconds histogram
dnsrr_answer_duration_seconds_bucket{transport="tcp",le="1e-05"} 0
dnsrr_answer_duration_seconds_bucket{transport="tcp",le="2.5e-05"} 0
dnsrr_answer_duration_seconds_bucket{transport="tcp",le="5e-05"} 0
dnsrr_answer_duration_seconds_bucket{transport="tcp",le="0.0001"} 0
dnsrr_answer_duration_seconds_bucket{transport="tcp",le="0.00025"} 0
dnsrr_answer_duration_seconds_bucket{transport="tcp",le="0.0005"} 0
dnsrr_answer_duration_seconds_bucket{transport="tcp",le="0.001"} 0
dnsrr_answer_duration_seconds_bucket{transport="tcp",le="0.0025"} 0
dnsrr_answer_duration_seconds_bucket{transport="tcp",le="0.005"} 0
dnsrr_answer_duration_seconds_bucket{transport="tcp",le="0.01"} 0
dnsrr_answer_duration_seconds_bucket{transport="tcp",le="0.025"} 0
dnsrr_answer_duration_seconds_bucket{transport="tcp",le="0.05"} 0
dnsrr_answer_duration_seconds_bucket{transport="tcp",le="0.1"} 0
dnsrr_answer_duration_seconds_bucket{transport="tcp",le="+Inf"} 0
dnsrr_answer_duration_seconds_sum{transport="tcp"} 0
dnsrr_answer_duration_seconds_count{transport="tcp"} 0
dnsrr_answer_duration_seconds_bucket{transport="udp",le="1e-05"} 3
dnsrr_answer_duration_seconds_bucket{transport="udp",le="2.5e-05"} 3
dnsrr_answer_duration_seconds_bucket{transport="udp",le="5e-05"} 3
dnsrr_answer_duration_seconds_bucket{transport="udp",le="0.0001"} 3
dnsrr_answer_duration_seconds_bucket{transport="udp",le="0.00025"} 3
dnsrr_answer_duration_seconds_bucket{transport="udp",le="0.0005"} 3
dnsrr_answer_duration_seconds_bucket{transport="udp",le="0.001"} 3
dnsrr_answer_duration_seconds_bucket{transport="udp",le="0.0025"} 3
dnsrr_answer_duration_seconds_bucket{transport="udp",le="0.005"} 3
dnsrr_answer_duration_seconds_bucket{transport="udp",le="0.01"} 3
dnsrr_answer_duration_seconds_bucket{transport="udp",le="0.025"} 3
dnsrr_answer_duration_seconds_bucket{transport="udp",le="0.05"} 3
dnsrr_answer_duration_seconds_bucket{transport="udp",le="0.1"} 3
dnsrr_answer_duration_seconds_bucket{transport="udp",le="+Inf"} 4
dnsrr_answer_duration_seconds_sum{transport="udp"} 1
dnsrr_answer_duration_seconds_count{transport="udp"} 4
# HELP dnsrr_rrl_responses_total Responses rate limiting decided on, by verdict (exempt clients and unlimited kinds are not counted; would_limit: log_only mode).
# TYPE dnsrr_rrl_responses_total counter
dnsrr_rrl_responses_total{verdict="dropped"} 4
dnsrr_rrl_responses_total{verdict="passed"} 9
dnsrr_rrl_responses_total{verdict="slipped"} 2
dnsrr_rrl_responses_total{verdict="would_limit"} 0
# HELP dnsrr_zone_serial The SOA serial of the zone served.
# TYPE dnsrr_zone_serial gauge
dnsrr_zone_serial{zone="a.example."} 42
# HELP dnsrr_zone_last_reload_success Whether the last reload loaded the zone's file (0: it failed and the old version is served).
# TYPE dnsrr_zone_last_reload_success gauge
dnsrr_zone_last_reload_success{zone="a.example."} 0
# HELP dnsrr_zone_last_load_timestamp_seconds When the version of the zone served was loaded (Unix time).
# TYPE dnsrr_zone_last_load_timestamp_seconds gauge
dnsrr_zone_last_load_timestamp_seconds{zone="a.example."} 1.7e+09
# HELP dnsrr_reloads_total Reloads (SIGHUP), by result; one that kept an old zone failed.
# TYPE dnsrr_reloads_total counter
dnsrr_reloads_total{result="failure"} 1
dnsrr_reloads_total{result="success"} 2
# HELP dnsrr_pool_member_state A pool member's health state: 1 for the state it is in.
# TYPE dnsrr_pool_member_state gauge
dnsrr_pool_member_state{member="192.0.2.1",pool="a.example.",state="down"} 0
dnsrr_pool_member_state{member="192.0.2.1",pool="a.example.",state="unknown"} 0
dnsrr_pool_member_state{member="192.0.2.1",pool="a.example.",state="up"} 1
dnsrr_pool_member_state{member="192.0.2.1",pool="b.example.",state="down"} 0
dnsrr_pool_member_state{member="192.0.2.1",pool="b.example.",state="unknown"} 0
dnsrr_pool_member_state{member="192.0.2.1",pool="b.example.",state="up"} 1
dnsrr_pool_member_state{member="192.0.2.2",pool="a.example.",state="down"} 1
dnsrr_pool_member_state{member="192.0.2.2",pool="a.example.",state="unknown"} 0
dnsrr_pool_member_state{member="192.0.2.2",pool="a.example.",state="up"} 0
# HELP dnsrr_pool_member_probe_failures_total A pool member's failed probes, by reason (a reason appears once it occurred).
# TYPE dnsrr_pool_member_probe_failures_total counter
dnsrr_pool_member_probe_failures_total{member="192.0.2.2",pool="a.example.",reason="refused"} 3
# HELP dnsrr_pool_members Members of a pool with a health check, by health state.
# TYPE dnsrr_pool_members gauge
dnsrr_pool_members{pool="a.example.",state="down"} 1
dnsrr_pool_members{pool="a.example.",state="unknown"} 0
dnsrr_pool_members{pool="a.example.",state="up"} 1
dnsrr_pool_members{pool="b.example.",state="down"} 0
dnsrr_pool_members{pool="b.example.",state="unknown"} 0
dnsrr_pool_members{pool="b.example.",state="up"} 1
# HELP dnsrr_probe_failures_total Failed probes by reason.
# TYPE dnsrr_probe_failures_total counter
dnsrr_probe_failures_total{reason="body"} 0
dnsrr_probe_failures_total{reason="http_status"} 0
dnsrr_probe_failures_total{reason="other"} 0
dnsrr_probe_failures_total{reason="refused"} 3
dnsrr_probe_failures_total{reason="reset"} 0
dnsrr_probe_failures_total{reason="timeout"} 0
dnsrr_probe_failures_total{reason="tls"} 0
dnsrr_probe_failures_total{reason="unreachable"} 0
`
	names := []string{"dnsrr_queries_total", "dnsrr_answer_duration_seconds", "dnsrr_rrl_responses_total",
		"dnsrr_zone_serial", "dnsrr_zone_last_reload_success", "dnsrr_zone_last_load_timestamp_seconds", "dnsrr_reloads_total",
		"dnsrr_pool_member_state", "dnsrr_pool_member_probe_failures_total", "dnsrr_pool_members", "dnsrr_probe_failures_total"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

// TestHealthSeriesBounds: past max_member_series the members have no
// series and the pools get the failure and transition totals; past
// max_pool_series only the totals remain.
func TestHealthSeriesBounds(t *testing.T) {
	count := func(src Sources, name string) int {
		return testutil.CollectAndCount(NewCollector(src), name)
	}
	src := sources()
	if n := count(src, "dnsrr_pool_member_state"); n != 9 {
		t.Errorf("per member: %d member state series, want 9", n)
	}
	if n := count(src, "dnsrr_pool_transitions_total"); n != 0 {
		t.Errorf("per member: %d pool transition series, want 0", n)
	}
	src.MaxMemberSeries = 3 // 4 members
	if n := count(src, "dnsrr_pool_member_state") + count(src, "dnsrr_pool_member_probe_failures_total"); n != 0 {
		t.Errorf("over max_member_series: %d member series", n)
	}
	if n := count(src, "dnsrr_pool_transitions_total"); n != 2 {
		t.Errorf("over max_member_series: %d pool transition series, want 2", n)
	}
	if n := count(src, "dnsrr_pool_probe_failures_total"); n != 1 {
		t.Errorf("over max_member_series: %d pool failure series, want 1 (a.example. refused)", n)
	}
	src.MaxPoolSeries = 1 // 2 pools
	if n := count(src, "dnsrr_pool_members") + count(src, "dnsrr_pool_transitions_total"); n != 0 {
		t.Errorf("over max_pool_series: %d pool series", n)
	}
	if n := count(src, "dnsrr_probe_failures_total"); n != int(healthprobe.NumErrorReasons) {
		t.Errorf("totals: %d failure series", n)
	}
}
