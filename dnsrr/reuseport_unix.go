//go:build unix

package dnsrr

import "golang.org/x/sys/unix"

// soReusePort lets several sockets share a port; the kernel spreads
// datagrams over them by flow hash.
const soReusePort = unix.SO_REUSEPORT
