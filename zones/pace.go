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
	// stop is Loader.Stop, asked every few hundred records about file.
	stop func(file string) error
	file string
}

func foreground() pace { return pace{workers: runtime.GOMAXPROCS(0)} }

// yield lets other goroutines run every 32 calls, in the foreground. In
// the background the load has Ps of its own, and yielding a locked thread
// would cost two context switches each time. It returns false when the
// load must stop (Loader.Stop said so); the caller breaks off, and load
// throws away what it got.
func (p pace) yield(i int) bool {
	if i&255 == 255 && p.stop != nil && p.stop(p.file) != nil {
		return false
	}
	if !p.background && i&31 == 31 {
		runtime.Gosched()
	}
	return true
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
			runtime.LockOSThread()
			if onMainThread() {
				// The process's main thread must keep its priority: Go
				// parks it for good, rather than ending it, when a locked
				// goroutine exits on it, and it would stay at nice 19. Hold
				// it while a goroutine on another thread does the work.
				done := make(chan struct{})
				p.spawn(func() {
					defer close(done)
					f()
				})
				<-done
				runtime.UnlockOSThread()
				return
			}
			setLowestPriority() // the thread exits with the goroutine, never unlocked
		}
		f()
	}()
}

// backgroundMu keeps background loads from overlapping: each raises
// GOMAXPROCS and puts it back.
var backgroundMu sync.Mutex

// inBackground runs f as a background load (see pace) and waits for it.
// Where threads have no priorities of their own it runs f in the
// foreground: extra Ps alone would only make the load compete with the
// server as an equal.
//
// GOMAXPROCS is put back exactly, so from the first reload on the runtime
// no longer follows changes of the CPU limit (Go 1.25's default); the
// server sized its UDP sockets at startup anyway.
func inBackground(f func(pace)) {
	if !threadPriorities {
		f(foreground())
		return
	}
	backgroundMu.Lock()
	defer backgroundMu.Unlock()
	procs := runtime.GOMAXPROCS(0)
	p := pace{background: true, workers: procs}
	// At most max(workers, 2) of the load's goroutines run at once: the
	// parsers, or the builder and the sorter of pools.
	runtime.GOMAXPROCS(procs + max(p.workers, 2))
	defer runtime.GOMAXPROCS(procs)
	done := make(chan struct{})
	p.spawn(func() {
		defer close(done)
		f(p)
	})
	<-done
}
