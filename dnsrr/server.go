// Package dnsrr is the authoritative DNS server: it listens on UDP and TCP,
// answers each query from the current zones.Snapshot (shuffling pools), and
// swaps in a new snapshot atomically on reload.
package dnsrr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dnsrr/dnsrr/zones"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
	"golang.org/x/net/netutil"
)

const (
	// udpReadSize is the largest datagram we read; a longer one arrives cut
	// short, fails to parse, and gets a header-only FORMERR (answerSlow).
	udpReadSize = 4096
	// maxTCPConns caps concurrent TCP clients so a flood of idle
	// connections cannot exhaust memory or descriptors.
	maxTCPConns = 1024
	// tcpIdleTimeout closes idle TCP connections (RFC 7766 §6.2.3 asks
	// for seconds, not minutes).
	tcpIdleTimeout = 10 * time.Second
)

// Server is an authoritative DNS server for one zones.Snapshot at a time.
type Server struct {
	log       zerolog.Logger
	listen    []string
	chaosInfo Chaos
	// state is read once per query, so no query mixes two snapshots.
	state atomic.Pointer[served]
	// rebuild serializes the writers of state (reloads, health changes).
	rebuild sync.Mutex
	health  Health

	mu      sync.Mutex
	servers []*dns.Server // TCP
	tcp     []*tcpListener
	udp     []*net.UDPConn
	addrs   []string
	wg      sync.WaitGroup
	// stopping tells UDP workers that are busy (not waiting for packets)
	// to return; idle ones are woken by a read deadline.
	stopping atomic.Bool
}

// served is what queries read: a snapshot, what health checks withdraw
// from it, and the fast path's templates built from both, swapped together.
type served struct {
	snap   *zones.Snapshot
	health map[*zones.RRset]healthySet
	short  map[poolKey]bool // pools whose on_all_down decided
	fast   *fastIndex
}

// New returns a server for snap; Start makes it listen.
func New(listen []string, chaos Chaos, snap *zones.Snapshot, log zerolog.Logger) *Server {
	s := &Server{log: log.With().Str("component", "server").Logger(), listen: listen, chaosInfo: chaos}
	s.Swap(snap)
	return s
}

// Snapshot returns the zones currently served.
func (s *Server) Snapshot() *zones.Snapshot { return s.state.Load().snap }

// Swap serves snap from the next query on; queries in flight finish on the
// snapshot they started with.
func (s *Server) Swap(snap *zones.Snapshot) {
	s.rebuild.Lock()
	defer s.rebuild.Unlock()
	s.publish(snap)
}

// SetHealth makes pools serve only their healthy members from now on.
func (s *Server) SetHealth(h Health) {
	s.rebuild.Lock()
	defer s.rebuild.Unlock()
	s.health = h
	s.publish(s.state.Load().snap)
}

// HealthChanged recomputes what pools serve after the health view changed.
func (s *Server) HealthChanged() {
	s.rebuild.Lock()
	defer s.rebuild.Unlock()
	s.publish(s.state.Load().snap)
}

func (s *Server) publish(snap *zones.Snapshot) {
	st := &served{snap: snap}
	if s.health != nil {
		var prev map[poolKey]bool
		if old := s.state.Load(); old != nil {
			prev = old.short
		}
		st.health, st.short = filterPools(snap, s.health, prev, s.log)
	}
	st.fast = buildFastIndex(st)
	s.state.Store(st)
}

// Addrs are the bound addresses, each serving UDP and TCP.
func (s *Server) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.addrs...)
}

// Start binds every listen address (UDP and TCP on the same port) and
// serves in the background. On error nothing is left listening.
func (s *Server) Start() error {
	for _, a := range s.listen {
		udp, l, err := bindPair(a, runtime.GOMAXPROCS(0))
		if err != nil && ipv6LoopbackMissing(a, err) && len(s.listen) > 1 {
			// The default listens on [::1] too; a host or container without
			// IPv6 has no such address. Serve the others, and say so.
			s.log.Warn().Err(err).Str("addr", a).Msg("no IPv6 loopback on this host: not listening there")
			continue
		}
		if err != nil {
			s.Shutdown(context.Background())
			return fmt.Errorf("listen on %s: %w", a, err)
		}
		for _, c := range udp {
			w := newUDPLoop(s, c)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				w.run()
			}()
		}
		tl := newTCPListener(l)
		s.mu.Lock()
		s.tcp = append(s.tcp, tl)
		s.mu.Unlock()
		s.serve(&dns.Server{
			Listener:      netutil.LimitListener(tl, maxTCPConns),
			Net:           "tcp",
			MaxTCPQueries: -1, // pipelining clients may send many; idle timeout bounds them
			IdleTimeout:   func() time.Duration { return tcpIdleTimeout },
		})
		s.mu.Lock()
		s.udp = append(s.udp, udp...)
		s.addrs = append(s.addrs, udp[0].LocalAddr().String())
		s.mu.Unlock()
	}
	if len(s.Addrs()) == 0 {
		return errors.New("no address to listen on")
	}
	return nil
}

func (s *Server) serve(srv *dns.Server) {
	srv.Handler = s
	srv.MsgAcceptFunc = acceptQuery
	s.mu.Lock()
	s.servers = append(s.servers, srv)
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.ActivateAndServe(); err != nil {
			s.log.Error().Err(err).Str("net", srv.Net).Msg("listener stopped")
		}
	}()
}

// acceptQuery screens headers before miekg/dns unpacks a message. Responses
// are dropped: answering them invites reflection loops between servers.
// Everything else reaches respond, so that odd opcodes and question counts
// get their NOTIMP or FORMERR with the EDNS handling of any other reply
// (miekg/dns's default would answer them without an OPT). Unpacking is
// bounded by the packet size, so accepting large section counts costs
// nothing a 4 KiB packet does not already cost.
func acceptQuery(dh dns.Header) dns.MsgAcceptAction {
	if dh.Bits&(1<<15) != 0 { // QR
		return dns.MsgIgnore
	}
	return dns.MsgAccept
}

// Shutdown stops reading new queries and waits, until ctx ends, for those
// in flight (TCP connections included). Safe to call more than once; a
// server that was shut down is not started again.
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	servers, udp, tcp := s.servers, s.udp, s.tcp
	s.servers, s.udp, s.tcp = nil, nil, nil
	s.mu.Unlock()
	s.stopping.Store(true)
	for _, c := range udp {
		stopReading(c)
	}
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.ShutdownContext(ctx); err != nil {
				s.log.Warn().Err(err).Str("net", srv.Net).Msg("shutdown incomplete")
			}
		}()
	}
	wg.Wait()
	// Past the grace period, connections still open (a client that stopped
	// reading, a pipeline still going) are closed, so that shutdown ends.
	// The listeners are closed here too: a server whose goroutine had not
	// started yet (Start failing on a later address) ignores ShutdownContext.
	for _, l := range tcp {
		_ = l.Listener.Close()
		l.closeAll()
	}
	s.wg.Wait()
	for _, c := range udp {
		c.Close()
	}
}

// ipv6LoopbackMissing reports a failure to bind ::1 because the host has
// no IPv6 (the address does not exist, or the family is not supported).
func ipv6LoopbackMissing(addr string, err error) bool {
	host, _, _ := net.SplitHostPort(addr)
	return net.ParseIP(host).Equal(net.IPv6loopback) &&
		(errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT))
}

// bindPair binds n UDP sockets (one per worker) and a TCP listener on one
// address. With port 0 the kernel picks the UDP port and TCP takes the same
// one, retrying if another program holds it on TCP.
func bindPair(addr string, n int) ([]*net.UDPConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	for attempt := 0; ; attempt++ {
		udp, err := listenUDP(addr, n)
		if err != nil {
			return nil, nil, err
		}
		bound := strconv.Itoa(udp[0].LocalAddr().(*net.UDPAddr).Port)
		l, err := net.Listen("tcp", net.JoinHostPort(host, bound))
		if err == nil {
			return udp, l, nil
		}
		for _, c := range udp {
			c.Close()
		}
		if port != "0" || attempt >= 20 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, err
		}
	}
}
