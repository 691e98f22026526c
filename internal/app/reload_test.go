package app

import (
	"context"
	"errors"
	"sync"
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
