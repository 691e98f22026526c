package rrl

import (
	"net/netip"
	"sync"
	"time"
)

// An episode is the time an account is limited: from its first limited
// response until it has credit for a full second again (the source slowed
// down or went quiet long enough to pay its debt), or the account is
// evicted. Each is logged once when it starts and once when it ends, with
// what was slipped and dropped; never per packet.
//
// A spoofer can start an episode per network it spoofs, so the log lines
// are bounded too: at most maxFollowed episodes are followed at once, and
// at most maxStartsLogged start a second. The others are counted, and a
// summary every summaryEvery seconds gives the totals.
const (
	maxFollowed     = 256
	maxStartsLogged = 16
	summaryEvery    = 60
)

// episodes are the log records of the episodes followed.
type episodes struct {
	mu         sync.Mutex
	recs       [maxFollowed]record
	free       []uint16 // indexes of unused records
	startsLeft int      // start lines left this second
	unlogged   uint64   // episodes not followed, since the last summary
}

type record struct {
	network netip.Prefix
	kind    Kind
	start   uint32 // clock seconds
	end     uint32
	count   uint64 // limited responses, set when the episode ended
	ended   bool
}

func (s *episodes) init() {
	s.free = make([]uint16, maxFollowed)
	for i := range s.free {
		s.free[i] = uint16(maxFollowed - 1 - i)
	}
	s.startsLeft = maxStartsLogged
}

// begin takes a record for a new episode and returns its id, or 0 when the
// episode is not followed (too many are, or started this second).
func (s *episodes) begin(network netip.Prefix, kind Kind, now uint32) uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.startsLeft == 0 || len(s.free) == 0 {
		s.unlogged++
		return 0
	}
	s.startsLeft--
	i := s.free[len(s.free)-1]
	s.free = s.free[:len(s.free)-1]
	s.recs[i] = record{network: network, kind: kind, start: now}
	return i + 1
}

// end marks episode id over after count limited responses; the next sweep
// logs it and frees its record.
func (s *episodes) end(id uint16, count uint64, now uint32) {
	s.mu.Lock()
	r := &s.recs[id-1]
	r.count, r.end, r.ended = count, now, true
	s.mu.Unlock()
}

// takeEnded moves the ended records to out, frees them, and allows the
// start lines of a new second.
func (s *episodes) takeEnded(out []record) []record {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.recs {
		if r := &s.recs[i]; r.ended {
			out = append(out, *r)
			*r = record{}
			s.free = append(s.free, uint16(i))
		}
	}
	s.startsLeft = maxStartsLogged
	return out
}

func (s *episodes) takeUnlogged() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.unlogged
	s.unlogged = 0
	return n
}

// run moves the clock every tick and sweeps a tenth of the table, so a
// sweep over the whole table (and the end of an episode) takes a second.
func (l *Limiter) run() {
	defer close(l.done)
	const slices = 10
	t := time.NewTicker(time.Second / slices)
	defer t.Stop()
	var slice int
	var ended []record
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		now := uint32(time.Since(l.start)/time.Second) + 1
		if now != l.clock.Load() {
			l.clock.Store(now)
			ended = l.logEnded(ended[:0])
			if now%summaryEvery == 0 {
				l.summarize()
			}
		}
		n := len(l.buckets)
		l.sweep(now, n*slice/slices, n*(slice+1)/slices)
		slice = (slice + 1) % slices
	}
}

// sweep ends the episodes of the accounts in buckets [from, to) whose
// credit is full again.
func (l *Limiter) sweep(now uint32, from, to int) {
	for i := from; i < to; i++ {
		b := &l.buckets[i]
		b.mu.Lock()
		for j := range b.e {
			e := &b.e[j]
			if e.count == 0 {
				continue
			}
			if rate := l.rates[e.kind]; e.credit(rate, now) < rate {
				continue
			}
			if e.episode != 0 {
				l.episodes.end(e.episode, e.count, now)
			}
			e.count, e.episode = 0, 0
		}
		b.mu.Unlock()
	}
}

// sweepAll is a whole sweep and its log lines at once, for tests.
func (l *Limiter) sweepAll() {
	now := l.clock.Load()
	l.sweep(now, 0, len(l.buckets))
	l.logEnded(nil)
}

func (l *Limiter) logStart(network netip.Prefix, kind Kind, rate int64) {
	msg := "limiting responses"
	if l.logOnly {
		msg = "would limit responses (log only)"
	}
	l.log.Info().Stringer("client", network).Stringer("kind", kind).Int64("rate", rate).Msg(msg)
}

// logEnded logs the episodes that ended, one line each.
func (l *Limiter) logEnded(buf []record) []record {
	buf = l.episodes.takeEnded(buf)
	for _, r := range buf {
		ev := l.log.Info().Stringer("client", r.network).Stringer("kind", r.kind).
			Float64("duration", float64(r.end-r.start))
		if l.logOnly {
			ev.Uint64("would_limit", r.count).Msg("would-limit episode ended (log only)")
			continue
		}
		slipped := l.slipped(r.count)
		ev.Uint64("slipped", slipped).Uint64("dropped", r.count-slipped).Msg("limiting ended")
	}
	return buf
}

// slipped is how many of count limited responses were slips.
func (l *Limiter) slipped(count uint64) uint64 {
	if l.slip == 0 {
		return 0
	}
	return count / l.slip
}

// summarize logs the totals since the last summary, if anything was
// limited: they include the episodes that were not followed.
func (l *Limiter) summarize() {
	s := l.Stats()
	last := l.lastSummary
	l.lastSummary = s
	unlogged := l.episodes.takeUnlogged()
	if s.Slipped == last.Slipped && s.Dropped == last.Dropped && s.WouldLimit == last.WouldLimit {
		return
	}
	l.log.Info().Uint64("episodes", s.Episodes-last.Episodes).Uint64("episodes_not_logged", unlogged).
		Uint64("slipped", s.Slipped-last.Slipped).Uint64("dropped", s.Dropped-last.Dropped).
		Uint64("would_limit", s.WouldLimit-last.WouldLimit).Uint64("passed", s.Passed-last.Passed).
		Msg("rate limiting summary")
}
