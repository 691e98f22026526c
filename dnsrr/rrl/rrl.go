// Package rrl is a response rate limiter for an authoritative server, in
// the design BIND, Knot and NSD share. Each client network (a /24 or /56)
// has an account per kind of response and name, credited a number of
// responses a second; a response that finds the account empty is limited:
// dropped, or every Nth one sent as an empty truncated reply (a "slip"), so
// that a real client behind a spoofed address retries over TCP, which is
// never limited. A spoofer reflecting answers at a victim gets a trickle;
// the victim's own resolver still gets its answers, over TCP.
//
// Memory is fixed when the Limiter is made: a table of TableSize accounts,
// whatever the number of sources (see table.go for what eviction implies).
// The package knows nothing of DNS messages: the caller classifies each
// response (Kind) and hashes its name (the key).
package rrl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Kind is the class of a response, which picks its rate and what its key
// names.
type Kind uint8

const (
	// Answer is a positive answer. Key: the qname and qtype; for an answer
	// synthesized from a wildcard or a DNAME, its owner and the qtype, so
	// that random labels under it share one account (as BIND does).
	Answer Kind = iota
	// NoData is an empty NOERROR answer. Key: the zone.
	NoData
	// NXDomain is a name error. Key: the zone, so random names share one
	// account.
	NXDomain
	// Referral is a delegation to a child zone. Key: the delegation point.
	Referral
	// Error is any other rcode (FORMERR, REFUSED, SERVFAIL...). Key: 0.
	Error
	numKinds
)

var kindNames = [numKinds]string{"answer", "nodata", "nxdomain", "referral", "error"}

func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Verdict is what to do with a response.
type Verdict uint8

const (
	// Pass: send the response.
	Pass Verdict = iota
	// Slip: send an empty reply with TC set instead, so that a real client
	// retries over TCP.
	Slip
	// Drop: send nothing.
	Drop
)

func (v Verdict) String() string {
	switch v {
	case Pass:
		return "pass"
	case Slip:
		return "slip"
	case Drop:
		return "drop"
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// Config is what to limit and how hard. Every field is taken as written
// (a rate of 0 means that kind is not limited, a Slip of 0 drops every
// limited response): start from Defaults.
type Config struct {
	// Responses a second per client network and key, by kind; 0: that kind
	// is not limited.
	ResponsesPerSecond int
	NoDataPerSecond    int
	NXDomainsPerSecond int
	ReferralsPerSecond int
	ErrorsPerSecond    int
	// Window bounds an account's debt to Window seconds of its rate: a
	// burst is paid back over up to that long, and a source silent for
	// longer than Window starts afresh. Whole seconds, 1 s to 1 h.
	Window time.Duration
	// Slip: every Slip-th limited response is Slip, the others Drop; 0
	// drops them all, 1 slips them all.
	Slip int
	// IPv4PrefixLen and IPv6PrefixLen are the client networks that share
	// an account: addresses in one network are usually one site, and
	// spoofers often vary the low bits.
	IPv4PrefixLen int
	IPv6PrefixLen int
	// Exempt networks are never limited; ExemptLoopback adds 127.0.0.0/8
	// and ::1 (a site's own resolver on the same host).
	Exempt         []netip.Prefix
	ExemptLoopback bool
	// LogOnly: Check always returns Pass, but counts and logs what it
	// would have done (to try settings on live traffic).
	LogOnly bool
	// TableSize is the number of accounts kept (bytesPerEntry each).
	TableSize int
}

// Bounds of Config, checked by New (and by the configuration file).
const (
	MaxRate      = 100_000   // responses a second; more is no limit at all
	MaxWindow    = time.Hour // as BIND
	MaxSlip      = 10        // as BIND
	MinIPv4Len   = 8         // shorter would put unrelated networks in one account
	MinIPv6Len   = 16
	MinTableSize = 16
	MaxTableSize = 1 << 24 // about 430 MB
	MaxExempt    = 1024    // each is checked on every response
	// DefaultTableSize accounts take about 1.7 MB.
	DefaultTableSize = 1 << 16
)

// Defaults is the configuration for a rate of responsesPerSecond: every
// kind at that rate, a window of 15 s, slip 2, /24 and /56 networks,
// loopback exempt, DefaultTableSize accounts.
func Defaults(responsesPerSecond int) Config {
	r := responsesPerSecond
	return Config{
		ResponsesPerSecond: r, NoDataPerSecond: r, NXDomainsPerSecond: r, ReferralsPerSecond: r, ErrorsPerSecond: r,
		Window: 15 * time.Second, Slip: 2, IPv4PrefixLen: 24, IPv6PrefixLen: 56,
		ExemptLoopback: true, TableSize: DefaultTableSize,
	}
}

// Check reports the first thing wrong with c.
func (c *Config) Check() error {
	for i, r := range c.rates() {
		if r < 0 || r > MaxRate {
			return fmt.Errorf("rrl: %s rate %d is out of range 0..%d", Kind(i), r, MaxRate)
		}
	}
	switch {
	case c.Window < time.Second || c.Window > MaxWindow || c.Window%time.Second != 0:
		return fmt.Errorf("rrl: window %v: must be whole seconds, 1s to %v", c.Window, MaxWindow)
	case c.Slip < 0 || c.Slip > MaxSlip:
		return fmt.Errorf("rrl: slip %d is out of range 0..%d", c.Slip, MaxSlip)
	case c.IPv4PrefixLen < MinIPv4Len || c.IPv4PrefixLen > 32:
		return fmt.Errorf("rrl: IPv4 prefix length %d is out of range %d..32", c.IPv4PrefixLen, MinIPv4Len)
	case c.IPv6PrefixLen < MinIPv6Len || c.IPv6PrefixLen > 128:
		return fmt.Errorf("rrl: IPv6 prefix length %d is out of range %d..128", c.IPv6PrefixLen, MinIPv6Len)
	case c.TableSize < MinTableSize || c.TableSize > MaxTableSize:
		return fmt.Errorf("rrl: table size %d is out of range %d..%d", c.TableSize, MinTableSize, MaxTableSize)
	case len(c.Exempt) > MaxExempt:
		return fmt.Errorf("rrl: %d exempt prefixes, more than %d", len(c.Exempt), MaxExempt)
	}
	for _, p := range c.Exempt {
		if !p.IsValid() {
			return errors.New("rrl: an exempt prefix is not valid")
		}
	}
	return nil
}

func (c *Config) rates() [numKinds]int {
	return [numKinds]int{c.ResponsesPerSecond, c.NoDataPerSecond, c.NXDomainsPerSecond, c.ReferralsPerSecond, c.ErrorsPerSecond}
}

// Stats are counts since the Limiter was made. Exempt clients and kinds
// with no limit are not counted.
type Stats struct {
	Passed     uint64 // responses an account allowed
	Slipped    uint64 // limited responses sent truncated
	Dropped    uint64 // limited responses dropped
	WouldLimit uint64 // in LogOnly mode: responses that would have been limited
	Episodes   uint64 // limiting episodes started (an account running out)
}

// Limiter decides, response by response, whether to send, slip or drop.
// Check is safe for concurrent use.
type Limiter struct {
	rates          [numKinds]int64
	window         int64 // seconds
	slip           uint64
	v4Len, v6Len   int
	exempt         []netip.Prefix
	exemptLoopback bool
	logOnly        bool
	seed           maphash.Seed

	// clock is the number of whole seconds since start, plus one (0 is
	// "never" in an entry); a ticker moves it, tests set it.
	clock atomic.Uint32
	start time.Time

	buckets  []bucket
	counters [counterShards]counters
	episodes episodes
	log      zerolog.Logger
	// lastSummary is what the last summary line had counted (run's own).
	lastSummary Stats

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// New makes a Limiter and starts its clock, which Close stops.
func New(cfg Config, log zerolog.Logger) (*Limiter, error) {
	l, err := newLimiter(cfg, log)
	if err != nil {
		return nil, err
	}
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go l.run()
	return l, nil
}

// newLimiter makes a Limiter whose clock stands still (tests move it).
func newLimiter(cfg Config, log zerolog.Logger) (*Limiter, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	l := &Limiter{
		window: int64(cfg.Window / time.Second), slip: uint64(cfg.Slip),
		v4Len: cfg.IPv4PrefixLen, v6Len: cfg.IPv6PrefixLen,
		exemptLoopback: cfg.ExemptLoopback, logOnly: cfg.LogOnly,
		seed:    maphash.MakeSeed(),
		start:   time.Now(),
		buckets: make([]bucket, (cfg.TableSize+bucketEntries-1)/bucketEntries),
		log:     log.With().Str("component", "rrl").Logger(),
	}
	for i, r := range cfg.rates() {
		l.rates[i] = int64(r)
	}
	for _, p := range cfg.Exempt {
		l.exempt = append(l.exempt, p.Masked())
	}
	l.clock.Store(1)
	l.episodes.init()
	return l, nil
}

// Close stops the clock. Check keeps working (time stands still).
func (l *Limiter) Close() {
	if l == nil {
		return
	}
	l.closeOnce.Do(func() {
		if l.stop != nil {
			close(l.stop)
			<-l.done
		}
	})
}

// Check decides the fate of a response of the given kind and key (a hash
// of its name, see Kind) to client, and debits the account. Call it for
// UDP responses only: TCP needs a real source address, so it cannot be
// used to reflect. A nil Limiter (rate limiting off) passes everything.
func (l *Limiter) Check(client netip.Addr, kind Kind, key uint64) Verdict {
	if l == nil {
		return Pass
	}
	if kind >= numKinds {
		kind = Error
	}
	rate := l.rates[kind]
	client = client.Unmap()
	if rate == 0 || !client.IsValid() || l.exempted(client) {
		return Pass
	}
	bits := l.v6Len
	if client.Is4() {
		bits = l.v4Len
	}
	network, _ := client.Prefix(bits)
	h := l.hash(network.Addr(), kind, key)

	now := l.clock.Load()
	i := bucketIndex(h, len(l.buckets))
	b := &l.buckets[i]
	c := &l.counters[i%counterShards]
	b.mu.Lock()
	e := b.lookup(l, uint32(h>>32)|1, kind, now)
	limited, count := e.debit(rate, l.window, now)
	if !limited {
		b.mu.Unlock()
		c.passed.Add(1)
		return Pass
	}
	logged := false
	if count == 1 { // a new episode: the slow branch
		e.episode = l.episodes.begin(network, kind, now)
		logged = e.episode != 0
	}
	b.mu.Unlock()
	if count == 1 {
		c.episodes.Add(1)
		if logged {
			l.logStart(network, kind, rate)
		}
	}
	if l.logOnly {
		c.wouldLimit.Add(1)
		return Pass
	}
	if l.slip > 0 && count%l.slip == 0 {
		c.slipped.Add(1)
		return Slip
	}
	c.dropped.Add(1)
	return Drop
}

// exempted reports whether client (unmapped) is never limited.
func (l *Limiter) exempted(client netip.Addr) bool {
	if l.exemptLoopback && client.IsLoopback() {
		return true
	}
	for _, p := range l.exempt {
		if p.Contains(client) {
			return true
		}
	}
	return false
}

// hash mixes the client network, kind and key under the Limiter's random
// seed, so that a spoofer cannot aim at a chosen account's slot.
func (l *Limiter) hash(network netip.Addr, kind Kind, key uint64) uint64 {
	var buf [25]byte
	a := network.As16() // an IPv4 network as ::ffff:a.b.c.0: distinct from every IPv6 one
	copy(buf[:16], a[:])
	buf[16] = byte(kind)
	binary.LittleEndian.PutUint64(buf[17:], key)
	return maphash.Bytes(l.seed, buf[:])
}

// counterShards spreads the Stats counters over cache lines, so that
// workers answering different clients do not contend on one.
const counterShards = 64

type counters struct {
	passed, slipped, dropped, wouldLimit, episodes atomic.Uint64
	_                                              [24]byte // pad to a 64-byte cache line
}

// Stats returns the counts so far (zero for a nil Limiter).
func (l *Limiter) Stats() Stats {
	var s Stats
	if l == nil {
		return s
	}
	for i := range l.counters {
		c := &l.counters[i]
		s.Passed += c.passed.Load()
		s.Slipped += c.slipped.Load()
		s.Dropped += c.dropped.Load()
		s.WouldLimit += c.wouldLimit.Load()
		s.Episodes += c.episodes.Load()
	}
	return s
}
