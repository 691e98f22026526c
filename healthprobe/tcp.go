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
	return tcpProbe(ap), func() {}
}

// tcpProbe succeeds when a TCP connection to ap is established; it closes
// it at once without sending anything.
func tcpProbe(ap netip.AddrPort) probeFunc {
	return func(ctx context.Context) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", ap.String())
		if err != nil {
			return err
		}
		conn.Close()
		return nil
	}
}
