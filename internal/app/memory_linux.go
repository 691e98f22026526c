package app

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// processMemory is the memory the process may use: the smallest of the
// machine's RAM, its cgroup's limit (systemd's MemoryMax=, a container's
// limit) and the Go memory limit (GOMEMLIMIT), with where it comes from.
func processMemory() (uint64, string) {
	limit, source := uint64(math.MaxUint64), ""
	consider := func(v uint64, what string) {
		if v > 0 && v < limit {
			limit, source = v, what
		}
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		consider(uint64(si.Totalram)*uint64(si.Unit), "RAM")
	}
	consider(cgroupMemoryLimit(), "cgroup memory limit")
	if l := debug.SetMemoryLimit(-1); l < math.MaxInt64 {
		consider(uint64(l), "GOMEMLIMIT")
	}
	if source == "" {
		return fallbackMemory, "unknown, assumed"
	}
	return limit, source
}

// cgroupMemoryLimit reads the process's cgroup memory limit (v2
// memory.max, or v1 memory.limit_in_bytes), the smallest along the path
// up to the root; 0 if there is none.
func cgroupMemoryLimit() uint64 {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return 0
	}
	defer f.Close()
	var limit uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		var dir, file string
		switch {
		case parts[0] == "0" && parts[1] == "":
			dir, file = "/sys/fs/cgroup", "memory.max"
		case strings.Contains(","+parts[1]+",", ",memory,"):
			dir, file = "/sys/fs/cgroup/memory", "memory.limit_in_bytes"
		default:
			continue
		}
		// Inside a container the path may not exist under its own mount;
		// walking up reaches the mount's root, which is the container's.
		for p := filepath.Clean("/" + parts[2]); ; p = filepath.Dir(p) {
			if b, err := os.ReadFile(filepath.Join(dir, p, file)); err == nil {
				if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && v > 0 && (limit == 0 || v < limit) {
					limit = v // "max" (no limit) does not parse
				}
			}
			if p == "/" {
				break
			}
		}
	}
	return limit
}
