//go:build linux && (amd64 || arm64 || loong64 || mips64 || mips64le || ppc64 || ppc64le || riscv64 || s390x)

package dnsrr

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Linux UDP loop calls recvmmsg and sendmmsg itself, non-blocking,
// inside syscall.RawConn.Read, and keeps reading for as long as the socket
// has packets: the runtime's poller is entered only when recvmmsg finds the
// socket empty (EAGAIN), so a busy worker answers batch after batch without
// parking, and an idle one sleeps in epoll like any Go network code. Its
// buffers, addresses and message headers are allocated once per worker; a
// reply goes back to the address the kernel wrote for its query, without
// converting it to a net.Addr.
//
// The calls are raw (syscall.RawSyscall6: no entersyscall/exitsyscall),
// which is safe only because they do not block: the socket is non-blocking
// and MSG_DONTWAIT is passed, so each returns after copying at most one
// batch (the kernel may still reclaim memory or take a page fault inside,
// as it may on any Go instruction). While one runs the worker holds its P,
// as during any Go computation of that length; a garbage collection or a
// stop-the-world waits at most that long, and between calls the worker is
// ordinary, preemptible Go code. Signals are handled by the runtime on
// whichever thread receives them, as always; a call they interrupt returns
// EINTR and is made again.
//
// Shutdown sets Server.stopping, then a read deadline in the past: a busy
// worker sees the flag after answering the batch in hand, an idle one is
// woken by the deadline. Either way the worker returns before its socket is
// closed, and replies already computed are sent.

// mmsghdr is struct mmsghdr of <sys/socket.h> on 64-bit Linux.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32 // bytes received or sent
	_   [4]byte
}

// sendRetries bounds how often a full send buffer is waited on before the
// rest of a batch is dropped (UDP clients retry; a stuck worker helps none).
const sendRetries = 3

type mmsgWorker struct {
	s     *Server
	rc    syscall.RawConn
	in    []mmsghdr
	out   []mmsghdr
	inIov []unix.Iovec
	ouIov []unix.Iovec
	names []unix.RawSockaddrInet6 // room for either family's address
	bufs  [][]byte                // reply buffers, one per batch slot
	q     wireQuery
	serve func(fd uintptr) bool // w.readAndAnswer, bound once (a method value allocates)
}

func newMmsgWorker(s *Server, conn *net.UDPConn) (udpLoop, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	w := &mmsgWorker{
		s: s, rc: rc,
		in: make([]mmsghdr, udpBatch), out: make([]mmsghdr, udpBatch),
		inIov: make([]unix.Iovec, udpBatch), ouIov: make([]unix.Iovec, udpBatch),
		names: make([]unix.RawSockaddrInet6, udpBatch),
		bufs:  make([][]byte, udpBatch),
	}
	for i := range udpBatch {
		pkt := make([]byte, udpReadSize)
		w.inIov[i].Base = &pkt[0]
		w.inIov[i].SetLen(len(pkt))
		w.in[i].hdr.Iov = &w.inIov[i]
		w.in[i].hdr.SetIovlen(1)
		w.in[i].hdr.Name = (*byte)(unsafe.Pointer(&w.names[i]))
		w.out[i].hdr.Iov = &w.ouIov[i]
		w.out[i].hdr.SetIovlen(1)
		w.bufs[i] = make([]byte, 0, udpReadSize)
	}
	w.serve = w.readAndAnswer
	w.q.stats = s.stats.shard()
	return w, nil
}

func (w *mmsgWorker) run() {
	for !w.s.stopping.Load() {
		err := w.rc.Read(w.serve)
		if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
		if err != nil {
			w.s.log.Debug().Err(err).Msg("udp read")
		}
	}
}

// readAndAnswer answers batches until the socket is empty (false: wait in
// the poller) or the server stops (true).
func (w *mmsgWorker) readAndAnswer(fd uintptr) bool {
	for !w.s.stopping.Load() {
		for i := range w.in {
			w.in[i].hdr.Namelen = unix.SizeofSockaddrInet6
		}
		n, _, errno := syscall.RawSyscall6(unix.SYS_RECVMMSG, fd,
			uintptr(unsafe.Pointer(&w.in[0])), uintptr(len(w.in)), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
		case unix.EAGAIN:
			return false
		case unix.EINTR:
			continue
		default:
			// Nothing should get here: an unconnected UDP socket queues no
			// ICMP errors. Should a bug make the error persist, pause
			// rather than spin.
			w.s.log.Warn().Err(errno).Msg("udp read")
			time.Sleep(10 * time.Millisecond)
			continue
		}
		start := monotonic()
		k := 0
		for i := range int(n) {
			m := &w.in[i]
			pkt := unsafe.Slice(w.inIov[i].Base, m.n)
			w.q.client, w.q.port = sockaddrAddr(&w.names[i])
			resp := w.s.answerUDP(pkt, w.bufs[k], &w.q)
			if len(resp) == 0 {
				continue
			}
			o := &w.out[k]
			o.hdr.Name, o.hdr.Namelen = m.hdr.Name, m.hdr.Namelen
			w.ouIov[k].Base = &resp[0]
			w.ouIov[k].SetLen(len(resp))
			k++
		}
		w.send(fd, k)
		w.q.stats.observe(TransportUDP, k, monotonic()-start)
	}
	return true
}

func (w *mmsgWorker) send(fd uintptr, k int) {
	retries := 0
	for sent := 0; sent < k; {
		n, _, errno := syscall.RawSyscall6(unix.SYS_SENDMMSG, fd,
			uintptr(unsafe.Pointer(&w.out[sent])), uintptr(k-sent), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			sent += int(n)
		case unix.EINTR:
		case unix.EAGAIN, unix.ENOBUFS:
			// The send buffer is full: wait (blocking, so through the
			// runtime) for room, a bounded number of times.
			retries++
			if retries > sendRetries || !waitWritable(fd) {
				w.s.log.Debug().Int("dropped", k-sent).Msg("udp send buffer full")
				return
			}
		default:
			// The first reply failed on its own (an address the kernel
			// refuses); the rest of the batch still goes.
			w.s.log.Debug().Err(errno).Msg("udp write")
			sent++
		}
	}
}

func waitWritable(fd uintptr) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	n, err := unix.Poll(pfd, 10)
	return err == nil && n > 0
}

// sockaddrAddr is the address and port the kernel wrote into name for a
// packet.
func sockaddrAddr(name *unix.RawSockaddrInet6) (netip.Addr, uint16) {
	// The port is in network byte order, at the same place in both families.
	port := (*[2]byte)(unsafe.Pointer(&name.Port))
	p := uint16(port[0])<<8 | uint16(port[1])
	switch name.Family {
	case unix.AF_INET:
		return netip.AddrFrom4((*unix.RawSockaddrInet4)(unsafe.Pointer(name)).Addr), p
	case unix.AF_INET6:
		return netip.AddrFrom16(name.Addr).Unmap(), p
	}
	return netip.Addr{}, 0
}
