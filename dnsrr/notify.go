package dnsrr

import (
	"container/heap"
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// NotifyTarget is a secondary told of new versions of the zones (RFC 1996).
type NotifyTarget struct {
	Addr string   // IP:port
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
// retrying. One goroutine schedules, at most notifyParallel send: what it
// holds is a small job per zone and secondary waiting, however many.
type Notifier struct {
	log zerolog.Logger
	// exchange sends one NOTIFY and returns the reply (tests replace it).
	exchange func(ctx context.Context, m *dns.Msg, t NotifyTarget) (*dns.Msg, error)

	mu     sync.Mutex
	jobs   map[notifyKey]*notifyJob
	due    notifyQueue
	wake   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type notifyKey struct{ zone, addr string }

// notifyJob is the NOTIFY of one zone's serial to one secondary.
type notifyJob struct {
	key    notifyKey
	serial uint32
	target NotifyTarget
	try    int       // tries made
	at     time.Time // when the next try is due
	gen    uint64    // bumped when superseded: an older try's result is dropped
	index  int       // in the queue, -1 when not queued
}

// NewNotifier returns a Notifier that logs to log; Stop ends it.
func NewNotifier(log zerolog.Logger) *Notifier {
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{log: log.With().Str("component", "notify").Logger(), exchange: exchangeNotify,
		jobs: map[notifyKey]*notifyJob{}, wake: make(chan struct{}, 1), ctx: ctx, cancel: cancel}
	n.wg.Add(1)
	go n.run()
	return n
}

// Notify tells each target that zone (lower-case, fully qualified) is at
// serial now, in the background.
func (n *Notifier) Notify(zone string, serial uint32, targets []NotifyTarget) {
	n.mu.Lock()
	now := time.Now()
	for _, t := range targets {
		k := notifyKey{zone, t.Addr}
		j := n.jobs[k]
		if j == nil {
			j = &notifyJob{key: k, index: -1}
			n.jobs[k] = j
		}
		j.serial, j.target, j.try, j.at = serial, t, 0, now
		j.gen++
		if j.index >= 0 {
			heap.Fix(&n.due, j.index)
		} else {
			heap.Push(&n.due, j)
		}
	}
	n.mu.Unlock()
	n.poke()
}

func (n *Notifier) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Stop abandons the NOTIFYs still pending and waits for the senders.
func (n *Notifier) Stop() {
	n.cancel()
	n.wg.Wait()
}

// run starts each job's try when it is due, notifyParallel at most.
func (n *Notifier) run() {
	defer n.wg.Done()
	sem := make(chan struct{}, notifyParallel)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		n.mu.Lock()
		var next *notifyJob
		if len(n.due) > 0 {
			next = n.due[0]
		}
		wait := time.Hour
		if next != nil {
			wait = time.Until(next.at)
		}
		if next != nil && wait <= 0 && len(sem) < cap(sem) {
			heap.Pop(&n.due)
			next.try++
			j, gen := *next, next.gen
			n.mu.Unlock()
			sem <- struct{}{}
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				defer func() { <-sem; n.poke() }()
				n.finish(&j, gen, n.try(&j))
			}()
			continue
		}
		n.mu.Unlock()
		if wait <= 0 {
			wait = time.Hour // all senders busy: one finishing pokes
		}
		timer.Reset(wait)
		select {
		case <-n.ctx.Done():
			return
		case <-n.wake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// try sends one NOTIFY of j and reports whether the job is over (an
// answer, or the last try).
func (n *Notifier) try(j *notifyJob) bool {
	log := n.log.With().Str("zone", j.key.zone).Uint32("serial", j.serial).Str("secondary", j.key.addr).Int("try", j.try).Logger()
	m := new(dns.Msg)
	m.SetNotify(j.key.zone)
	// The SOA in the answer section is a hint the secondary may use
	// (RFC 1996 §3.7).
	m.Answer = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: j.key.zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET}, Ns: ".", Mbox: ".", Serial: j.serial}}
	reply, err := n.exchange(n.ctx, m, j.target)
	switch {
	case n.ctx.Err() != nil:
		return true
	case err == nil && reply.Rcode == dns.RcodeSuccess:
		log.Info().Msg("secondary acknowledged NOTIFY")
		return true
	case err == nil:
		// It answered: it will not change its mind on a retry.
		ev := log.Warn().Str("rcode", dns.RcodeToString[reply.Rcode])
		if ts := reply.IsTsig(); ts != nil && ts.Error != dns.RcodeSuccess {
			ev = ev.Str("tsig_error", dns.RcodeToString[int(ts.Error)]) // BADKEY: not the key it knows
		}
		ev.Msg("secondary refused NOTIFY")
		return true
	case j.try >= notifyTries:
		log.Warn().Err(err).Msg("secondary did not answer NOTIFY; giving up (it refreshes on its SOA timers)")
		return true
	}
	log.Debug().Err(err).Msg("NOTIFY not answered; retrying")
	return false
}

// finish records the end of a try of the job at generation gen: unless
// a newer NOTIFY replaced it meanwhile, the job ends or waits for its
// next try.
func (n *Notifier) finish(j *notifyJob, gen uint64, over bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	cur := n.jobs[j.key]
	if cur == nil || cur.gen != gen {
		return // superseded: the newer one is queued already
	}
	if over {
		delete(n.jobs, j.key)
		return
	}
	cur.at = time.Now().Add(notifyFirstPause << (j.try - 1))
	heap.Push(&n.due, cur)
}

// notifyQueue orders jobs by when they are due (container/heap).
type notifyQueue []*notifyJob

func (q notifyQueue) Len() int           { return len(q) }
func (q notifyQueue) Less(i, k int) bool { return q[i].at.Before(q[k].at) }
func (q notifyQueue) Swap(i, k int) {
	q[i], q[k] = q[k], q[i]
	q[i].index, q[k].index = i, k
}
func (q *notifyQueue) Push(x any) {
	j := x.(*notifyJob)
	j.index = len(*q)
	*q = append(*q, j)
}
func (q *notifyQueue) Pop() any {
	old := *q
	j := old[len(old)-1]
	old[len(old)-1] = nil
	j.index = -1
	*q = old[:len(old)-1]
	return j
}

// exchangeNotify sends a NOTIFY over UDP, signed with t.Key if set, and
// returns the reply to it. A reply that does not match (another ID or
// question, or unsigned or wrongly signed when the NOTIFY was signed) is
// an error: not an answer, so the NOTIFY is tried again. A reply that
// rejects our signature (NOTAUTH with BADKEY, BADSIG or BADTIME, RFC 8945
// §5.2) is returned: the secondary answered, and a retry would not change
// its mind.
func exchangeNotify(ctx context.Context, m *dns.Msg, t NotifyTarget) (*dns.Msg, error) {
	c := &dns.Client{Net: "udp", Timeout: notifyTimeout}
	if t.Key != nil {
		m.SetTsig(t.Key.Name, t.Key.Algorithm, tsigFudge, time.Now().Unix())
		c.TsigProvider = tsigProvider{t.Key}
	}
	r, _, err := c.ExchangeContext(ctx, m, t.Addr)
	if r == nil || r.Id != m.Id {
		// (miekg/dns stops at the first reply it cannot verify, whatever
		// its ID.)
		if err == nil {
			err = fmt.Errorf("reply with ID %d to our NOTIFY %d", r.Id, m.Id)
		}
		return nil, err
	}
	if r.Opcode != dns.OpcodeNotify || len(r.Question) != 1 || !strings.EqualFold(r.Question[0].Name, m.Question[0].Name) {
		return nil, fmt.Errorf("reply is not to our NOTIFY (opcode %s)", dns.OpcodeToString[r.Opcode])
	}
	if t.Key == nil {
		return r, err
	}
	if ts := r.IsTsig(); ts != nil && ts.Error != dns.RcodeSuccess && r.Rcode == dns.RcodeNotAuth {
		return r, nil // our key is not the secondary's
	}
	if err != nil {
		return nil, err
	}
	if r.IsTsig() == nil {
		// miekg/dns verifies a TSIG when there is one; a signed request's
		// answer must have one (RFC 8945 §5.3), or anyone who can guess
		// the ID could acknowledge our NOTIFY for the secondary.
		return nil, errors.New("unsigned reply to a signed NOTIFY")
	}
	return r, nil
}

// tsigProvider signs and verifies a client's messages with one key. The
// reply may spell the key's name in another case (names compare without
// case, RFC 4343; NSD answers in lower case, another secondary may use its
// configuration's spelling): miekg/dns's map of secrets would miss it.
type tsigProvider struct{ key *TSIGKey }

func (p tsigProvider) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	if !strings.EqualFold(t.Hdr.Name, p.key.Name) {
		return nil, dns.ErrSecret
	}
	if !strings.EqualFold(t.Algorithm, p.key.Algorithm) {
		return nil, dns.ErrKeyAlg
	}
	h := hmac.New(TSIGAlgorithms[p.key.Algorithm], p.key.Secret)
	h.Write(msg)
	return h.Sum(nil), nil
}

func (p tsigProvider) Verify(msg []byte, t *dns.TSIG) error {
	want, err := p.Generate(msg, t)
	if err != nil {
		return err
	}
	mac, err := hex.DecodeString(t.MAC)
	if err != nil || !hmac.Equal(mac, want) {
		return dns.ErrSig
	}
	return nil
}
