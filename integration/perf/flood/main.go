// Command flood sends one DNS question at a fixed rate from several
// loopback source addresses, as a reflection attack would (its victim's
// addresses spoofed), and prints what came back: replies by kind, bytes
// both ways, and the datagrams dropped at the server's socket (queries it
// never saw) and at ours. integration/perf/rrl.sh runs it against dnsrr,
// NSD and Knot.
//
//	flood -server 127.0.0.1:5300 -name www.lb.example.test. -rate 20000 -duration 10s
//	flood -server 127.0.0.1:5300 -cookies     # each source does the cookie handshake first
//	flood -server 127.0.0.1:5300 -tcp         # one TCP connection per source
//	flood ... -kv                             # one line of key=value for scripts
//
// Loopback only; bounded in count (-count) and time (-duration).
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dnsrr/dnsrr/integration/flood"
	"github.com/miekg/dns"
)

func main() {
	var (
		server, name, qtype, base string
		sources, step             int
		edns                      uint
		kv                        bool
		cfg                       flood.Config
	)
	flag.StringVar(&server, "server", "127.0.0.1:5353", "the server's address (loopback)")
	flag.StringVar(&name, "name", "www.lb.example.test.", "the name asked")
	flag.StringVar(&qtype, "type", "A", "the type asked")
	flag.IntVar(&sources, "sources", 4, "source addresses")
	flag.StringVar(&base, "source-base", "127.0.0.10", "the first source address")
	flag.IntVar(&step, "source-step", 1, "distance between source addresses (256: one per /24)")
	flag.IntVar(&cfg.Rate, "rate", 10000, "queries per second, all sources together")
	flag.IntVar(&cfg.Count, "count", 1_000_000, "queries at most")
	flag.DurationVar(&cfg.Duration, "duration", 10*time.Second, "time spent sending, at most")
	flag.DurationVar(&cfg.Drain, "drain", 500*time.Millisecond, "wait for replies after the last query")
	flag.UintVar(&edns, "edns", 1232, "EDNS buffer size advertised; 0: no OPT record")
	flag.BoolVar(&cfg.Cookies, "cookies", false, "do the DNS cookie handshake, then send client and server cookie")
	flag.BoolVar(&cfg.TCP, "tcp", false, "one TCP connection per source instead of UDP")
	flag.BoolVar(&kv, "kv", false, "print one line of key=value")
	flag.Parse()

	var err error
	if cfg.Server, err = netip.ParseAddrPort(server); err != nil {
		fail(2, err)
	}
	var ok bool
	if cfg.Type, ok = dns.StringToType[qtype]; !ok {
		fail(2, fmt.Errorf("unknown type %q", qtype))
	}
	cfg.Name, cfg.EDNSSize = dns.Fqdn(name), uint16(min(edns, 65535))
	if cfg.Sources, err = addresses(base, sources, step); err != nil {
		fail(2, err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	serverDrops := flood.SocketDrops(cfg.Server)
	res, err := flood.Run(ctx, cfg)
	if err != nil && res.Sent == 0 {
		fail(1, err)
	}
	serverDrops = flood.SocketDrops(cfg.Server) - serverDrops
	print(res, serverDrops, kv)
	if err != nil {
		fail(1, err)
	}
}

// addresses are n addresses from base, step apart, all in 127.0.0.0/8.
func addresses(base string, n, step int) ([]netip.Addr, error) {
	first, err := netip.ParseAddr(base)
	if err != nil || !first.Is4() || !first.IsLoopback() {
		return nil, fmt.Errorf("-source-base %q: want an address in 127.0.0.0/8", base)
	}
	if n < 1 || n > flood.MaxSources || step < 1 {
		return nil, fmt.Errorf("-sources %d, -source-step %d: want 1 to %d sources, a step of at least 1", n, step, flood.MaxSources)
	}
	b := first.As4()
	v := binary.BigEndian.Uint32(b[:])
	out := make([]netip.Addr, n)
	for i := range out {
		binary.BigEndian.PutUint32(b[:], v+uint32(i*step))
		if out[i] = netip.AddrFrom4(b); !out[i].IsLoopback() {
			return nil, fmt.Errorf("source %v is outside 127.0.0.0/8: fewer -sources or a smaller -source-step", out[i])
		}
	}
	return out, nil
}

func print(r flood.Result, serverDrops int, kv bool) {
	ratio := 0.0
	if r.BytesIn > 0 {
		ratio = float64(r.BytesOut) / float64(r.BytesIn)
	}
	rate := 0.0
	if r.SendTime > 0 {
		rate = float64(r.Sent) / r.SendTime.Seconds()
	}
	if kv {
		fmt.Printf("sent=%d full=%d truncated=%d other=%d dropped=%d bytes_in=%d bytes_out=%d ratio=%.3f send_s=%.3f elapsed_s=%.3f qps=%.0f server_drops=%d client_drops=%d\n",
			r.Sent, r.Full, r.Truncated, r.Other, r.Dropped(), r.BytesIn, r.BytesOut, ratio,
			r.SendTime.Seconds(), r.Elapsed.Seconds(), rate, serverDrops, r.ClientDrops)
		return
	}
	fmt.Printf("sent %d queries in %.2f s (%.0f/s), %d bytes\n", r.Sent, r.SendTime.Seconds(), rate, r.BytesIn)
	fmt.Printf("replies: %d full, %d truncated, %d other; %d dropped (%d of them at the server's socket); %d lost at our sockets\n",
		r.Full, r.Truncated, r.Other, r.Dropped(), serverDrops, r.ClientDrops)
	fmt.Printf("bytes out / in: %d / %d = %.3f\n", r.BytesOut, r.BytesIn, ratio)
}

func fail(code int, err error) {
	fmt.Fprintln(os.Stderr, "flood:", strings.TrimPrefix(err.Error(), "flood: "))
	os.Exit(code)
}
