package dnsrr_test

import (
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
