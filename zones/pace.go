package zones

import (
	"runtime"
	"sync"
)

// pace is how a load shares the machine with a server answering queries.
//
// In the foreground (startup, `dnsrr check`) loading has the machine to
// itself but for probes: its goroutines yield every few records so that
// nothing else waits a whole scheduler slice.
//
// In the background (a reload beside a serving server) every goroutine of
// the load runs on an OS thread of its own, locked to it and set to the
// lowest priority (nice 19, Linux), and GOMAXPROCS is raised for the
// duration by as many threads as the load may run at once. So the
// goroutines answering queries keep the Ps they had (none waits for the
// loader to be preempted), and when their threads and the loader's want
// the same CPU, the kernel runs theirs first. The loader's threads exit
// with its goroutines (they are never unlocked), so no serving goroutine
// ever runs at the lowered priority.
type pace struct {
	background bool
	workers    int // how many pieces a large master file is parsed in
}

func foreground() pace { return pace{workers: runtime.GOMAXPROCS(0)} }

// yield lets other goroutines run every 32 calls, in the foreground. In
// the background the load has Ps of its own, and yielding a locked thread
// would cost two context switches each time.
func (p pace) yield(i int) {
	if !p.background && i&31 == 31 {
		runtime.Gosched()
	}
}

// parts is how many pieces to parse a master file of size bytes in: one
// per worker for large files, where parsing dominates loading.
func (p pace) parts(size int) int {
	if size < 1<<20 {
		return 1
	}
	return p.workers
}

// spawn runs f on a new goroutine, on a low-priority thread in the
// background.
func (p pace) spawn(f func()) {
	go func() {
		if p.background {
			lowerPriority()
		}
		f()
	}()
}

// lowerPriority locks the calling goroutine to its thread for good (the
// thread exits with the goroutine) and gives the thread the lowest
// scheduling priority.
func lowerPriority() {
	runtime.LockOSThread()
	setLowestPriority()
}

// backgroundMu keeps background loads from overlapping: each raises
// GOMAXPROCS and puts it back.
var backgroundMu sync.Mutex

// inBackground runs f as a background load (see pace) and waits for it.
func inBackground(f func(pace)) {
	backgroundMu.Lock()
	defer backgroundMu.Unlock()
	procs := runtime.GOMAXPROCS(0)
	p := pace{background: true, workers: procs}
	// At most max(workers, 2) of the load's goroutines run at once: the
	// parsers, or the builder and the sorter of pools.
	runtime.GOMAXPROCS(procs + max(p.workers, 2))
	// Put back exactly (rather than SetDefaultGOMAXPROCS): the server sized
	// its sockets by it, and a program may have set its own.
	defer runtime.GOMAXPROCS(procs)
	done := make(chan struct{})
	p.spawn(func() {
		defer close(done)
		f(p)
	})
	<-done
}
