package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/healthprobe"
	"github.com/dnsrr/dnsrr/internal/config"
	"github.com/dnsrr/dnsrr/zones"
	"github.com/rs/zerolog"
)

// adminListeners are the bound addresses of the admin API ("" when off).
type adminListeners struct {
	admin, status string
}

// startAdmin serves the admin API on hc.Admin and its read-only views on
// hc.StatusListen (either "" for none). A failure to listen is logged, not
// fatal: DNS matters more than its control panel.
func startAdmin(hc config.HealthConfig, h *health, srv *dnsrr.Server, ep *endpoints, m *appMetrics, log zerolog.Logger) (stop func(), bound adminListeners) {
	opts := healthprobe.AdminOptions{
		Groups:    func(q healthprobe.GroupQuery) ([]healthprobe.Group, bool) { return h.groupPage(q, srv.Answers) },
		IsMember:  h.isMember,
		Applied:   h.waitApplied,
		MaxDrain:  hc.DrainMax,
		MaxGroups: hc.StatusMaxPools,
		Server:    h.server,
	}
	clusterAdmin(&opts, h)
	var stops []func()
	start := func(addr string, readOnly bool) string {
		if addr == "" {
			return ""
		}
		o := opts
		o.ReadOnly = readOnly
		var token []byte
		if !readOnly {
			token = hc.AdminToken
		}
		handler := m.withMetrics(ep.withReload(ep.wrap(healthprobe.AdminHandler(h.prober, o)), readOnly))
		stop, bound, err := serveAdmin(addr, handler, token, hc.AdminLimits, m.counts(readOnly), log)
		if err != nil {
			log.Error().Err(err).Bool("read_only", readOnly).Msg("cannot listen for the admin API; serving DNS without it")
			return ""
		}
		// Before "serving": /readyz answers while the first probe round runs.
		log.Info().Str("addr", bound).Bool("read_only", readOnly).Msg("admin API listening")
		stops = append(stops, stop)
		return bound
	}
	bound.admin = start(hc.Admin, false)
	bound.status = start(hc.StatusListen, true)
	return func() {
		for _, stop := range stops {
			stop()
		}
	}, bound
}

// serveAdmin serves handler on addr within limits; with a token, every
// request must carry it. On loopback, the Host and Origin checks of
// LocalOnly keep browsers out.
func serveAdmin(addr string, handler http.Handler, token []byte, limits config.AdminLimits, counts *connCounts, log zerolog.Logger) (stop func(), bound string, err error) {
	ln, bound, err := listenAdmin(addr)
	if err != nil {
		return nil, "", err
	}
	if len(token) > 0 {
		handler = healthprobe.RequireToken(handler, token)
	}
	if _, unix := config.UnixSocket(addr); !unix && config.IsLocalAdmin(bound) {
		// Browsers cannot reach a Unix socket; loopback they can.
		handler = healthprobe.LocalOnly(handler, bound)
	}
	handler = limitBody(handler, limits.MaxBodyBytes)
	cl := newConnLimit(ln, limits.MaxConns, log.With().Str("admin", bound).Logger())
	counts.track(cl)
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: limits.ReadTimeout,
		ReadTimeout:       limits.ReadTimeout,
		WriteTimeout:      limits.WriteTimeout,
		IdleTimeout:       limits.IdleTimeout,
		MaxHeaderBytes:    limits.MaxHeaderBytes,
		ConnState:         cl.track,
	}
	go func() {
		if err := hs.Serve(cl); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("admin API stopped")
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	}, bound, nil
}

// adminSocketMode lets the socket's owner and group use the admin API:
// the file mode is its authority.
const adminSocketMode = 0o660

// listenAdmin listens on a TCP address or unix:PATH. A socket file left by
// a process that died is replaced; one that answers, or a file that is not
// a socket, is an error.
func listenAdmin(addr string) (net.Listener, string, error) {
	path, unix := config.UnixSocket(addr)
	if !unix {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, "", err
		}
		return ln, ln.Addr().String(), nil
	}
	if st, err := os.Lstat(path); err == nil {
		if st.Mode().Type() != fs.ModeSocket {
			return nil, "", fmt.Errorf("%s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, "", fmt.Errorf("%s is in use by another process", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, "", err
		}
	}
	ln, err := listenUnix(path, adminSocketMode)
	if err != nil {
		return nil, "", err
	}
	return ln, addr, nil
}

// limitBody refuses request bodies over max bytes: no endpoint reads one,
// so a caller cannot make the server hold or drain one either. A request
// that has a body is answered without waiting for the rest of it, and its
// connection closed: net/http would otherwise read what remains (up to
// 256 KiB) before answering and after, and a client sending it a byte at a
// time would hold its connection, busy, for admin_read_timeout, so a few
// such clients would keep an operator out at the connection cap.
func limitBody(h http.Handler, max int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 {
			w.Header().Set("Connection", "close")
			defer func() { _ = http.NewResponseController(w).SetReadDeadline(time.Now()) }()
		}
		if r.ContentLength > max {
			http.Error(w, "request body too large ([health] admin_max_body_bytes)", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		h.ServeHTTP(w, r)
	})
}

// groupPage lists the pools q selects for /status, in name order, building
// groups only for the pools returned: a zone of 200,000 pools costs a
// binary search per zone for a page, not 200,000 groups. answers says
// whether DNS serves a member of a pool now.
func (h *health) groupPage(q healthprobe.GroupQuery, answers func(pool string, a netip.Addr) bool) ([]healthprobe.Group, bool) {
	h.mu.RLock()
	p := h.plan
	h.mu.RUnlock()
	name := canonicalPool(q.Name)
	after := canonicalPool(q.After)
	var picked []*zones.Pool
	for _, z := range p.snap.Zones() {
		pools := z.PoolDefs // sorted by name
		i := sort.Search(len(pools), func(i int) bool { return pools[i].Name > after })
		if name != "" {
			i = max(i, sort.Search(len(pools), func(i int) bool { return pools[i].Name >= name }))
		}
		// One more than the limit tells whether the list was cut.
		for n := 0; i < len(pools) && n <= q.Limit; i++ {
			pool := pools[i]
			if name != "" && pool.Name != name {
				break
			}
			if q.Address.IsValid() && !pool.HasMember(q.Address) {
				continue
			}
			picked = append(picked, pool)
			n++
		}
	}
	slices.SortStableFunc(picked, func(a, b *zones.Pool) int { return strings.Compare(a.Name, b.Name) })
	more := len(picked) > q.Limit
	if more {
		// A page never ends between pools of the same name (in different
		// zones): the next page starts after the name.
		n := q.Limit
		for n > 0 && n < len(picked) && picked[n].Name == picked[n-1].Name {
			n++
		}
		more = n < len(picked)
		picked = picked[:n]
	}
	out := make([]healthprobe.Group, 0, len(picked))
	for _, pool := range picked {
		g := healthprobe.Group{Name: pool.Name}
		hc := p.checks[pool.Check]
		if pool.Check != nil {
			g.Check, g.Policy = pool.Check.Name, pool.OnAllDown.String()
		}
		for _, a := range pool.Members() {
			g.Members = append(g.Members, healthprobe.Member{Addr: a, Check: hc, Weight: pool.Weight(a)})
		}
		g.Answered = func(a netip.Addr) bool { return answers(pool.Name, a) }
		out = append(out, g)
	}
	return out, more
}

// canonicalPool is a pool name as zones store it: lower case, fully qualified.
func canonicalPool(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ToLower(s)
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// isMember reports whether addr is a member of some pool of the zones
// loaded: only those can be drained. A scan, with no index to keep up to
// date: a million members take a few milliseconds, and drains are rare.
func (h *health) isMember(addr netip.Addr) bool {
	h.mu.RLock()
	p := h.plan
	h.mu.RUnlock()
	for _, z := range p.snap.Zones() {
		for _, pool := range z.PoolDefs {
			if pool.HasMember(addr) {
				return true
			}
		}
	}
	return false
}
