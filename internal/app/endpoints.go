package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/healthprobe"
	"github.com/dnsrr/dnsrr/internal/config"
)

// readiness is what /readyz reports: why the server is not ready to take
// traffic yet, or that it is.
type readiness struct {
	// reason is nil once ready; otherwise it says why not.
	reason atomic.Pointer[string]
	// prober, when set, says how many targets the first round waits for.
	prober atomic.Pointer[healthprobe.Prober]
}

// Reasons for not being ready, each in its stage of the process's life.
const (
	notReadyFirstRound = "first probe round running"
	notReadyListening  = "DNS listeners not started"
	notReadyStopping   = "shutting down"
)

func newReadiness(reason string) *readiness {
	r := &readiness{}
	r.notReady(reason)
	return r
}

func (r *readiness) notReady(reason string) { r.reason.Store(&reason) }

func (r *readiness) ready() { r.reason.Store(nil) }

// check returns "" when ready, else the reason.
func (r *readiness) check() string {
	reason := r.reason.Load()
	if reason == nil {
		return ""
	}
	if *reason == notReadyFirstRound {
		if p := r.prober.Load(); p != nil {
			pending, total := p.FirstRoundPending()
			return fmt.Sprintf("%s: %d of %d targets not probed yet", *reason, pending, total)
		}
	}
	return *reason
}

// endpoints are the app's own HTTP endpoints, served beside the prober's
// admin API on both the admin and the read-only status listener:
//
//	GET /healthz  200 while the process serves HTTP (liveness)
//	GET /readyz   200 once zones are loaded, the first probe round is
//	              over and DNS listens; 503 with the reason before that
//	              and while shutting down (readiness)
//	GET /         the status page (statuspage.go)
type endpoints struct {
	ready *readiness
	page  *statusPage
	// POST /reload on the admin address (reload.go).
	reloads       *reloadQueue
	reloadTimeout time.Duration
	stopping      context.Context
}

// wrap serves the app's endpoints and passes every other request to api.
func (e *endpoints) wrap(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if reason := e.ready.check(); reason != "" {
			writeText(w, http.StatusServiceUnavailable, "not ready: "+reason+"\n")
			return
		}
		writeText(w, http.StatusOK, "ready\n")
	})
	if e.page != nil {
		mux.Handle("GET /{$}", e.page)
	}
	return mux
}

func writeText(w http.ResponseWriter, code int, s string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, s)
}

// processStarted is when the process started, for the page's uptime.
var processStarted = time.Now()

// newEndpoints makes the endpoints of the server start is starting: not
// ready until the first probe round is over and DNS listens.
func (a *App) newEndpoints(cfg *config.Config, h *health, srv *dnsrr.Server) *endpoints {
	a.ready = newReadiness(notReadyFirstRound)
	a.ready.prober.Store(h.prober)
	a.page = &statusPage{
		health: h, srv: srv, ready: a.ready,
		version: a.p.Version, id: cfg.Chaos.ID, started: processStarted,
		maxPools: cfg.Health.StatusMaxPools,
	}
	if a.page.maxPools <= 0 {
		a.page.maxPools = healthprobe.DefaultMaxGroups
	}
	a.page.served(srv.Snapshot(), time.Now(), cfg.NSID)
	return &endpoints{ready: a.ready, page: a.page}
}

// readyAfterFirstRound makes the server ready once the first probe round
// is over, when start stopped waiting for it (firstRoundLimit): every
// probe ends within its timeout, so the round does end.
func (a *App) readyAfterFirstRound(ctx context.Context) {
	if a.ready.check() == "" {
		return
	}
	if err := a.health.prober.FirstRound(ctx); err == nil && ctx.Err() == nil {
		a.ready.ready()
		a.log.Info().Msg("first probe round over: ready")
		a.notifyReady("") // systemctl status no longer says the round is incomplete
	}
}
