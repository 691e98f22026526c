package healthprobe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestProbeSource: TCP and HTTP probes leave from the check's source, and
// the source is part of Key but not of SharedKey.
func TestProbeSource(t *testing.T) {
	src := netip.MustParseAddr("127.0.0.5")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, 4)
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		seen <- host
	}))
	hs.Listener = ln
	hs.Start()
	defer hs.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	target := netip.MustParseAddr("127.0.0.1")

	for _, kind := range []string{KindTCP, KindHTTP} {
		c := &Check{Kind: kind, Port: port, Source: src}
		c.ApplyDefaults()
		probe, release := newProbe(Target{Addr: target, Check: c}, c, "test")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := probe(ctx)
		cancel()
		release()
		if err != nil {
			t.Fatalf("%s probe from %s: %v", kind, src, err)
		}
	}
	if got := <-seen; got != src.String() {
		t.Errorf("HTTP probe came from %s, want %s", got, src)
	}

	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	go func() {
		if conn, err := raw.Accept(); err == nil {
			seen <- conn.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap().String()
			conn.Close()
		}
	}()
	tc := &Check{Kind: KindTCP, Port: raw.Addr().(*net.TCPAddr).Port, Source: src}
	tc.ApplyDefaults()
	tprobe, trelease := newProbe(Target{Addr: target, Check: tc}, tc, "test")
	defer trelease()
	tctx, tcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer tcancel()
	if _, err := tprobe(tctx); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got != src.String() {
		t.Errorf("TCP probe came from %s, want %s", got, src)
	}

	// A source of the other family is not used: the system chooses.
	c := &Check{Kind: KindTCP, Port: port, Source: netip.MustParseAddr("::1")}
	c.ApplyDefaults()
	probe, release := newProbe(Target{Addr: target, Check: c}, c, "test")
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := probe(ctx); err != nil {
		t.Errorf("IPv4 target with an IPv6 source: %v", err)
	}

	with := Target{Addr: target, Check: &Check{Kind: KindTCP, Port: 80, Source: src}}
	without := Target{Addr: target, Check: &Check{Kind: KindTCP, Port: 80}}
	if !strings.Contains(with.Key(), "source=127.0.0.5") || with.Key() == without.Key() {
		t.Errorf("Key %q does not name the source", with.Key())
	}
	if with.SharedKey() != without.Key() {
		t.Errorf("SharedKey %q, want %q", with.SharedKey(), without.Key())
	}
}
