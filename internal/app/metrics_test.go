package app

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/internal/config"
	"github.com/rs/zerolog"
)

// TestAdminConnCounts: an admin listener at its cap counts the idle
// connection it closes for a new one, and what /metrics reports follows.
func TestAdminConnCounts(t *testing.T) {
	limits := config.DefaultAdminLimits
	limits.MaxConns = 1
	m := &appMetrics{}
	m.admin[1].max = limits.MaxConns
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	stop, bound, err := serveAdmin("127.0.0.1:0", ok, nil, limits, m.counts(true), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// A connection that sends nothing is evictable once it has been idle
	// freshEvictAge; the second takes its place.
	first, err := net.Dial("tcp", bound)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	deadline := time.Now().Add(30 * time.Second)
	for len(m.adminStats()) == 0 || m.adminStats()[0].Open != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the first connection never counted as open")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(freshEvictAge)
	second, err := net.Dial("tcp", bound)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	for m.admin[1].evicted.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("evicted %d, want 1", m.admin[1].evicted.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	st := m.adminStats()
	if len(st) != 1 || st[0].Name != "status" || st[0].Max != 1 || st[0].Open != 1 || st[0].Refused != 0 {
		t.Errorf("admin stats %+v", st)
	}
}
