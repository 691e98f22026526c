//go:build !unix

package app

import (
	"net"
	"os"
)

// listenUnix creates the socket at path and sets its mode (no umask here).
func listenUnix(path string, mode uint32) (net.Listener, error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, os.FileMode(mode)); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}
