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

	"github.com/dnsrr/dnsrr/zones"
	"github.com/rs/zerolog"
)

const (
	// udpReadSize is the largest datagram we read; a longer one arrives cut
	// short, fails to parse, and gets a header-only FORMERR (answerSlow).
	udpReadSize = 4096
)

// Server is an authoritative DNS server for one zones.Snapshot at a time.
type Server struct {
	// TCP bounds DNS-over-TCP clients; set it before Start. Its zero
	// fields take their defaults (DefaultTCPLimits).
	TCP TCPLimits

	log       zerolog.Logger
	listen    []string
	chaosInfo Chaos
	// state is read once per query, so no query mixes two snapshots.
	state atomic.Pointer[served]
	// rebuild serializes the writers of state (reloads, health changes).
	rebuild sync.Mutex
	health  Health
	// policy is read once per query (into wireQuery.policy): cookies,
	// NSID and rate limiting (SetPolicy).
	policy atomic.Pointer[Policy]
	// status serves the CH TXT status names (SetStatus); nil: none.
	status atomic.Pointer[statusNames]
	// transfers is who may transfer zones and the TSIG keys
	// (SetTransfers); transfersRunning counts those being sent.
	transfers        atomic.Pointer[Transfers]
	transfersRunning atomic.Int32

	mu    sync.Mutex
	tcp   *tcpServer
	udp   []*net.UDPConn
	addrs []string
	wg    sync.WaitGroup
	// stopping tells UDP workers that are busy (not waiting for packets)
	// to return; idle ones are woken by a read deadline.
	stopping atomic.Bool
	// stats are the counters of every answer (stats.go), about 120 KB.
	stats stats
}

// served is what queries read: a snapshot, what health checks withdraw
// from it, and the fast path's templates built from both, swapped together.
type served struct {
	snap *zones.Snapshot
	// health is what pool sets serve (nil without health checks), index
	// finds them by member.
	health map[*zones.Zone]*zoneHealth
	index  *poolIndex
	fast   *fastIndex
}

// New returns a server for snap; Start makes it listen.
func New(listen []string, chaos Chaos, snap *zones.Snapshot, log zerolog.Logger) *Server {
	s := &Server{log: log.With().Str("component", "server").Logger(), listen: listen, chaosInfo: chaos}
	s.policy.Store(&Policy{})
	s.Swap(snap)
	return s
}

// Snapshot returns the zones currently served.
func (s *Server) Snapshot() *zones.Snapshot { return s.state.Load().snap }

// Swap serves snap from the next query on; queries in flight finish on the
// snapshot they started with.
func (s *Server) Swap(snap *zones.Snapshot) {
	// The member index of a large zone takes a while: health changes keep
	// being applied to the old snapshot meanwhile.
	s.rebuild.Lock()
	checked := s.health != nil
	s.rebuild.Unlock()
	var ix *poolIndex
	if checked {
		ix = newPoolIndex(snap)
	}
	s.rebuild.Lock()
	defer s.rebuild.Unlock()
	s.publish(snap, ix)
}

// SetHealth makes pools serve only their healthy members from now on.
func (s *Server) SetHealth(h Health) {
	s.rebuild.Lock()
	defer s.rebuild.Unlock()
	s.health = h
	s.publish(s.state.Load().snap, nil)
}

// HealthChanged recomputes what every pool serves after the health view
// changed; HealthChangedAt recomputes only some.
func (s *Server) HealthChanged() {
	s.rebuild.Lock()
	defer s.rebuild.Unlock()
	s.publish(s.state.Load().snap, nil)
}

// publish serves snap from now on, with what health allows; ix is snap's
// member index if the caller built it, else nil.
func (s *Server) publish(snap *zones.Snapshot, ix *poolIndex) {
	st := &served{snap: snap}
	if s.health != nil {
		var prev map[poolKey]bool
		old := s.state.Load()
		if old != nil {
			prev = old.policies()
		}
		switch {
		case ix != nil && ix.snap == snap:
			st.index = ix
		case old != nil && old.index != nil && old.snap == snap:
			st.index = old.index
		default:
			st.index = newPoolIndex(snap)
		}
		st.health = filterPools(snap, s.health, prev, s.log)
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
	if err := s.TCP.Validate(); err != nil {
		return err
	}
	tcp := newTCPServer(s, s.TCP)
	s.mu.Lock()
	s.tcp = tcp
	s.mu.Unlock()
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
		tcp.serve(l)
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

// Shutdown stops reading new queries and waits, until ctx ends, for those
// in flight (TCP connections included). Safe to call more than once; a
// server that was shut down is not started again.
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	udp, tcp := s.udp, s.tcp
	s.udp = nil
	s.mu.Unlock()
	s.stopping.Store(true)
	for _, c := range udp {
		stopReading(c)
	}
	// Past the grace period, connections still open (a client that stopped
	// reading) are closed, so that shutdown ends.
	if tcp != nil {
		tcp.shutdown(ctx)
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
