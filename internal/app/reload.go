package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/dnsrr/dnsrr/zones"
)

// reloadQueue hands reload requests of the admin API (POST /reload) to the
// reload goroutine, beside SIGHUP, and their outcomes back. Requests that
// arrive while a reload runs are served together by the next one, as
// SIGHUPs are: each waits for a reload that read the files after it asked.
type reloadQueue struct {
	// kick wakes the reload goroutine; one pending wake is enough.
	kick chan struct{}

	mu sync.Mutex
	// asked counts requests; served is the count the last finished reload
	// started after, so it served every request up to it.
	asked, served uint64
	last          reloadResult
	// done is closed, and replaced, when a reload finishes.
	done chan struct{}
}

func newReloadQueue() *reloadQueue {
	return &reloadQueue{kick: make(chan struct{}, 1), done: make(chan struct{})}
}

// start is called by the reload goroutine as a reload starts: it serves
// every request asked so far.
func (q *reloadQueue) start() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.asked
}

// finish records the outcome of the reload that start returned serving for.
func (q *reloadQueue) finish(serving uint64, r reloadResult) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.served, q.last = serving, r
	close(q.done)
	q.done = make(chan struct{})
}

// errReloadWait is a wait for a reload that ended before its outcome.
var errReloadWait = errors.New("the reload is still running: its outcome will be in the log")

// request asks for a reload and waits, until ctx ends, for the outcome of
// one that started after the request.
func (q *reloadQueue) request(ctx context.Context) (reloadResult, error) {
	q.mu.Lock()
	q.asked++
	ticket := q.asked
	q.mu.Unlock()
	select {
	case q.kick <- struct{}{}:
	default: // a wake is pending: the reload it starts serves us too
	}
	for {
		q.mu.Lock()
		if q.served >= ticket {
			r := q.last
			q.mu.Unlock()
			return r, nil
		}
		done := q.done
		q.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return reloadResult{}, errReloadWait
		}
	}
}

// reloadResult is the outcome of one reload, as POST /reload reports it.
type reloadResult struct {
	// Result is "applied" (every zone loaded from its file), "unchanged"
	// (applied, and no zone's serial or list of zones changed) or "failed"
	// (Errors say why; zones whose file failed keep their old version,
	// and when the configuration or every file failed, nothing changed).
	Result   string       `json:"result"`
	Errors   []string     `json:"errors,omitempty"`
	Zones    []zoneResult `json:"zones"`
	Removed  []string     `json:"removed,omitempty"` // zones no longer served
	Duration float64      `json:"duration_s"`
}

// zoneResult is one zone served after a reload.
type zoneResult struct {
	Zone   string `json:"zone"`
	Serial uint32 `json:"serial"`
	// Previous is the serial served before; nil for a new zone.
	Previous *uint32 `json:"previous_serial,omitempty"`
	// KeptOld says its file failed to load: the old version is served.
	KeptOld bool `json:"kept_old,omitempty"`
}

// reloadOutcome describes a reload from old to snap (nil: nothing was
// swapped in) with err, the problems found.
func reloadOutcome(old, snap *zones.Snapshot, err error, start time.Time) reloadResult {
	r := reloadResult{Result: "applied", Zones: []zoneResult{}, Duration: time.Since(start).Seconds()}
	for _, e := range zones.Errors(err) {
		r.Errors = append(r.Errors, e.Error())
	}
	if err != nil {
		r.Result = "failed"
	}
	if snap == nil {
		snap = old
	}
	changed := len(old.Zones()) != len(snap.Zones())
	for _, z := range snap.Zones() {
		zr := zoneResult{Zone: z.Origin, Serial: z.Serial}
		if prev := old.Zone(z.Origin); prev != nil {
			serial := prev.Serial
			zr.Previous, zr.KeptOld = &serial, prev == z && err != nil
			changed = changed || serial != z.Serial
		} else {
			changed = true
		}
		r.Zones = append(r.Zones, zr)
	}
	for _, z := range old.Zones() {
		if snap.Zone(z.Origin) == nil {
			r.Removed = append(r.Removed, z.Origin)
		}
	}
	if err == nil && !changed {
		r.Result = "unchanged"
	}
	return r
}

// reloadWait bounds how long POST /reload waits for the reload's outcome:
// a load is bounded by reload_timeout, and new targets' first probe round
// by firstRoundLimit; a minute more covers reading the configuration and
// the files settling.
func reloadWait(loadTimeout time.Duration) time.Duration {
	return loadTimeout + firstRoundLimit + time.Minute
}

// withReload serves POST /reload beside api, on the admin address only:
//
//	POST /reload   reload the configuration and zones as SIGHUP does, and
//	               report the outcome as JSON: 200 applied or unchanged,
//	               422 failed, 504 still running after reloadWait, 503
//	               shutting down
func (e *endpoints) withReload(api http.Handler, readOnly bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", api)
	if readOnly {
		mux.HandleFunc("/reload", func(w http.ResponseWriter, r *http.Request) {
			writeJSONError(w, http.StatusForbidden, "this address serves read-only views: reload through the admin address ([health] admin)")
		})
		return mux
	}
	mux.HandleFunc("/reload", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", http.MethodPost)
		writeJSONError(w, http.StatusMethodNotAllowed, "POST /reload reloads; to read the status, GET /status")
	})
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
		wait := reloadWait(e.reloadTimeout)
		// The reload may outlast admin_write_timeout: this response may.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(wait + 10*time.Second))
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		defer cancel()
		if e.stopping != nil {
			var stopCancel context.CancelFunc
			ctx, stopCancel = context.WithCancel(ctx)
			defer stopCancel()
			stop := context.AfterFunc(e.stopping, stopCancel)
			defer stop()
		}
		res, err := e.reloads.request(ctx)
		switch {
		case err != nil && e.stopping != nil && e.stopping.Err() != nil:
			writeJSONError(w, http.StatusServiceUnavailable, "shutting down: no reload")
		case err != nil:
			writeJSONError(w, http.StatusGatewayTimeout, err.Error())
		case res.Result == "failed":
			writeJSON(w, http.StatusUnprocessableEntity, res)
		default:
			writeJSON(w, http.StatusOK, res)
		}
	})
	return mux
}

// writeJSON writes v as the admin API writes its answers: indented JSON,
// never cached.
func writeJSON(w http.ResponseWriter, code int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeJSONError writes an error as the admin API does: {"error": msg}.
func writeJSONError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
