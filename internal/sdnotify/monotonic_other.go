//go:build !linux

package sdnotify

// monotonicUsec: systemd runs only on Linux; elsewhere MONOTONIC_USEC is
// left out.
func monotonicUsec() (uint64, bool) { return 0, false }
