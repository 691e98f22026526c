package app

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dnsrr/dnsrr/internal/config"
	"github.com/dnsrr/dnsrr/zones"
)

// A load told to stop has this long to notice (it checks every few hundred
// records) before it is left behind: a read that blocks, on a FIFO or a
// hung network file system, cannot be told anything.
var stopGrace = 5 * time.Second

// heapPoll is how often the heap is measured during a load: reading
// runtime/metrics costs microseconds.
const heapPoll = 10 * time.Millisecond

// budget is what one load of the zones may spend (config.ReloadBudget,
// with a share of memory resolved to bytes).
type budget struct {
	timeout time.Duration
	memory  uint64 // bytes the live heap may grow by
	// memoryNote says where memory came from, for errors and the log.
	memoryNote string
}

func newBudget(c config.ReloadBudget) budget {
	b := budget{timeout: c.Timeout, memory: c.Memory, memoryNote: config.FormatSize(c.Memory)}
	if b.memory == 0 {
		limit, source := processMemory()
		b.memory = limit / 100 * uint64(c.MemoryPercent)
		b.memoryNote = fmt.Sprintf("%s, %d%% of %s (%s)", config.FormatSize(b.memory), c.MemoryPercent, config.FormatSize(limit), source)
	}
	return b
}

// loadFunc loads zones, asking stop between records (zones.Loader.Stop).
type loadFunc func(stop func(file string) error) (*zones.Snapshot, error)

// loadResult is what runLoad returns.
type loadResult struct {
	snap *zones.Snapshot
	err  error
	// done closes when the load has returned: later than runLoad, if it
	// was left behind (see runLoad).
	done <-chan struct{}
	// heapAdded is the most the live heap grew by during the load, as
	// measured (at the end of each collection): what reload_memory bounds.
	heapAdded uint64
}

// runLoad runs load on a goroutine of its own under b and waits for it.
// A load over its time or memory is told to stop (its next stop call
// fails with the limit), and fails with that error at the file it was
// reading. When ctx ends the load is told to stop and not waited for; nor
// is a load that does not stop within stopGrace of being told. The
// result's done closes when load has returned, however late: until then it
// may hold memory and a thread, so the caller starts no other load.
func runLoad(ctx context.Context, b budget, load loadFunc) loadResult {
	w := &watch{}
	finished := make(chan struct{})
	var loaded *zones.Snapshot
	var loadErr error
	go func() {
		defer close(finished)
		loaded, loadErr = load(w.stop)
	}()
	heap := watchHeap(b.memory)
	defer heap.restore()
	poll := time.NewTicker(heapPoll)
	defer poll.Stop()
	deadline := time.NewTimer(b.timeout)
	defer deadline.Stop()
	var abandon <-chan time.Time
	for {
		select {
		case <-finished:
			heap.grown() // the last collection may have ended since the last poll
			return loadResult{snap: loaded, err: loadErr, done: finished, heapAdded: heap.peak}
		case <-ctx.Done():
			w.trip(fmt.Errorf("load cancelled: %w", context.Cause(ctx)))
			return loadResult{err: w.err(), done: finished, heapAdded: heap.peak}
		case <-deadline.C:
			w.trip(fmt.Errorf("reload_timeout: the load took longer than %v", b.timeout))
		case <-poll.C:
			if grown := heap.grown(); grown > b.memory {
				w.trip(fmt.Errorf("reload_memory: the load grew the heap by %s, over its budget of %s", config.FormatSize(grown), b.memoryNote))
			}
		case <-abandon:
			file := w.file()
			if file == "" {
				file = "(before the first zone file)"
			}
			err := &zones.Error{File: file, Msg: fmt.Sprintf("%v; the load did not stop within %v (a read that blocks?) and is left to end by itself: no other load starts before it does", w.err(), stopGrace)}
			return loadResult{err: err, done: finished, heapAdded: heap.peak}
		}
		if abandon == nil && w.err() != nil {
			abandon = time.After(stopGrace)
			poll.Stop()
			// The verdict is in: a load over its memory holds more live
			// heap than the lowered limit, and the collector would run
			// flat out (half the CPU) until it stops, slowing the load's
			// stop and the server beside it.
			heap.restore()
		}
	}
}

// watch is the stop hook of one load: it notes the file the load is at,
// and fails from the moment the load is over budget.
type watch struct {
	stopped atomic.Pointer[error]
	at      atomic.Pointer[string]
}

func (w *watch) stop(file string) error {
	if w.at.Load() == nil || *w.at.Load() != file {
		w.at.Store(&file)
	}
	return w.err()
}

func (w *watch) trip(err error) { w.stopped.CompareAndSwap(nil, &err) }

func (w *watch) err() error {
	if e := w.stopped.Load(); e != nil {
		return *e
	}
	return nil
}

func (w *watch) file() string {
	if f := w.at.Load(); f != nil {
		return *f
	}
	return ""
}

// heapWatch measures how much a load adds to the live heap. The live heap
// is known at the end of each collection, so while the load runs the Go
// memory limit is lowered to what was in use plus the budget: the
// collector then runs as the heap nears it, collecting the parser's
// garbage (which does not count against the budget) and measuring what is
// live, and the load is stopped as soon as that is over budget. It is put
// back when the load ends.
type heapWatch struct {
	samples   []metrics.Sample
	base      uint64
	peak      uint64 // the most grown has returned
	prevLimit int64
	limited   bool
}

// memoryLimitMu: the memory limit is the process's; if two loads ran at
// once (tests), only the first sets it.
var memoryLimitMu sync.Mutex

const (
	liveHeap       = "/gc/heap/live:bytes"
	totalMemory    = "/memory/classes/total:bytes"
	releasedMemory = "/memory/classes/heap/released:bytes"
)

func watchHeap(budget uint64) *heapWatch {
	h := &heapWatch{samples: []metrics.Sample{{Name: liveHeap}, {Name: totalMemory}, {Name: releasedMemory}}}
	metrics.Read(h.samples)
	h.base = h.samples[0].Value.Uint64()
	used := h.samples[1].Value.Uint64() - h.samples[2].Value.Uint64()
	if memoryLimitMu.TryLock() {
		h.prevLimit = debug.SetMemoryLimit(-1)
		if limit := used + budget; limit < uint64(h.prevLimit) {
			debug.SetMemoryLimit(int64(limit))
			h.limited = true
		} else {
			memoryLimitMu.Unlock()
		}
	}
	return h
}

// grown is how much the live heap grew since the watch began.
func (h *heapWatch) grown() uint64 {
	metrics.Read(h.samples[:1])
	live := h.samples[0].Value.Uint64()
	if live <= h.base {
		return 0
	}
	h.peak = max(h.peak, live-h.base)
	return live - h.base
}

func (h *heapWatch) restore() {
	if h.limited {
		debug.SetMemoryLimit(h.prevLimit)
		h.limited = false
		memoryLimitMu.Unlock()
	}
}

// errAbandoned: a load left behind has not returned yet.
var errAbandoned = errors.New("the previous load, stopped over its budget, has not ended yet (a zone file whose read blocks?): no new load until it does")

// fallbackMemory is what processMemory assumes when it cannot tell.
const fallbackMemory = 2 << 30
