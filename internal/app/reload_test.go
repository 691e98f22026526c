package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestReloadQueueCoalesces: requests waiting when a reload starts share
// its outcome; a request made while it runs waits for the next one, which
// read the files after it asked.
func TestReloadQueueCoalesces(t *testing.T) {
	q := newReloadQueue()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	results := make(chan reloadResult, 3)
	var wg sync.WaitGroup
	ask := func() {
		wg.Go(func() {
			r, err := q.request(ctx)
			if err != nil {
				t.Error(err)
			}
			results <- r
		})
	}
	ask()
	ask()
	// Both asked: wait until the kick is there and both counted.
	pollUntil(t, func() bool { q.mu.Lock(); defer q.mu.Unlock(); return q.asked == 2 })
	<-q.kick
	serving := q.start()
	if serving != 2 {
		t.Fatalf("first reload serves %d requests, want 2", serving)
	}
	ask() // arrives during the reload
	pollUntil(t, func() bool { q.mu.Lock(); defer q.mu.Unlock(); return q.asked == 3 })
	q.finish(serving, reloadResult{Result: "applied"})
	for range 2 {
		if r := <-results; r.Result != "applied" {
			t.Errorf("first reload's requests got %q", r.Result)
		}
	}
	select {
	case r := <-results:
		t.Fatalf("a request made during a reload got that reload's outcome %q", r.Result)
	default:
	}
	<-q.kick
	q.finish(q.start(), reloadResult{Result: "failed"})
	if r := <-results; r.Result != "failed" {
		t.Errorf("second reload's request got %q", r.Result)
	}
	wg.Wait()

	// A wait that ends first says so.
	short, stop := context.WithCancel(ctx)
	stop()
	if _, err := q.request(short); !errors.Is(err, errReloadWait) {
		t.Errorf("cancelled wait: %v", err)
	}
}

func pollUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestReloadEndpoint: POST /reload reports the outcome of the reload it
// asked for with its code; other methods and the read-only listener are
// refused, and a shutdown ends the wait.
func TestReloadEndpoint(t *testing.T) {
	q := newReloadQueue()
	stopping, stop := context.WithCancel(context.Background())
	defer stop()
	e := &endpoints{reloads: q, reloadTimeout: time.Minute, stopping: stopping}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	admin, readOnly := e.withReload(api, false), e.withReload(api, true)

	do := func(h http.Handler, method string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/reload", nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := do(readOnly, http.MethodPost); code != http.StatusForbidden || !strings.Contains(body, "read-only") {
		t.Errorf("read-only POST: %d %s", code, body)
	}
	if code, _ := do(admin, http.MethodGet); code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", code)
	}
	for _, tc := range []struct {
		result string
		code   int
	}{{"applied", 200}, {"unchanged", 200}, {"failed", 422}} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			<-q.kick
			q.finish(q.start(), reloadResult{Result: tc.result, Errors: []string{"zone.toml:3: x"}})
		}()
		code, body := do(admin, http.MethodPost)
		<-done
		var got reloadResult
		if err := json.Unmarshal([]byte(body), &got); err != nil || code != tc.code || got.Result != tc.result {
			t.Errorf("%s: %d %s (%v)", tc.result, code, body, err)
		}
	}
	// Nobody serves the request, and the server stops: 503.
	time.AfterFunc(50*time.Millisecond, stop)
	if code, body := do(admin, http.MethodPost); code != http.StatusServiceUnavailable {
		t.Errorf("shutting down: %d %s", code, body)
	}
}

// TestReloadRequestDuringReload: a request made while a reload runs (a
// SIGHUP's) gets the outcome of the next reload, which read the files
// after it asked, and several such requests share that one reload.
func TestReloadRequestDuringReload(t *testing.T) {
	bl := newBlockingLoad(t)
	p, reloads := testParams(t, bl.load)
	a, _ := serve(t, p)
	reloads <- syscall.SIGHUP
	waitFor(t, "first reload", bl.entered)

	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	results := make(chan reloadResult, 3)
	for range 3 {
		go func() {
			r, err := a.reloads.request(ctx)
			if err != nil {
				t.Error(err)
			}
			results <- r
		}()
	}
	poll(t, "three requests asked", func() bool { a.reloads.mu.Lock(); defer a.reloads.mu.Unlock(); return a.reloads.asked == 3 })
	close(bl.release)
	for range 3 {
		select {
		case r := <-results:
			if r.Result != "unchanged" || len(r.Zones) != 1 || r.Zones[0].Zone != "app.test." {
				t.Errorf("outcome %+v, want unchanged with app.test.", r)
			}
		case <-time.After(hangGuard):
			t.Fatal("no outcome")
		}
	}
	if n := bl.reloads.Load(); n != 2 {
		t.Errorf("%d reloads, want 2: the SIGHUP's, and one for the three requests", n)
	}
}
