//go:build !linux

package app

import (
	"math"
	"runtime/debug"
)

// processMemory is the Go memory limit (GOMEMLIMIT) if set; elsewhere the
// machine's memory is not looked up.
func processMemory() (uint64, string) {
	if l := debug.SetMemoryLimit(-1); l < math.MaxInt64 {
		return uint64(l), "GOMEMLIMIT"
	}
	return fallbackMemory, "unknown, assumed"
}
