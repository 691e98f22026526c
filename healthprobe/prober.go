// Package healthprobe watches targets (an address probed with a TCP, HTTP or
// HTTPS check), decides whether each is up or down with rise/fall
// hysteresis, keeps operator drains of addresses (persisted in a state
// file), and publishes the result as an immutable View behind an atomic
// pointer.
//
// It knows nothing of DNS: the server derives targets from its pools and
// reads the View when Changes signals. Every goroutine it starts belongs to
// Run and stops when Run's context ends or, for one target, when SetTargets
// drops it.
package healthprobe

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

// DefaultConcurrency is the default cap on probes in flight.
const DefaultConcurrency = 64

// Options configure a Prober.
type Options struct {
	// Concurrency caps the probes in flight. Default DefaultConcurrency.
	// A probe waiting for a slot is not timed out; its timeout starts when
	// it runs.
	Concurrency int
	// InitialState is the state of a target before its probes decide:
	// Up (served until Fall failures), Down (withheld until Rise
	// successes), or Unknown, the default: the first probe's result
	// decides at once. Use FirstRound to wait for it.
	InitialState State
	// StateFile, if set, persists drains across restarts. New reads it
	// and every drain change rewrites it atomically (temporary file and
	// rename).
	StateFile string
	// UserAgent is sent by HTTP probes. Default DefaultUserAgent.
	UserAgent string
	// Now returns the current time for timestamps and drain expiry.
	// Default time.Now. Schedules use the runtime's timers regardless.
	Now func() time.Time
}

// ErrNotDrained is returned by Undrain for an address that is not drained.
var ErrNotDrained = errors.New("address is not drained")

// probeFunc runs one probe; ctx carries the probe's timeout. A probe that
// passes may report the backend's weight.
type probeFunc func(ctx context.Context) (weightReport, error)

// Prober probes targets and publishes their state. Create it with New, give
// it targets with SetTargets (before or while Run runs), and start it with
// Run. All methods are safe for concurrent use.
type Prober struct {
	log     zerolog.Logger
	opts    Options
	sem     chan struct{} // one slot per probe in flight
	changes chan struct{} // buffered 1: coalesced "the serving set changed"
	wake    chan struct{} // buffered 1: drains changed, recompute expiry
	view    atomic.Pointer[View]

	// newProbe builds the probe function for a target and a function
	// releasing its resources. Tests replace it to run without sockets.
	newProbe func(t Target, c *Check, userAgent string) (probeFunc, func())

	// drainMu serialises drain changes, so the state file is always
	// written in the order the changes are applied. Taken before mu.
	drainMu sync.Mutex

	mu      sync.Mutex
	targets map[string]*target
	order   []*target                // in SetTargets order
	byAddr  map[netip.Addr][]*target // unmapped address: the targets probing it
	drains  map[netip.Addr]time.Time // replaced, never modified
	pending pendingChanges           // since the last TakeChanges
	runCtx  context.Context          // set by Run
	started bool                     // Run was called
	stopped bool                     // Run's context ended: start nothing more
	wg      sync.WaitGroup           // every goroutine Run owns

	counts counts
}

// target is a Target being probed. Fields other than the first group are
// guarded by Prober.mu.
type target struct {
	Target
	key   string
	check *Check // defaults applied, private copy
	first chan struct{}
	once  sync.Once

	idx     int // position in View.status
	status  Status
	cancel  context.CancelFunc // nil until started
	removed bool
}

// firstDone marks the target's first probe round as over: probed, or
// never going to be.
func (t *target) firstDone() { t.once.Do(func() { close(t.first) }) }

// checkName describes the check in logs: "tcp", "https GET /health".
func (t *target) checkName() string {
	if !t.check.isHTTP() {
		return t.check.Kind
	}
	return t.check.Kind + " " + t.check.Method + " " + t.check.Path
}

// New returns a Prober with no targets. It reads the drains persisted in
// opts.StateFile: a missing file is an empty state, an unreadable or
// corrupt one an error naming the file. Drains that expired while the
// process was not running are dropped.
func New(opts Options, log zerolog.Logger) (*Prober, error) {
	if opts.Concurrency < 0 {
		return nil, fmt.Errorf("concurrency %d must not be negative", opts.Concurrency)
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.InitialState > Down {
		return nil, fmt.Errorf("initial state %s is not up, down or unknown", opts.InitialState)
	}
	if opts.UserAgent == "" {
		opts.UserAgent = DefaultUserAgent
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &Prober{
		log:      log.With().Str("component", "healthprobe").Logger(),
		opts:     opts,
		sem:      make(chan struct{}, opts.Concurrency),
		changes:  make(chan struct{}, 1),
		wake:     make(chan struct{}, 1),
		newProbe: newProbe,
		targets:  map[string]*target{},
		drains:   map[netip.Addr]time.Time{},
	}
	if opts.StateFile != "" {
		d, err := loadDrains(opts.StateFile, opts.Now())
		if err != nil {
			return nil, err
		}
		p.drains = d
	}
	p.publishLocked(nil)
	return p, nil
}

// View returns the current snapshot. It takes no lock; the View never
// changes, so call View again for newer state.
func (p *Prober) View() *View { return p.view.Load() }

// Changes receives a value after a View is published in which some
// target's State, reported Weight or Drained differs, a target was added or removed, or the
// drains changed: whatever may change what is served. Notifications
// coalesce (the channel holds one), so a reader must act on the View at
// that time, not count signals. Views published only to record probe
// details (LastCheck, counters, LastError) do not signal. TakeChanges says
// what changed.
func (p *Prober) Changes() <-chan struct{} { return p.changes }

// maxPendingChanges bounds the targets and addresses TakeChanges collects:
// a caller that stops taking them must not grow memory without bound, and
// past this many (a reload replacing a large zone's targets, say) a full
// recomputation costs about what the list would.
const maxPendingChanges = 1 << 16

// Changed is what may have changed what is served since the previous
// TakeChanges, so that a caller can recompute only what depends on it.
type Changed struct {
	// Targets whose State or reported Weight changed, or that were added
	// or removed.
	Targets []Target
	// Addrs drained, undrained, or whose drain expired (unmapped).
	Addrs []netip.Addr
	// All: too much changed to list; recompute everything. Targets and
	// Addrs are then empty.
	All bool
}

// pendingChanges accumulates a Changed; guarded by Prober.mu.
type pendingChanges struct {
	targets map[string]Target
	addrs   map[netip.Addr]struct{}
	all     bool
}

func (c *pendingChanges) full() bool {
	if !c.all && len(c.targets)+len(c.addrs) >= maxPendingChanges {
		c.all, c.targets, c.addrs = true, nil, nil
	}
	return c.all
}

func (c *pendingChanges) target(key string, t Target) {
	if c.full() {
		return
	}
	if c.targets == nil {
		c.targets = map[string]Target{}
	}
	c.targets[key] = t
}

func (c *pendingChanges) addr(a netip.Addr) {
	if c.full() {
		return
	}
	if c.addrs == nil {
		c.addrs = map[netip.Addr]struct{}{}
	}
	c.addrs[a] = struct{}{}
}

// TakeChanges returns what changed since its previous call (or since New)
// and starts a new list. Every change is recorded before the View showing
// it is published and before Changes signals, so a caller that takes the
// changes after a signal and then reads the View sees at least those
// changes; a change recorded after the take signals again.
func (p *Prober) TakeChanges() Changed {
	p.mu.Lock()
	c := p.pending
	p.pending = pendingChanges{}
	p.mu.Unlock()
	if c.all {
		return Changed{All: true}
	}
	return Changed{Targets: slices.Collect(maps.Values(c.targets)), Addrs: slices.Collect(maps.Keys(c.addrs))}
}

// SetTargets replaces the set of targets. Targets whose Key is unchanged
// keep their state and schedule; new ones start in Options.InitialState and
// are probed at once (if Run is running); targets no longer listed stop
// being probed and their goroutines end. Duplicates (same Key) are probed
// once. If any target is invalid, SetTargets changes nothing and returns
// every problem.
func (p *Prober) SetTargets(ts []Target) error {
	var errs []error
	next := make(map[string]Target, len(ts))
	var keys []string
	for i, t := range ts {
		switch {
		case !t.Addr.IsValid():
			errs = append(errs, fmt.Errorf("target %d: no address", i))
			continue
		case t.Check == nil:
			errs = append(errs, fmt.Errorf("target %s: no check", t.Addr))
			continue
		}
		if err := t.Check.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("target %s: %w", t.AddrPort(), err))
			continue
		}
		k := t.Key()
		if _, dup := next[k]; !dup {
			next[k] = t
			keys = append(keys, k)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	changed := false
	for k, t := range p.targets {
		if _, keep := next[k]; keep {
			continue
		}
		changed = true
		p.pending.target(k, t.Target)
		t.removed = true
		if t.cancel != nil {
			t.cancel()
		} else {
			t.firstDone()
		}
		delete(p.targets, k)
	}
	now := p.opts.Now()
	order := make([]*target, 0, len(keys))
	for _, k := range keys {
		t, ok := p.targets[k]
		if !ok {
			changed = true
			tt := next[k]
			c := tt.Check.withDefaults()
			t = &target{
				Target: Target{Addr: tt.Addr, Check: c},
				key:    k,
				check:  c,
				first:  make(chan struct{}),
				status: Status{State: p.opts.InitialState, Since: now},
			}
			p.targets[k] = t
			p.pending.target(k, t.Target)
			if p.started && !p.stopped {
				p.startLocked(t)
			}
		}
		order = append(order, t)
	}
	p.order = order
	p.publishLocked(nil)
	if changed {
		p.signal()
	}
	return nil
}

// Run probes the targets until ctx ends, then waits for every goroutine it
// started (one per target, and one for drain expiry) and returns. A probe
// in flight is cancelled, not counted as a failure. Run may be called
// once.
func (p *Prober) Run(ctx context.Context) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return errors.New("healthprobe: Run called more than once")
	}
	p.started = true
	p.runCtx = ctx
	for _, t := range p.order {
		p.startLocked(t)
	}
	p.wg.Go(func() { p.drainLoop(ctx) })
	p.mu.Unlock()

	<-ctx.Done()
	p.mu.Lock()
	p.stopped = true // no wg.Add after this, so Wait below is final
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

// FirstRound waits until every current target has finished one probe (or
// was removed), so that the first View is informed. A probe takes at most
// its Timeout once it has a concurrency slot, so with no more targets than
// Options.Concurrency this takes about the largest Timeout. It returns
// ctx.Err() if ctx ends first, which is how to bound it.
func (p *Prober) FirstRound(ctx context.Context) error {
	p.mu.Lock()
	waits := make([]chan struct{}, 0, len(p.order))
	for _, t := range p.order {
		waits = append(waits, t.first)
	}
	p.mu.Unlock()
	for _, ch := range waits {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// startLocked starts t's goroutine under Run's context. p.mu is held.
func (p *Prober) startLocked(t *target) {
	ctx, cancel := context.WithCancel(p.runCtx)
	t.cancel = cancel
	p.wg.Go(func() {
		defer cancel()
		p.runTarget(ctx, t)
	})
}

// runTarget is the life of one target: a first probe at once, then one
// every Interval, with a random phase so that targets configured together
// spread their probes over the interval instead of probing in bursts.
func (p *Prober) runTarget(ctx context.Context, t *target) {
	defer t.firstDone()
	probe, release := p.newProbe(t.Target, t.check, p.opts.UserAgent)
	defer release()

	// The first round is not jittered: FirstRound waits for it, and start-up
	// should not wait an interval. Jitter the second probe instead, within
	// [Interval/2, 3*Interval/2), which makes the phase uniform.
	if !p.probeOnce(ctx, t, probe) {
		return
	}
	iv := t.check.Interval
	timer := time.NewTimer(iv/2 + rand.N(iv))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		start := time.Now()
		if !p.probeOnce(ctx, t, probe) {
			return
		}
		// Keep the period from start to start. It can only overrun when
		// the probe waited for a concurrency slot; then go again at once.
		timer.Reset(max(0, iv-time.Since(start)))
	}
}

// probeOnce runs one probe under a concurrency slot and records it. It
// reports false when ctx ended (shutdown, or the target was removed): the
// result is then not recorded, as a cancelled probe says nothing about the
// target.
func (p *Prober) probeOnce(ctx context.Context, t *target, probe probeFunc) bool {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, t.check.Timeout)
	weight, err := p.call(pctx, t, probe)
	took := time.Since(start)
	reason := ReasonOther
	if err != nil {
		timedOut := errors.Is(pctx.Err(), context.DeadlineExceeded)
		reason = classify(err, timedOut)
		if timedOut {
			err = fmt.Errorf("timed out after %s: %w", t.check.Timeout, err)
		}
	}
	cancel()
	<-p.sem
	if ctx.Err() != nil {
		return false
	}
	if ev := p.log.Debug(); ev.Enabled() {
		ev.Stringer("target", t.AddrPort()).Str("check", t.checkName()).
			Bool("ok", err == nil).Float64("duration", took.Seconds()).Err(err).Msg("probe")
	}
	p.record(t, err, reason, took, weight)
	return true
}

// call runs probe, turning a panic into a failed probe so that one bad
// target cannot take the process down.
func (p *Prober) call(ctx context.Context, t *target, probe probeFunc) (w weightReport, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error().Stringer("target", t.AddrPort()).Str("check", t.checkName()).
				Interface("panic", r).Msg("probe panicked")
			w, err = weightReport{}, fmt.Errorf("probe panicked: %v", r)
		}
	}()
	return probe(ctx)
}

// record applies one probe result to t's counters and, when a threshold is
// crossed, to its State; then publishes a View.
func (p *Prober) record(t *target, err error, reason ErrorReason, took time.Duration, w weightReport) {
	p.mu.Lock()
	if t.removed {
		p.mu.Unlock()
		return
	}
	now := p.opts.Now()
	s := &t.status
	s.LastCheck = now
	s.LastOK = err == nil
	s.LastDuration = took
	p.counts.probes.Add(1)
	if err == nil {
		s.ConsecutiveOK++
		s.ConsecutiveFail = 0
	} else {
		s.ConsecutiveFail++
		s.ConsecutiveOK = 0
		s.LastError = clipError(err.Error())
		s.LastFailure = now
		s.Failures[reason]++
		p.counts.failures[reason].Add(1)
	}
	// A weight is read from passing probes only; a bad or missing one
	// leaves the last in force (see weight.go).
	wasWeight, reweighted := s.WeightPercent(), false
	if err == nil && t.check.WeightHeader != "" {
		if w.ok {
			// The first report of 100 changes nothing served.
			reweighted = wasWeight != w.percent
			s.Weight, s.WeightSet, s.WeightError = w.percent, true, ""
		} else {
			s.WeightError = clipError(w.err)
		}
	}
	from := s.State
	to := from
	switch {
	case from == Unknown && err == nil:
		to = Up
	case from == Unknown:
		to = Down
	case from == Up && s.ConsecutiveFail >= t.check.Fall:
		to = Down
	case from == Down && s.ConsecutiveOK >= t.check.Rise:
		to = Up
	}
	if reweighted {
		p.pending.target(t.key, t.Target)
	}
	if to != from {
		s.State = to
		s.Since = now
		p.pending.target(t.key, t.Target)
		if from != Unknown {
			s.Transitions++
			p.counts.transitions.Add(1)
		}
	}
	p.publishLocked(t)
	if to != from || reweighted {
		p.signal()
	}
	p.mu.Unlock()
	// After the log line, so that whoever FirstRound releases sees it.
	defer t.firstDone()

	// Act on transitions only: one line per change, never per probe.
	if reweighted {
		p.log.Info().Stringer("target", t.AddrPort()).Str("check", t.checkName()).
			Int("weight", w.percent).Int("from", wasWeight).Msg("target weight reported")
	}
	if to == from {
		return
	}
	var ev *zerolog.Event
	if to == Down {
		ev = p.log.Warn().Err(err)
	} else {
		ev = p.log.Info()
	}
	ev.Stringer("target", t.AddrPort()).Str("check", t.checkName()).
		Stringer("state", to).Stringer("from", from).Msg("target " + to.String())
}

// publishLocked stores a new View. With t set, only t's status changed and
// the index is shared with the previous View; with t nil, the View is
// rebuilt (targets or drains changed). p.mu is held (or p is not yet
// shared).
func (p *Prober) publishLocked(t *target) {
	if old := p.view.Load(); t != nil && old != nil {
		p.view.Store(old.withStatus(t.idx, p.statusLocked(t), false))
		return
	}
	v := &View{
		index:  make(map[string]int, len(p.order)),
		keys:   make([]string, 0, len(p.order)),
		status: make([][]*Status, 0, (len(p.order)+statusChunk-1)/statusChunk),
		n:      len(p.order),
		drains: p.drains,
	}
	p.byAddr = map[netip.Addr][]*target{}
	for i, t := range p.order {
		t.idx = i
		v.index[t.key] = i
		v.keys = append(v.keys, t.key)
		if i%statusChunk == 0 {
			v.status = append(v.status, make([]*Status, 0, statusChunk))
		}
		last := &v.status[len(v.status)-1]
		*last = append(*last, p.statusLocked(t))
		a := t.Addr.Unmap()
		p.byAddr[a] = append(p.byAddr[a], t)
	}
	slices.Sort(v.keys)
	p.view.Store(v)
}

// publishDrainsLocked stores a View with the current drains, in which the
// targets at the changed addresses have their Drained updated: the rest
// of the previous View is shared. p.mu is held.
func (p *Prober) publishDrainsLocked(changed []netip.Addr) {
	old := p.view.Load()
	v := &View{index: old.index, keys: old.keys, status: slices.Clone(old.status), n: old.n, drains: p.drains}
	for _, a := range changed {
		for _, t := range p.byAddr[a.Unmap()] {
			v = v.withStatus(t.idx, p.statusLocked(t), true)
		}
	}
	p.view.Store(v)
}

// statusLocked is t's published status: its own, plus the drain of its
// address.
func (p *Prober) statusLocked(t *target) *Status {
	s := t.status
	s.Target = t.Target
	s.DrainUntil, s.Drained = p.drains[t.Addr.Unmap()]
	return &s
}

// signal notifies Changes without blocking; a pending signal already
// covers this change.
func (p *Prober) signal() {
	select {
	case p.changes <- struct{}{}:
	default:
	}
}

// setDrains installs a new drain map, in which the drains of changed
// differ, and publishes it.
func (p *Prober) setDrains(d map[netip.Addr]time.Time, changed ...netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drains = d
	for _, a := range changed {
		p.pending.addr(a)
	}
	p.publishDrainsLocked(changed)
	p.signal()
}

// currentDrains returns the drain map, which callers must not modify.
func (p *Prober) currentDrains() map[netip.Addr]time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.drains
}

// maxErrorBytes bounds a probe's LastError: a backend chooses part of it
// (an HTTP reason phrase, a body excerpt), and it is kept per target and
// shown by /status, the status page, the logs and CH TXT.
const maxErrorBytes = 256

// clipError cuts msg to maxErrorBytes on a rune boundary, printable.
func clipError(msg string) string {
	// Control and format characters (a backend's ESC sequences, bidi
	// overrides) are escaped: /status, jq -r, the logs and CH TXT show it.
	msg = Printable(msg)
	if len(msg) <= maxErrorBytes {
		return msg
	}
	cut := maxErrorBytes - len("…")
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}
