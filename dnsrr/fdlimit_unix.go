//go:build unix

package dnsrr

import "golang.org/x/sys/unix"

// fdLimit is the process's file descriptor limit (the soft one, which the
// Go runtime raises to the hard one at startup), or 0 if unknown.
func fdLimit() int {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 0
	}
	return int(rl.Cur)
}
