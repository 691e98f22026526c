//go:build !linux || !(amd64 || arm64 || loong64 || mips64 || mips64le || ppc64 || ppc64le || riscv64 || s390x)

package dnsrr

import (
	"errors"
	"net"
)

func newMmsgWorker(*Server, *net.UDPConn) (udpLoop, error) {
	return nil, errors.New("recvmmsg loop: Linux on 64-bit only")
}
