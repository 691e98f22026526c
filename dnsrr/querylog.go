package dnsrr

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// The query log writes one structured line for a sample of the queries
// answered, from the bytes of the query and of the reply: what was asked,
// by whom, over what, and what went back (rcode, size, flags, EDNS, rate
// limiting). answerPacket, which every UDP and TCP answer passes, calls
// begin and write. With the log off (Policy.QueryLog nil) that is one
// branch on a pointer answerPacket has already loaded, and nothing is
// allocated; with it on, unsampled queries cost one random draw.
//
// A flood must not turn the log into a way to fill the disk or to slow the
// workers down: at most MaxPerSecond lines a second are written, and the
// lines over it are counted in one line a second.

// QueryLog writes a sample of the queries answered. It is safe for
// concurrent use; Close stops it.
type QueryLog struct {
	log       zerolog.Logger
	sample    uint32
	perSecond int64
	// left counts down the lines still allowed this second; below zero it
	// counts the lines suppressed. A ticker puts it back every second.
	left atomic.Int64

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// NewQueryLog logs 1 query in sample (1: every query) to log, at most
// perSecond lines a second. The lines are written at Info level whatever
// log's level: the operator asked for them.
func NewQueryLog(log zerolog.Logger, sample, perSecond int) *QueryLog {
	l := &QueryLog{
		log: log.Level(zerolog.InfoLevel), sample: uint32(max(sample, 1)), perSecond: int64(max(perSecond, 1)),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	l.left.Store(l.perSecond)
	go l.refill(time.Second)
	return l
}

// refill restores the allowance every period and reports what went over.
func (l *QueryLog) refill(period time.Duration) {
	defer close(l.done)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			l.flush()
			return
		case <-t.C:
			l.flush()
		}
	}
}

// flush starts a new second, writing how many lines the last one dropped.
func (l *QueryLog) flush() {
	if over := l.left.Swap(l.perSecond); over < 0 {
		l.log.Warn().Int64("suppressed", -over).Int64("max_per_second", l.perSecond).
			Msg("query log lines over the cap were dropped")
	}
}

// Close stops the ticker, writing the count of lines the current second
// dropped, if any. Lines of queries still in flight may follow.
func (l *QueryLog) Close() {
	if l == nil {
		return
	}
	l.closeOnce.Do(func() { close(l.stop) })
	<-l.done
}

// begin decides whether q is logged: the time it starts being answered
// when it is, the zero time when not (or the log is off).
func (l *QueryLog) begin(q *wireQuery) time.Time {
	if l == nil {
		return time.Time{}
	}
	return l.draw(q)
}

func (l *QueryLog) draw(q *wireQuery) time.Time {
	// A random draw rather than a counter: a counter per TCP connection
	// would log the first query of every connection, and one shared by
	// all workers would be a contended cache line.
	if l.sample > 1 && rand.Uint32N(l.sample) != 0 {
		return time.Time{}
	}
	q.rrlChecked = false
	return time.Now()
}

// write logs the query pkt from q.client and its reply out (nil: none),
// begun at began.
func (l *QueryLog) write(q *wireQuery, pkt, out []byte, udp bool, began time.Time) {
	took := time.Since(began)
	if l.left.Add(-1) < 0 {
		return // over the cap: counted by flush
	}
	var scratch [4 * 256]byte // a name in presentation form, escapes and all
	e := l.log.Info()
	e.Bytes("client", netip.AddrPortFrom(q.client, q.port).AppendTo(scratch[:0]))
	if udp {
		e.Str("transport", "udp")
	} else {
		e.Str("transport", "tcp")
	}
	if len(pkt) >= headerLen {
		e.Uint16("id", be.Uint16(pkt))
		if op := be.Uint16(pkt[2:]) & opcodeBits >> 11; op != 0 || be.Uint16(pkt[2:])&flagQR != 0 {
			e.Str("opcode", dns.OpcodeToString[int(op)]).Bool("qr", be.Uint16(pkt[2:])&flagQR != 0)
		}
	}
	if name, qtype, qclass, ok := question(pkt, scratch[:0]); ok {
		e.Bytes("qname", name)
		e.Bytes("qtype", appendTypeName(qtype, scratch[len(name):len(name)]))
		e.Bytes("qclass", appendClassName(qclass, scratch[len(name):len(name)]))
	}
	l.edns(e, q, pkt)
	if out == nil {
		e.Bool("answered", false)
	} else if len(out) >= headerLen {
		flags := be.Uint16(out[2:])
		rcode := int(flags & rcodeBits)
		opt, hasOPT := findOPT(out)
		if hasOPT {
			rcode |= int(out[opt+4]) << 4
		}
		e.Bool("answered", true).Bytes("rcode", appendRcodeName(rcode, hasOPT, scratch[:0])).
			Uint16("answers", be.Uint16(out[6:])).Int("size", len(out)).
			Bool("aa", flags&flagAA != 0).Bool("tc", flags&flagTC != 0)
	}
	if p := q.policy; udp && p != nil && p.RRL != nil {
		switch {
		case q.cookieValid, q.signed != nil:
			e.Str("rrl", "exempt") // a valid server cookie or TSIG: no spoofer has one
		case q.rrlChecked:
			e.Str("rrl", q.rrlVerdict.String())
		}
	}
	e.Float64("duration", took.Seconds()).Msg("query")
}

// edns logs the query's OPT record: payload, DO, and the options that
// change the answer (cookie, ECS, NSID).
func (l *QueryLog) edns(e *zerolog.Event, q *wireQuery, pkt []byte) {
	off, ok := findOPT(pkt)
	e.Bool("edns", ok)
	if !ok {
		return
	}
	e.Uint16("payload", be.Uint16(pkt[off+2:])).Bool("do", pkt[off+6]&0x80 != 0)
	if v := pkt[off+5]; v != 0 {
		e.Uint8("edns_version", v)
	}
	var o queryOptions
	o.readOptions(pkt)
	switch p := q.policy; {
	case o.badCookie:
		e.Str("cookie", "malformed")
	case o.cookieLen == 0:
	case p == nil || p.Cookies == nil:
		e.Str("cookie", "ignored") // cookies off (RFC 7873 §5.2)
	case o.cookieLen == clientCookieLen:
		e.Str("cookie", "client") // a first contact: no server cookie yet
	case q.cookieValid:
		e.Str("cookie", "valid")
	default:
		e.Str("cookie", "invalid") // wrong, stale or another server's
	}
	switch {
	case o.malformed:
		e.Str("ecs", "malformed")
	case o.ecsFamily == 1:
		a := netip.AddrFrom4([4]byte(o.ecsAddr[:4]))
		e.Str("ecs", netip.PrefixFrom(a, int(o.ecsSource)).String())
	case o.ecsFamily == 2:
		e.Str("ecs", netip.PrefixFrom(netip.AddrFrom16(o.ecsAddr), int(o.ecsSource)).String())
	}
	if o.nsid {
		e.Bool("nsid", true)
	}
}

// question appends the first question's name, in presentation form and
// the case it was sent in, to buf, and returns its type and class. It reads
// any packet, malformed ones included: false when there is no question to
// read.
func question(pkt, buf []byte) (name []byte, qtype, qclass uint16, ok bool) {
	if len(pkt) < headerLen || be.Uint16(pkt[4:]) == 0 {
		return nil, 0, 0, false
	}
	off := headerLen
	for {
		if off >= len(pkt) {
			return nil, 0, 0, false
		}
		n := int(pkt[off])
		if n == 0 {
			break
		}
		// A question has nothing to point back to: compression (or a label
		// type of RFC 6891's reserved ones) is as malformed as a cut name.
		if n > 63 || off+1+n > len(pkt) || off+1+n-headerLen > 255 {
			return nil, 0, 0, false
		}
		for _, c := range pkt[off+1 : off+1+n] {
			buf = appendNameByte(buf, c)
		}
		buf = append(buf, '.')
		off += 1 + n
	}
	if len(buf) == 0 {
		buf = append(buf, '.')
	}
	if off+5 > len(pkt) {
		return nil, 0, 0, false
	}
	return buf, be.Uint16(pkt[off+1:]), be.Uint16(pkt[off+3:]), true
}

// appendNameByte appends one byte of a label as presentation form writes it
// (RFC 1035 §5.1): printable as is, the special characters escaped, the
// rest as \DDD.
func appendNameByte(buf []byte, c byte) []byte {
	switch {
	case c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' || c == '$':
		return append(buf, '\\', c)
	case c < '!' || c > '~':
		return append(buf, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
	}
	return append(buf, c)
}

// findOPT returns the offset of the type field of a message's first OPT
// record in its additional section, or false.
func findOPT(msg []byte) (int, bool) {
	off, ok := skipQuestions(msg)
	if !ok {
		return 0, false
	}
	skip := int(be.Uint16(msg[6:])) + int(be.Uint16(msg[8:]))
	for i := range skip + int(be.Uint16(msg[10:])) {
		if off, ok = skipName(msg, off); !ok || off+10 > len(msg) {
			return 0, false
		}
		if i >= skip && be.Uint16(msg[off:]) == dns.TypeOPT {
			return off, true
		}
		off += 10 + int(be.Uint16(msg[off+8:]))
	}
	return 0, false
}

func appendTypeName(t uint16, buf []byte) []byte {
	if s, ok := dns.TypeToString[t]; ok {
		return append(buf, s...)
	}
	return strconv.AppendUint(append(buf, "TYPE"...), uint64(t), 10) // RFC 3597 §5
}

func appendClassName(c uint16, buf []byte) []byte {
	if s, ok := dns.ClassToString[c]; ok {
		return append(buf, s...)
	}
	return strconv.AppendUint(append(buf, "CLASS"...), uint64(c), 10)
}

func appendRcodeName(rcode int, edns bool, buf []byte) []byte {
	if rcode == dns.RcodeBadVers && edns {
		return append(buf, "BADVERS"...) // 16 is BADSIG in a TSIG, BADVERS in an OPT
	}
	if s, ok := dns.RcodeToString[rcode]; ok {
		return append(buf, s...)
	}
	return strconv.AppendInt(append(buf, "RCODE"...), int64(rcode), 10)
}
