package dnsrr_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// TestUDPLoops runs both UDP loops (the recvmmsg one, where the platform
// has it, and the portable one) on both address families: bursts from
// several clients at once, so that batches hold many packets from
// different addresses, must each get their own reply, from the address they
// were sent to. Then shutdown must return while a client is still sending.
func TestUDPLoops(t *testing.T) {
	for _, loop := range []string{"default", "portable"} {
		for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
			t.Run(loop+"/"+addr, func(t *testing.T) {
				if loop == "portable" {
					t.Setenv("DNSRR_UDP_IO", "portable")
				}
				if addr[0] == '[' {
					if l, err := net.ListenPacket("udp", addr); err != nil {
						t.Skipf("no IPv6 loopback: %v", err)
					} else {
						l.Close()
					}
				}
				testUDPLoop(t, addr)
			})
		}
	}
}

func testUDPLoop(t *testing.T, addr string) {
	s := dnsrr.New([]string{addr}, dnsrr.Chaos{}, loadSnapshot(t), zerolog.Nop())
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			s.Shutdown(context.Background())
		}
	})
	server := s.Addrs()[0]

	const clients, burst, rounds = 8, 32, 20
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- burstClient(server, uint16(c)<<8, burst, rounds)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}

	// Shutdown while a client keeps the socket busy: it must return.
	conn, err := net.Dial("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	wire, _ := newQuery(name("www"), dns.TypeA).Pack()
	flood, floodDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(floodDone)
		for i := 0; i < 200000; i++ { // bounded: about a second at most
			select {
			case <-flood:
				return
			default:
			}
			if _, err := conn.Write(wire); err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	done := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		close(done)
	}()
	select {
	case <-done:
		stopped = true
	case <-time.After(20 * time.Second):
		t.Error("Shutdown did not return while a client was sending")
	}
	close(flood)
	<-floodDone
}

// burstClient sends rounds of burst queries, each round all at once, and
// checks that every query gets exactly its own reply.
func burstClient(server string, idBase uint16, burst, rounds int) error {
	conn, err := net.Dial("udp", server)
	if err != nil {
		return err
	}
	defer conn.Close()
	buf := make([]byte, 2048)
	for r := range rounds {
		want := map[uint16]bool{}
		for i := range burst {
			q := newQuery(name("www"), dns.TypeA)
			q.Id = idBase | uint16(i)
			wire, _ := q.Pack()
			if _, err := conn.Write(wire); err != nil {
				return err
			}
			want[q.Id] = true
		}
		for len(want) > 0 {
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := conn.Read(buf)
			if err != nil {
				return fmt.Errorf("round %d: %d replies missing: %w", r, len(want), err)
			}
			m := new(dns.Msg)
			if err := m.Unpack(buf[:n]); err != nil {
				return fmt.Errorf("round %d: reply does not unpack: %w", r, err)
			}
			if !want[m.Id] {
				return fmt.Errorf("round %d: reply with unexpected or repeated id %#x", r, m.Id)
			}
			if m.Rcode != dns.RcodeSuccess || len(m.Answer) == 0 {
				return fmt.Errorf("round %d: reply %#x: rcode %s, %d answers", r, m.Id, dns.RcodeToString[m.Rcode], len(m.Answer))
			}
			delete(want, m.Id)
		}
	}
	return nil
}
