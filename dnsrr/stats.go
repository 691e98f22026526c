package dnsrr

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Counting answers. Every UDP and TCP answer passes answerPacket, which
// counts it by transport, qtype and rcode, read from the packets it already
// holds (no second parse), into fixed arrays of atomic counters: no lock,
// no allocation, no map. A metrics exporter reads them with Stats; this
// package knows nothing of Prometheus.
//
// Counters are sharded: each UDP worker and TCP connection adds to one of
// statShards copies, picked in turn, so that workers on different cores do
// not bounce one cache line between them on every query. Stats sums the
// shards.

// Transports, the first index of Stats.Queries.
const (
	TransportUDP = iota
	TransportTCP
	NumTransports
)

// TransportNames are the transports' label values.
var TransportNames = [NumTransports]string{"udp", "tcp"}

// QtypeNames are the qtypes counted on their own, in Stats.Queries order;
// every other qtype counts as the last, "other", so that a client sending
// random qtypes cannot make more series.
var QtypeNames = [...]string{
	"A", "AAAA", "CNAME", "MX", "NS", "SOA", "TXT", "SRV", "PTR", "CAA",
	"HTTPS", "SVCB", "DS", "DNSKEY", "ANY", "AXFR", "IXFR", "other",
}

// NumQtypes is the number of qtype labels.
const NumQtypes = len(QtypeNames)

// qtypeIndex is t's index in QtypeNames. A switch on constants compiles to
// a few comparisons; a 64 Ki-entry table would cost a cache miss.
func qtypeIndex(t uint16) int {
	switch t {
	case dns.TypeA:
		return 0
	case dns.TypeAAAA:
		return 1
	case dns.TypeCNAME:
		return 2
	case dns.TypeMX:
		return 3
	case dns.TypeNS:
		return 4
	case dns.TypeSOA:
		return 5
	case dns.TypeTXT:
		return 6
	case dns.TypeSRV:
		return 7
	case dns.TypePTR:
		return 8
	case dns.TypeCAA:
		return 9
	case dns.TypeHTTPS:
		return 10
	case dns.TypeSVCB:
		return 11
	case dns.TypeDS:
		return 12
	case dns.TypeDNSKEY:
		return 13
	case dns.TypeANY:
		return 14
	case dns.TypeAXFR:
		return 15
	case dns.TypeIXFR:
		return 16
	}
	return NumQtypes - 1
}

// NumRcodes is the number of rcode labels: 0 to 23 (BADCOOKIE, the highest
// an answer of ours can carry) and "other".
const NumRcodes = 25

// RcodeNames are the rcodes' label values: their IANA names, the number
// for unassigned ones.
var RcodeNames = func() (n [NumRcodes]string) {
	for i := range NumRcodes - 1 {
		n[i] = strconv.Itoa(i)
	}
	for i, s := range map[int]string{
		0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
		6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE", 11: "DSOTYPENI",
		16: "BADVERS", 17: "BADKEY", 18: "BADTIME", 19: "BADMODE", 20: "BADNAME", 21: "BADALG",
		22: "BADTRUNC", 23: "BADCOOKIE",
	} {
		n[i] = s
	}
	n[NumRcodes-1] = "other"
	return n
}()

// Why a query got no answer, the second index of Stats.Dropped.
const (
	// DropNotQuery: a response, or a packet too short for a header; never
	// answered, as answering invites reflection loops.
	DropNotQuery = iota
	// DropRRL: rate limiting dropped the answer.
	DropRRL
	NumDropReasons
)

// DropReasonNames are the drop reasons' label values.
var DropReasonNames = [NumDropReasons]string{"not_query", "rrl"}

// What a query's COOKIE option was, while cookies are on (Stats.Cookies).
const (
	// CookieClientOnly: a client cookie alone (a first contact).
	CookieClientOnly = iota
	// CookieValid: a server cookie we made, still fresh.
	CookieValid
	// CookieInvalid: a server cookie that is not ours, or stale; answered
	// with a fresh one (RFC 7873 §5.2.3).
	CookieInvalid
	// CookieMalformed: a COOKIE option of a bad length: FORMERR.
	CookieMalformed
	NumCookieResults
)

// CookieResultNames are the cookie results' label values.
var CookieResultNames = [NumCookieResults]string{"client_only", "valid", "invalid", "malformed"}

// LatencyBounds are the upper bounds of the answer latency histogram's
// buckets (Stats.Latency), suited to answers that take microseconds: the
// fast path answers in well under 10 µs, so the upper buckets show
// queueing behind a burst, a stalled socket or an overloaded host.
var LatencyBounds = [...]time.Duration{
	10 * time.Microsecond, 25 * time.Microsecond, 50 * time.Microsecond,
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond,
}

// NumLatencyBuckets counts the buckets, the last one (+Inf) included.
const NumLatencyBuckets = len(LatencyBounds) + 1

// Stats are a Server's counters since it was made.
type Stats struct {
	// Queries answered, by transport, qtype (QtypeNames) and the answer's
	// rcode (RcodeNames), extended rcodes included.
	Queries [NumTransports][NumQtypes][NumRcodes]uint64
	// Truncated answers (TC set): too large for the client's UDP payload,
	// or slipped by rate limiting.
	Truncated [NumTransports]uint64
	// Dropped queries, which got no answer, by reason (DropReasonNames).
	Dropped [NumTransports][NumDropReasons]uint64
	// Cookies counts queries with a COOKIE option by what it was, while
	// cookies are on (CookieResultNames).
	Cookies [NumCookieResults]uint64
	// Latency of answers by transport (see Histogram).
	Latency [NumTransports]Histogram
	// TCP is what the DNS-over-TCP limits did.
	TCP TCPStats
}

// Histogram is a latency histogram: Counts[i] answers took at most
// LatencyBounds[i] (and more than the bound before); the last count is
// those over every bound. Counts are per bucket, not cumulative.
//
// Over UDP, an answer's latency is from the read that brought its query
// (a batch of up to 32) to the write that sent the batch's answers: the
// answers of a batch go out together, so they share one measurement. Over
// TCP, it is from the moment its answer is added to the connection's
// output to the write that sends it (pipelined answers share a write).
// Either way, two clock readings per batch or write, not per query.
type Histogram struct {
	Counts [NumLatencyBuckets]uint64
	Sum    time.Duration
}

// Count is the number of answers measured.
func (h *Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// TCPStats are what the DNS-over-TCP limits (TCPLimits) did.
type TCPStats struct {
	// Accepted connections, and Refused ones: at a cap with every slot
	// busy answering, so closed at once.
	Accepted, Refused uint64
	// Evicted idle connections, closed to make room for a new one.
	Evicted uint64
	// AcceptErrors are failed accepts (out of file descriptors, mostly).
	AcceptErrors uint64
	// Open connections now, and MaxConns the cap on them (TCPLimits, as
	// lowered to fit the file descriptor limit); 0 before Start.
	Open, MaxConns int
}

// statShards is the number of copies of the counters; a power of two.
const statShards = 16

// stats are a Server's counters.
type stats struct {
	// The padding keeps the counters off the cache line of the Server's
	// fields before them, which every worker reads.
	_      [64]byte
	shards [statShards]statShard
	next   atomic.Uint32

	tcpAccepted, tcpRefused, tcpEvicted, tcpAcceptErrors atomic.Uint64
}

// statShard is one copy of the per-query counters, about 7.6 KB; its
// padding keeps the next shard's first counters off its last cache line.
type statShard struct {
	queries   [NumTransports][NumQtypes][NumRcodes]atomic.Uint64
	truncated [NumTransports]atomic.Uint64
	dropped   [NumTransports][NumDropReasons]atomic.Uint64
	cookies   [NumCookieResults]atomic.Uint64
	latency   [NumTransports]histogram
	_         [64]byte
}

type histogram struct {
	counts [NumLatencyBuckets]atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

// shard picks the shard of a new worker or connection, in turn.
func (st *stats) shard() *statShard {
	return &st.shards[st.next.Add(1)%statShards]
}

// count records what became of one query: answered with out, or (out nil)
// dropped for reason. parsed says whether parseQuery read pkt, so that
// q.qtype is the question's type. The rcode's upper bits are in the
// reply's OPT; rather than find it, the two paths that set them say so in
// q.extRcode (BADVERS, BADCOOKIE).
func (sh *statShard) count(q *wireQuery, pkt, out []byte, tr int, parsed bool, reason int) {
	if out == nil {
		sh.dropped[tr][reason].Add(1)
		if reason == DropRRL {
			sh.countCookie(q)
		}
		return
	}
	qt := NumQtypes - 1
	if parsed {
		qt = qtypeIndex(q.qtype)
	} else if t, ok := questionType(pkt); ok {
		qt = qtypeIndex(t)
	}
	sh.countAnswer(qt, out, q.extRcode, tr)
	sh.countCookie(q)
}

// countAnswer counts out, an answer to a query of qtype index qt; ext is
// its rcode's upper bits.
func (sh *statShard) countAnswer(qt int, out []byte, ext uint8, tr int) {
	rcode := NumRcodes - 1
	if len(out) >= headerLen {
		rcode = min(int(out[3]&rcodeBits)|int(ext)<<4, NumRcodes-1)
		if out[2]&(flagTC>>8) != 0 {
			sh.truncated[tr].Add(1)
		}
	}
	sh.queries[tr][qt][rcode].Add(1)
}

// countFraming counts a TCP answer made outside answerPacket (a FORMERR
// for a bad keepalive option or an oversized query): header-only rcodes.
func (sh *statShard) countFraming(pkt, out []byte) {
	if out == nil {
		return
	}
	qt := NumQtypes - 1
	if t, ok := questionType(pkt); ok {
		qt = qtypeIndex(t)
	}
	sh.countAnswer(qt, out, 0, TransportTCP)
}

// countCookie counts the query's COOKIE option, if cookies are on and it
// sent one.
func (sh *statShard) countCookie(q *wireQuery) {
	if q.policy == nil || q.policy.Cookies == nil {
		return
	}
	switch {
	case q.opts.badCookie:
		sh.cookies[CookieMalformed].Add(1)
	case q.opts.cookieLen == 0:
	case q.cookieValid:
		sh.cookies[CookieValid].Add(1)
	case q.opts.cookieLen > clientCookieLen:
		sh.cookies[CookieInvalid].Add(1)
	default:
		sh.cookies[CookieClientOnly].Add(1)
	}
}

// observe records n answers that took d each.
func (sh *statShard) observe(tr, n int, d time.Duration) {
	if n <= 0 {
		return
	}
	i := 0
	for i < len(LatencyBounds) && d > LatencyBounds[i] {
		i++
	}
	h := &sh.latency[tr]
	h.counts[i].Add(uint64(n))
	h.sum.Add(int64(d) * int64(n))
}

// questionType is the qtype of pkt's first question, for the queries the
// fast path did not parse.
func questionType(pkt []byte) (uint16, bool) {
	if len(pkt) < headerLen || be.Uint16(pkt[4:]) == 0 {
		return 0, false
	}
	off, ok := skipName(pkt, headerLen)
	if !ok || off+2 > len(pkt) {
		return 0, false
	}
	return be.Uint16(pkt[off:]), true
}

// clockEpoch is the origin of monotonic readings: time.Since reads only
// the monotonic clock, half the cost of time.Now.
var clockEpoch = time.Now()

// monotonic is a monotonic clock reading for latency.
func monotonic() time.Duration { return time.Since(clockEpoch) }

// Stats fills out with the counters so far; out is overwritten. Safe to
// call while the server answers: each counter is read atomically, so a
// total may be a query behind another.
func (s *Server) Stats(out *Stats) {
	*out = Stats{}
	for i := range s.stats.shards {
		sh := &s.stats.shards[i]
		for tr := range NumTransports {
			for qt := range NumQtypes {
				for rc := range NumRcodes {
					out.Queries[tr][qt][rc] += sh.queries[tr][qt][rc].Load()
				}
			}
			out.Truncated[tr] += sh.truncated[tr].Load()
			for r := range NumDropReasons {
				out.Dropped[tr][r] += sh.dropped[tr][r].Load()
			}
			for b := range NumLatencyBuckets {
				out.Latency[tr].Counts[b] += sh.latency[tr].counts[b].Load()
			}
			out.Latency[tr].Sum += time.Duration(sh.latency[tr].sum.Load())
		}
		for c := range NumCookieResults {
			out.Cookies[c] += sh.cookies[c].Load()
		}
	}
	out.TCP = TCPStats{
		Accepted:     s.stats.tcpAccepted.Load(),
		Refused:      s.stats.tcpRefused.Load(),
		Evicted:      s.stats.tcpEvicted.Load(),
		AcceptErrors: s.stats.tcpAcceptErrors.Load(),
	}
	s.mu.Lock()
	if s.tcp != nil {
		out.TCP.Open = int(s.tcp.count.Load())
		out.TCP.MaxConns = s.tcp.limits.MaxConns
	}
	s.mu.Unlock()
}
