package app

import (
	"fmt"
	"os"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/internal/config"
	"github.com/rs/zerolog"
)

// queryLog is one opening of the query log: the logger the answer path
// writes to and the file under it, if any.
type queryLog struct {
	ql   *dnsrr.QueryLog
	file *os.File
}

// openQueryLog starts the query log cfg asks for (nil when off): to a
// file of its own, JSON a line, or with the process's logs. A file is
// opened anew on every reload, so that after logrotate moves it the
// reload's SIGHUP starts a new one.
func openQueryLog(cfg config.QueryLog, log zerolog.Logger) (*queryLog, error) {
	if cfg.Sample == 0 {
		return nil, nil
	}
	if cfg.File == "" {
		l := log.With().Str("component", "querylog").Logger()
		return &queryLog{ql: dnsrr.NewQueryLog(l, cfg.Sample, cfg.MaxPerSecond)}, nil
	}
	f, err := os.OpenFile(cfg.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("[query_log] file: %w", err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		// A FIFO nobody reads would block the workers writing to it.
		f.Close()
		return nil, fmt.Errorf("[query_log] file: %s is not a regular file", cfg.File)
	}
	l := zerolog.New(f).With().Timestamp().Str("component", "querylog").Logger()
	return &queryLog{ql: dnsrr.NewQueryLog(l, cfg.Sample, cfg.MaxPerSecond), file: f}, nil
}

// logger is what the answer path's Policy carries (nil when off).
func (q *queryLog) logger() *dnsrr.QueryLog {
	if q == nil {
		return nil
	}
	return q.ql
}

// close stops the query log and closes its file.
func (q *queryLog) close() {
	if q == nil {
		return
	}
	q.ql.Close()
	if q.file != nil {
		q.file.Close()
	}
}
