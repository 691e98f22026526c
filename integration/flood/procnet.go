package flood

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// SocketDrops sums the "drops" column of /proc/net/udp and udp6 over the
// sockets bound to one of addrs: datagrams the kernel discarded because
// the socket's receive buffer was full. For a server, drops during a
// flood are queries it never saw (not a rate limiter's doing). Linux
// only; elsewhere, and for addresses with no socket, 0.
func SocketDrops(addrs ...netip.AddrPort) int {
	want := map[netip.AddrPort]bool{}
	for _, a := range addrs {
		want[netip.AddrPortFrom(a.Addr().Unmap(), a.Port())] = true
	}
	total := 0
	for _, file := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 13 {
				continue
			}
			local, ok := parseProcAddr(fields[1])
			if !ok || !want[local] {
				continue
			}
			n, _ := strconv.Atoi(fields[12])
			total += n
		}
		f.Close()
	}
	return total
}

// parseProcAddr reads "0100007F:0035": the address as the kernel's
// 32-bit words printed in host byte order, then the port.
func parseProcAddr(s string) (netip.AddrPort, bool) {
	hexAddr, hexPort, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(hexAddr)
	port, perr := strconv.ParseUint(hexPort, 16, 16)
	if !ok || err != nil || perr != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(raw[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), true
}

// clientDrops are the drops at the flood's own UDP sockets.
func clientDrops(srcs []*source) int {
	var addrs []netip.AddrPort
	for _, s := range srcs {
		if !s.tcp {
			addrs = append(addrs, s.conn.LocalAddr().(*net.UDPAddr).AddrPort())
		}
	}
	if len(addrs) == 0 {
		return 0
	}
	return SocketDrops(addrs...)
}
