//go:build !linux

package zones

// threadPriorities: elsewhere a nice value is the whole process's, so
// reloads run in the foreground (see inBackground).
const threadPriorities = false

func setLowestPriority() {}

func onMainThread() bool { return false }
