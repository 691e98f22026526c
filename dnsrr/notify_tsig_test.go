package dnsrr_test

import (
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// syncBuffer is a log the notifier's goroutines write to while the test
// reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestNotifyReplyTSIG: the reply to a signed NOTIFY counts only when it
// is signed with our key, whatever the case the secondary spells its name
// in; an unsigned NOERROR is not an acknowledgement (anyone guessing the
// ID could send it), so the NOTIFY is sent again; a BADKEY answer is a
// refusal, logged as such at once rather than retried as a loss.
func TestNotifyReplyTSIG(t *testing.T) {
	upper := "XFR.Key."
	for _, c := range []struct {
		name    string
		reply   func(w dns.ResponseWriter, r *dns.Msg)
		wantLog string
		retried bool
	}{
		{"signed, key name in upper case", func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			m.SetTsig(upper, dns.HmacSHA256, 300, time.Now().Unix())
			_ = w.WriteMsg(m)
		}, "secondary acknowledged NOTIFY", false},
		{"unsigned NOERROR", func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			b, _ := m.Pack()
			_, _ = w.Write(b)
		}, "", true},
		{"BADKEY", func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetRcode(r, dns.RcodeNotAuth)
			m.Extra = []dns.RR{&dns.TSIG{Hdr: dns.RR_Header{Name: r.IsTsig().Hdr.Name, Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
				Algorithm: dns.HmacSHA256, TimeSigned: uint64(time.Now().Unix()), Fudge: 300, OrigId: r.Id, Error: dns.RcodeBadKey}}
			b, _ := m.Pack()
			_, _ = w.Write(b)
		}, `"tsig_error":"BADKEY"`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			seen := 0
			secrets := map[string]string{xfrKey.Name: xfrSecret[xfrKey.Name], upper: xfrSecret[xfrKey.Name]}
			srv := &dns.Server{PacketConn: pc, TsigSecret: secrets, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
				mu.Lock()
				seen++
				mu.Unlock()
				c.reply(w, r)
			})}
			go func() { _ = srv.ActivateAndServe() }()
			defer func() { _ = srv.Shutdown() }()

			var log syncBuffer
			n := dnsrr.NewNotifier(zerolog.New(&log))
			defer n.Stop()
			n.Notify("rr.test.", 42, []dnsrr.NotifyTarget{{Addr: pc.LocalAddr().String(), Key: xfrKey}})
			waitFor(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				if c.retried {
					return seen >= 2
				}
				return strings.Contains(log.String(), c.wantLog)
			})
			n.Stop()
			if !c.retried && strings.Contains(log.String(), "retrying") {
				t.Errorf("retried after a reply it should have taken:\n%s", log.String())
			}
			if c.retried && strings.Contains(log.String(), "acknowledged") {
				t.Errorf("took an unsigned reply for an acknowledgement:\n%s", log.String())
			}
		})
	}
}
