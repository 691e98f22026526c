package dnsrr

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// NotifyTarget is a secondary told of new versions of the zones (RFC 1996).
type NotifyTarget struct {
	Addr string   // host:port
	Key  *TSIGKey // signs the NOTIFY; nil: unsigned
}

// Notify timing: a NOTIFY is sent up to notifyTries times, each waiting
// notifyTimeout for the answer, with a pause that doubles from
// notifyFirstPause between tries (RFC 1996 §3.6 asks for retries; BIND and
// Knot try five times).
const (
	notifyTries      = 5
	notifyTimeout    = 2 * time.Second
	notifyFirstPause = time.Second
	// notifyParallel bounds the NOTIFYs in flight, whatever the number of
	// zones times secondaries.
	notifyParallel = 16
)

// Notifier sends NOTIFY messages, retrying each until the secondary
// answers; a newer NOTIFY of a zone to a secondary supersedes one still
// retrying.
type Notifier struct {
	log zerolog.Logger
	sem chan struct{}

	mu      sync.Mutex
	pending map[notifyKey]context.CancelFunc
	wg      sync.WaitGroup
	// exchange sends one NOTIFY and returns the reply (tests replace it).
	exchange func(ctx context.Context, m *dns.Msg, t NotifyTarget) (*dns.Msg, error)
}

type notifyKey struct{ zone, addr string }

// NewNotifier returns a Notifier that logs to log.
func NewNotifier(log zerolog.Logger) *Notifier {
	return &Notifier{log: log.With().Str("component", "notify").Logger(), sem: make(chan struct{}, notifyParallel),
		pending: map[notifyKey]context.CancelFunc{}, exchange: exchangeNotify}
}

// Notify tells each target that zone (lower-case, fully qualified) is at
// serial now, in the background.
func (n *Notifier) Notify(zone string, serial uint32, targets []NotifyTarget) {
	for _, t := range targets {
		k := notifyKey{zone, t.Addr}
		ctx, cancel := context.WithCancel(context.Background())
		n.mu.Lock()
		if prev := n.pending[k]; prev != nil {
			prev() // superseded: the secondary needs only the newest
		}
		n.pending[k] = cancel
		n.mu.Unlock()
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.send(ctx, zone, serial, t)
			n.mu.Lock()
			if ctx.Err() == nil {
				delete(n.pending, k)
			}
			n.mu.Unlock()
			cancel()
		}()
	}
}

// Stop abandons the NOTIFYs still retrying and waits for their senders.
func (n *Notifier) Stop() {
	n.mu.Lock()
	for _, cancel := range n.pending {
		cancel()
	}
	n.mu.Unlock()
	n.wg.Wait()
}

// send sends one NOTIFY until it is answered, the tries run out, or ctx
// ends.
func (n *Notifier) send(ctx context.Context, zone string, serial uint32, t NotifyTarget) {
	pause := notifyFirstPause
	log := n.log.With().Str("zone", zone).Uint32("serial", serial).Str("secondary", t.Addr).Logger()
	for try := 1; ; try++ {
		select {
		case n.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		m := new(dns.Msg)
		m.SetNotify(zone)
		// The SOA in the answer section is a hint the secondary may use
		// (RFC 1996 §3.7); NSD and Knot read the serial from it.
		m.Answer = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET}, Ns: ".", Mbox: ".", Serial: serial}}
		reply, err := n.exchange(ctx, m, t)
		<-n.sem
		switch {
		case ctx.Err() != nil:
			return
		case err == nil && reply.Rcode == dns.RcodeSuccess:
			log.Info().Int("try", try).Msg("secondary acknowledged NOTIFY")
			return
		case err == nil:
			// It answered: it will not change its mind on a retry.
			log.Warn().Int("try", try).Str("rcode", dns.RcodeToString[reply.Rcode]).Msg("secondary refused NOTIFY")
			return
		case try == notifyTries:
			log.Warn().Err(err).Int("tries", try).Msg("secondary did not answer NOTIFY; giving up (it refreshes on its SOA timers)")
			return
		}
		log.Debug().Err(err).Int("try", try).Msg("NOTIFY not answered; retrying")
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return
		}
		pause *= 2
	}
}

// exchangeNotify sends a NOTIFY over UDP, signed with t.Key if set, and
// returns the reply, whose ID, question and (if signed) TSIG miekg/dns
// checks.
func exchangeNotify(ctx context.Context, m *dns.Msg, t NotifyTarget) (*dns.Msg, error) {
	c := &dns.Client{Net: "udp", Timeout: notifyTimeout}
	if t.Key != nil {
		m.SetTsig(t.Key.Name, t.Key.Algorithm, tsigFudge, time.Now().Unix())
		c.TsigSecret = map[string]string{t.Key.Name: base64.StdEncoding.EncodeToString(t.Key.Secret)}
	}
	r, _, err := c.ExchangeContext(ctx, m, t.Addr)
	if err != nil {
		return nil, err
	}
	if r.Opcode != dns.OpcodeNotify || len(r.Question) != 1 || !strings.EqualFold(r.Question[0].Name, m.Question[0].Name) {
		return nil, fmt.Errorf("reply is not to our NOTIFY (opcode %s)", dns.OpcodeToString[r.Opcode])
	}
	return r, nil
}
