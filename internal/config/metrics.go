package config

import "github.com/dnsrr/dnsrr/zones/tomlfile"

// MetricsConfig is the [metrics] table: the Prometheus metrics served at
// /metrics on the admin API's listeners (README, "Metrics").
type MetricsConfig struct {
	// Enabled serves /metrics on [health] admin (behind its token, if
	// any) and status_listen.
	Enabled bool
	// MaxMemberSeries bounds the per-member health series: with more pool
	// members than this (over every checked pool), members are counted
	// per pool instead. 0 never gives members their own series.
	MaxMemberSeries int
	// MaxPoolSeries bounds the per-pool health series: with more checked
	// pools than this, only totals are given.
	MaxPoolSeries int
}

// Bounds and defaults of [metrics]. A member costs six series or more
// (state, probe duration, failures in a row, transitions, failures by
// reason), so the default keeps a scrape of the member series under a
// few MB.
const (
	DefaultMaxMemberSeries = 1000
	DefaultMaxPoolSeries   = 10000
	maxSeriesBound         = 1000000
)

func defaultMetrics() MetricsConfig {
	return MetricsConfig{Enabled: true, MaxMemberSeries: DefaultMaxMemberSeries, MaxPoolSeries: DefaultMaxPoolSeries}
}

// readMetrics reads the [metrics] table into c.Metrics.
func readMetrics(root *tomlfile.Table, c *Config) {
	t, ok := root.Table("metrics")
	if !ok {
		return
	}
	if b, ok := t.Bool("enabled"); ok {
		c.Metrics.Enabled = b
	}
	if n, ok := t.Int("max_member_series", 0, maxSeriesBound); ok {
		c.Metrics.MaxMemberSeries = int(n)
	}
	if n, ok := t.Int("max_pool_series", 0, maxSeriesBound); ok {
		c.Metrics.MaxPoolSeries = int(n)
	}
	t.Done()
}
