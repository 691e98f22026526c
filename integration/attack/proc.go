package main

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// userHZ is the unit of utime and stime in /proc/PID/stat: USER_HZ, 100 on
// every Linux architecture Go supports.
const userHZ = 100

// family is pid and its descendants: NSD runs as a main process with xfrd
// and server children, and forks a new server on every reload.
func family(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := statFields(p); len(f) > 1 {
			ppid, _ := strconv.Atoi(f[1])
			children[ppid] = append(children[ppid], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// statFields are the fields of /proc/PID/stat after the command name
// (which may hold spaces): [0] is the state, [1] the parent's PID.
func statFields(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// alive tells whether pid exists and is not a zombie.
func alive(pid int) bool {
	f := statFields(pid)
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// usage is what the server's processes hold at one moment.
type usage struct {
	rssKB int
	fds   int
	ticks map[int]int64 // user+system CPU ticks per process
}

func sample(pid int) usage {
	u := usage{ticks: map[int]int64{}}
	for _, p := range family(pid) {
		dir := "/proc/" + strconv.Itoa(p)
		if b, err := os.ReadFile(dir + "/status"); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
					kb, _ := strconv.Atoi(f[1])
					u.rssKB += kb
				}
			}
		}
		if fds, err := os.ReadDir(dir + "/fd"); err == nil {
			u.fds += len(fds)
		}
		if f := statFields(p); len(f) > 12 {
			ut, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			u.ticks[p] = ut + st
		}
	}
	return u
}

// monitor samples the server while an attack runs: peak RSS and fds, and
// CPU time. CPU is summed per process from increments, so a child that
// exits (an NSD reload) does not make the total go backwards.
type monitor struct {
	pid   int
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	start time.Time
	last  map[int]int64
	ticks int64
	peak  usage
}

func startMonitor(pid int, every time.Duration) *monitor {
	m := &monitor{pid: pid, stop: make(chan struct{}), done: make(chan struct{}), start: time.Now()}
	first := sample(pid)
	m.last, m.peak = first.ticks, first
	go func() {
		defer close(m.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				m.add(sample(pid))
				return
			case <-t.C:
				m.add(sample(pid))
			}
		}
	}()
	return m
}

func (m *monitor) add(u usage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.peak.rssKB = max(m.peak.rssKB, u.rssKB)
	m.peak.fds = max(m.peak.fds, u.fds)
	for p, t := range u.ticks {
		if d := t - m.last[p]; d > 0 {
			m.ticks += d
		}
	}
	m.last = u.ticks
}

// finish stops sampling and returns the peak usage and the CPU used, in
// percent of one core, since the monitor started.
func (m *monitor) finish() (usage, float64) {
	close(m.stop)
	<-m.done
	sec := time.Since(m.start).Seconds()
	return m.peak, float64(m.ticks) / userHZ / sec * 100
}
