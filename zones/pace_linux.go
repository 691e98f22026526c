package zones

import "golang.org/x/sys/unix"

// setLowestPriority sets the calling thread's nice value to 19. Lowering
// one's own priority needs no privilege; if it fails anyway the load just
// runs at normal priority.
func setLowestPriority() {
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 19)
}
