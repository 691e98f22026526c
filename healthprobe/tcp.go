package healthprobe

import (
	"context"
	"net"
	"net/netip"
)

// newProbe builds the probe function for t's check (c, defaults applied)
// and a function that releases what the probe holds between runs.
func newProbe(t Target, c *Check, userAgent string) (probeFunc, func()) {
	ap := netip.AddrPortFrom(t.Addr, uint16(c.Port))
	if c.isHTTP() {
		h := newHTTPProbe(ap, c, userAgent)
		return h.probe, h.close
	}
	return tcpProbe(ap, dialerFrom(c.Source, t.Addr)), func() {}
}

// tcpProbe succeeds when a TCP connection to ap is established; it closes
// it at once without sending anything.
func tcpProbe(ap netip.AddrPort, d *net.Dialer) probeFunc {
	return func(ctx context.Context) (weightReport, error) {
		conn, err := d.DialContext(ctx, "tcp", ap.String())
		if err != nil {
			return weightReport{}, err
		}
		conn.Close()
		return weightReport{}, nil
	}
}

// dialerFrom dials to target from source, or from the address the system
// chooses when source is the zero Addr or of the other family (a check
// shared by IPv4 and IPv6 members has one source).
func dialerFrom(source, target netip.Addr) *net.Dialer {
	d := &net.Dialer{}
	if source.IsValid() && source.Unmap().Is4() == target.Unmap().Is4() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(source, 0))
	}
	return d
}
