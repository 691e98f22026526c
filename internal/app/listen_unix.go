//go:build unix

package app

import (
	"net"
	"sync"
	"syscall"
)

// umaskMu serializes the umask changes of listenUnix.
var umaskMu sync.Mutex

// listenUnix creates the socket at path with the mode already set: a chmod
// after the bind would follow a symlink that someone swapped in for the
// socket meanwhile, and change the mode of the file it points to. The
// umask is process-wide; it is changed only for the bind, at startup.
func listenUnix(path string, mode uint32) (net.Listener, error) {
	umaskMu.Lock()
	defer umaskMu.Unlock()
	old := syscall.Umask(int(^mode & 0o777))
	defer syscall.Umask(old)
	return net.Listen("unix", path)
}
