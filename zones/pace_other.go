//go:build !linux

package zones

// setLowestPriority: per-thread priorities are a Linux feature; elsewhere
// a background load relies on its own Ps alone.
func setLowestPriority() {}
