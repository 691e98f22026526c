package app

import (
	"reflect"
	"sync"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/dnsrr/cookie"
	"github.com/dnsrr/dnsrr/dnsrr/rrl"
	"github.com/dnsrr/dnsrr/internal/config"
	"github.com/rs/zerolog"
)

// policies makes the answer path's Policy (cookies, NSID, rate limiting)
// from each configuration. The rate limiter is kept across reloads that
// leave [rrl] as it was, so a reload does not forgive a flood in
// progress; when [rrl] changes, the new limiter starts with fresh
// accounts. Used by start and then by the reload goroutine alone, but
// for stats, which scrapes call (under mu).
type policies struct {
	log    zerolog.Logger
	rrlCfg *rrl.Config
	// mu guards the limiters for stats (metrics.go), read by scrapes.
	mu      sync.Mutex
	limiter *rrl.Limiter
	retired *rrl.Limiter // replaced, closed once the new policy serves
	base    rrl.Stats    // the totals of the limiters closed
	// queryLog is opened anew by each make (a reload reopens its file);
	// the one it replaced is closed once the new policy serves.
	queryLog, retiredLog *queryLog
}

// make returns the policy cfg asks for; call served once the server uses it.
func (ps *policies) make(cfg *config.Config) (dnsrr.Policy, error) {
	p := dnsrr.Policy{NSID: cfg.NSID, BadCookieSlip: cfg.BadCookieSlip}
	if cfg.Cookies.Enabled {
		p.Cookies = cookie.New(cfg.Cookies.Current, cfg.Cookies.Previous)
	}
	if !reflect.DeepEqual(cfg.RRL, ps.rrlCfg) {
		var l *rrl.Limiter
		if cfg.RRL != nil {
			var err error
			if l, err = rrl.New(*cfg.RRL, ps.log); err != nil {
				return p, err
			}
		}
		ps.mu.Lock()
		ps.retired, ps.limiter, ps.rrlCfg = ps.limiter, l, cfg.RRL
		ps.mu.Unlock()
	}
	p.RRL = ps.limiter
	ql, err := openQueryLog(cfg.QueryLog, ps.log)
	if err != nil {
		return p, err
	}
	ps.retiredLog.close() // made by a make whose policy never served
	ps.retiredLog, ps.queryLog = ps.queryLog, ql
	p.QueryLog = ql.logger()
	return p, nil
}

// served closes the limiter a new policy replaced.
func (ps *policies) served() {
	ps.retired.Close()
	ps.mu.Lock()
	t := ps.retired.Stats()
	ps.base.Passed += t.Passed
	ps.base.Slipped += t.Slipped
	ps.base.Dropped += t.Dropped
	ps.base.WouldLimit += t.WouldLimit
	ps.base.Episodes += t.Episodes
	ps.retired = nil
	ps.mu.Unlock()
	ps.retiredLog.close()
	ps.retiredLog = nil
}

// close stops the limiter at shutdown.
func (ps *policies) close() {
	ps.served()
	ps.limiter.Close()
	ps.queryLog.close()
}
