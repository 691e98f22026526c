package zones

import "golang.org/x/sys/unix"

// threadPriorities: Linux gives each thread its own nice value.
const threadPriorities = true

// setLowestPriority sets the calling thread's nice value to 19. Lowering
// one's own priority needs no privilege; if it fails anyway the load just
// runs at normal priority.
func setLowestPriority() {
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 19)
}

// onMainThread reports whether the calling thread is the process's first.
func onMainThread() bool { return unix.Gettid() == unix.Getpid() }
