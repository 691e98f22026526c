package config

import (
	"github.com/dnsrr/dnsrr/zones/tomlfile"
)

// QueryLog is the [query_log] table: a sample of the queries answered, one
// structured line each (README, "Query log").
type QueryLog struct {
	// Sample logs 1 query in Sample; 0 turns the query log off.
	Sample int
	// File receives the lines (JSON, one object a line), opened again on
	// every reload so that logrotate can move it; "" writes them to stderr
	// with the other logs.
	File string
	// MaxPerSecond caps the lines written a second; the rest are counted
	// in one "suppressed" line a second.
	MaxPerSecond int
}

// Bounds of [query_log].
const (
	maxQueryLogSample    = 1 << 30
	maxQueryLogPerSecond = 100_000
)

// defaultQueryLog: off. When on, 100 lines a second keep a flood from
// filling a disk (about 3 GB a day at 350 bytes a line) and still show
// every query of a test or a quiet server.
var defaultQueryLog = QueryLog{MaxPerSecond: 100}

// readQueryLog reads the [query_log] table into c.QueryLog.
func readQueryLog(root *tomlfile.Table, c *Config) {
	t, ok := root.Table("query_log")
	if !ok {
		return
	}
	if n, ok := t.Int("sample", 0, maxQueryLogSample); ok {
		c.QueryLog.Sample = int(n)
	}
	if v, ok := t.String("file"); ok {
		c.QueryLog.File = relative(c.File, v)
	}
	if n, ok := t.Int("max_per_second", 1, maxQueryLogPerSecond); ok {
		c.QueryLog.MaxPerSecond = int(n)
	}
	t.Done()
}
