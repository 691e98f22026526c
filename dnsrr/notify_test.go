package dnsrr_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// TestNotifyRetriesUntilAnswered runs a secondary that ignores the first
// NOTIFY and checks the TSIG of each: the notifier must retry, signed.
func TestNotifyRetriesUntilAnswered(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []uint32
	acked := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, TsigSecret: xfrSecret, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if r.Opcode != dns.OpcodeNotify || r.IsTsig() == nil || w.TsigStatus() != nil {
			t.Errorf("got opcode %d, TSIG %v, status %v; want a signed NOTIFY", r.Opcode, r.IsTsig(), w.TsigStatus())
			return
		}
		got = append(got, r.Answer[0].(*dns.SOA).Serial)
		if len(got) == 1 {
			return // lost: the notifier must try again
		}
		m := new(dns.Msg)
		m.SetReply(r)
		m.SetTsig(xfrKey.Name, dns.HmacSHA256, 300, time.Now().Unix())
		_ = w.WriteMsg(m)
		if len(got) == 2 {
			close(acked)
		}
	})}
	go func() { _ = srv.ActivateAndServe() }()
	defer func() { _ = srv.Shutdown() }()

	n := dnsrr.NewNotifier(zerolog.Nop())
	defer n.Stop()
	n.Notify("rr.test.", 42, []dnsrr.NotifyTarget{{Addr: pc.LocalAddr().String(), Key: xfrKey}})
	select {
	case <-acked:
	case <-time.After(60 * time.Second):
		t.Fatal("the NOTIFY was not retried")
	}
	n.Stop()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != 42 || got[1] != 42 {
		t.Errorf("secondary saw serials %v; want [42 42]: one lost, one answered, no more", got)
	}
}

func TestSerialLess(t *testing.T) {
	for _, c := range []struct {
		a, b uint32
		less bool
	}{
		{1, 2, true}, {2, 1, false}, {5, 5, false},
		{4294967290, 5, true}, // across the wrap (RFC 1982 §3.2)
		{5, 4294967290, false},
		{0, 1<<31 - 1, true},
		{0, 1 << 31, false}, {1 << 31, 0, false}, // undefined: neither
	} {
		if got := dnsrr.SerialLess(c.a, c.b); got != c.less {
			t.Errorf("SerialLess(%d, %d) = %v, want %v", c.a, c.b, got, c.less)
		}
	}
}

// TestNotifySuperseded: a NOTIFY of a newer serial replaces one still
// retrying; the older one's failure starts no retry.
func TestNotifySuperseded(t *testing.T) {
	n := dnsrr.NewNotifier(zerolog.Nop())
	release := make(chan struct{})
	var mu sync.Mutex
	var sent []uint32
	acked := make(chan struct{})
	dnsrr.SetNotifyExchange(n, func(ctx context.Context, m *dns.Msg, _ dnsrr.NotifyTarget) (*dns.Msg, error) {
		serial := m.Answer[0].(*dns.SOA).Serial
		mu.Lock()
		sent = append(sent, serial)
		mu.Unlock()
		if serial == 1 {
			<-release
			return nil, errors.New("timed out")
		}
		close(acked)
		r := new(dns.Msg)
		r.SetReply(m)
		return r, nil
	})
	target := []dnsrr.NotifyTarget{{Addr: "127.0.0.1:1"}}
	n.Notify("rr.test.", 1, target)
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(sent) == 1 })
	n.Notify("rr.test.", 2, target)
	select {
	case <-acked:
	case <-time.After(30 * time.Second):
		t.Fatal("the newer NOTIFY was not sent while the older one was in flight")
	}
	close(release)
	n.Stop()
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != 2 || sent[0] != 1 || sent[1] != 2 {
		t.Errorf("sent serials %v; want [1 2]: the failed serial 1 is not retried once superseded", sent)
	}
}

// TestNotifyBoundedInFlight: NOTIFYs of many zones are sent at most 16 at
// a time, and all of them are.
func TestNotifyBoundedInFlight(t *testing.T) {
	n := dnsrr.NewNotifier(zerolog.Nop())
	var mu sync.Mutex
	inFlight, most, done := 0, 0, 0
	gate := make(chan struct{})
	dnsrr.SetNotifyExchange(n, func(ctx context.Context, m *dns.Msg, _ dnsrr.NotifyTarget) (*dns.Msg, error) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		<-gate
		mu.Lock()
		inFlight--
		done++
		mu.Unlock()
		r := new(dns.Msg)
		r.SetReply(m)
		return r, nil
	})
	for i := range 200 {
		n.Notify(fmt.Sprintf("z%d.test.", i), 1, []dnsrr.NotifyTarget{{Addr: "127.0.0.1:1"}})
	}
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return inFlight == 16 })
	close(gate)
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return done == 200 })
	n.Stop()
	if most != 16 {
		t.Errorf("%d NOTIFYs in flight at most; want 16", most)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
