package integration

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/integration/flood"
	"github.com/miekg/dns"
)

// The limits of the rate-limiting tests. The rate is so low that any
// machine, however loaded, sends faster; the window is short so that the
// most a limiter may let through (rrlMostFull) stays far below the flood.
const (
	rrlRate   = 5 // responses per second
	rrlWindow = 2 * time.Second
	// rrlFloodQueries of www A from rrlSources addresses of 127.0.0.0/24
	// (one /24: one client as the limiter sees it), at rrlFloodRate.
	rrlFloodQueries = 800
	rrlFloodRate    = 1000
	rrlSources      = 4
)

// startRRLServer serves the example zone on 127.0.0.1 with an [rrl] table
// made of rrlKeys.
func startRRLServer(t *testing.T, rrlKeys string) *server {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "zones/lb.example.test.toml", readFile(t, exampleZone()))
	cfg := writeFile(t, dir, "dnsrr.toml", fmt.Sprintf(`zones = ["zones/*.toml"]
[log]
level = "info"
[health]
admin = ""
[rrl]
responses_per_second = %d
window = "%s"
slip = 2
ipv4_prefix_length = 24
exempt_loopback = false
%s`, rrlRate, rrlWindow, rrlKeys))
	return startServer(t, "-config", cfg, "-listen", "127.0.0.1:0")
}

// rrlFlood is the attack: www A from 127.0.0.10 onwards.
func rrlFlood(s *server) flood.Config {
	cfg := flood.Config{
		Server:   netip.MustParseAddrPort(s.addr("4")),
		Name:     "www.lb.example.test.",
		Type:     dns.TypeA,
		Rate:     rrlFloodRate,
		Count:    rrlFloodQueries,
		Duration: time.Minute,
		Drain:    time.Second,
		EDNSSize: 1232,
	}
	for i := range rrlSources {
		cfg.Sources = append(cfg.Sources, netip.AddrFrom4([4]byte{127, 0, 0, byte(10 + i)}))
	}
	return cfg
}

// rrlMostFull is the most full answers a limiter at rrlRate may send to one
// prefix in elapsed: the rate over the time plus a full window of credit
// (whatever the implementation lets accumulate), doubled for margin.
func rrlMostFull(elapsed time.Duration) int {
	return int(2 * rrlRate * (elapsed + rrlWindow + time.Second).Seconds())
}

// TestRRLFlood: a flood of one name from one /24 gets mostly dropped and
// slipped replies (empty, TC set, the question echoed), about one in two
// limited ones slipped at slip 2, and the server sends fewer bytes than it
// receives. Meanwhile TCP queries from that /24, a client with a valid DNS
// cookie from a flooded address, and a client on an exempt prefix are all
// answered, every time. The episode is logged once, not per packet.
// Everything is judged by counts; the only time used is the span the
// flood took, which bounds what the limiter may let through.
func TestRRLFlood(t *testing.T) {
	t.Parallel()
	s := startRRLServer(t, `exempt = ["127.0.1.0/24"]`)
	mark := s.logMark()
	attack := rrlFlood(s)
	serverDrops := flood.SocketDrops(attack.Server)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var floodRes flood.Result
	var floodErr error
	floodDone := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(floodDone)
		floodRes, floodErr = flood.Run(ctx, attack)
	}()

	// A resolver with cookies at a flooded address, and one on an exempt
	// prefix, each at a rate far above the limit.
	client := func(src netip.Addr, cookies bool) flood.Config {
		c := attack
		c.Sources, c.Rate, c.Count, c.Cookies = []netip.Addr{src}, 200, 100, cookies
		return c
	}
	var cookieRes, exemptRes flood.Result
	var cookieErr, exemptErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		cookieRes, cookieErr = flood.Run(ctx, client(attack.Sources[0], true))
	}()
	go func() {
		defer wg.Done()
		exemptRes, exemptErr = flood.Run(ctx, client(netip.MustParseAddr("127.0.1.10"), false))
	}()

	// TCP from the flooded /24 while the flood lasts (and at least once).
	tcpAsked, tcpAnswered := 0, 0
	q := newQuery(attack.Name, dns.TypeA)
	for done := false; !done && tcpAsked < 500; {
		select {
		case <-floodDone:
			done = true
		default:
		}
		tcpAsked++
		if r, err := tryExchange("tcp", attack.Server.String(), q); err != nil {
			t.Errorf("TCP query %d during the flood: %v", tcpAsked, err)
		} else if r.Rcode == dns.RcodeSuccess && !r.Truncated && len(r.Answer) == 3 {
			tcpAnswered++
		} else {
			t.Errorf("TCP query %d during the flood: rcode %s, tc %v, %d answers", tcpAsked, dns.RcodeToString[r.Rcode], r.Truncated, len(r.Answer))
		}
	}
	wg.Wait()
	if floodErr != nil {
		t.Fatalf("flood: %v", floodErr)
	}
	serverDrops = flood.SocketDrops(attack.Server) - serverDrops

	r := floodRes
	limited := r.Sent - r.Full - r.ClientDrops - serverDrops
	t.Logf("flood: %d queries in %v (replies until %v): %d full, %d truncated, %d other, %d dropped (%d at the server's socket, %d at ours); bytes out/in %d/%d",
		r.Sent, r.SendTime.Round(time.Millisecond), r.Elapsed.Round(time.Millisecond), r.Full, r.Truncated, r.Other, r.Dropped(), serverDrops, r.ClientDrops, r.BytesOut, r.BytesIn)
	if most := rrlMostFull(r.Elapsed); r.Full < 1 || r.Full > most {
		t.Errorf("%d full answers to the flood over %v; want 1 to %d at %d/s", r.Full, r.Elapsed, most, rrlRate)
	}
	if r.Other != 0 {
		t.Errorf("%d replies neither full answers nor slipped (empty, TC, question echoed)", r.Other)
	}
	// slip 2: every second limited response is slipped, the rest dropped.
	if limited < r.Sent/2 {
		t.Fatalf("only %d of %d queries limited", limited, r.Sent)
	}
	if share := float64(r.Truncated) / float64(limited); share < 0.35 || share > 0.65 {
		t.Errorf("%d of %d limited replies slipped (%.2f); want about half at slip 2", r.Truncated, limited, share)
	}
	if ratio := float64(r.BytesOut) / float64(r.BytesIn); ratio > 0.8 {
		t.Errorf("bytes out / bytes in = %.2f; want well under 1 at slip 2", ratio)
	}
	if tcpAnswered != tcpAsked {
		t.Errorf("TCP during the flood: %d of %d answered", tcpAnswered, tcpAsked)
	}
	t.Logf("TCP during the flood: %d of %d answered", tcpAnswered, tcpAsked)

	t.Run("exempt", func(t *testing.T) {
		if exemptErr != nil {
			t.Fatal(exemptErr)
		}
		if e := exemptRes; e.Full+e.ClientDrops != e.Sent || e.Full == 0 {
			t.Errorf("client on an exempt prefix: %d queries, %d full answers (%d truncated, %d other, %d lost at our socket)", e.Sent, e.Full, e.Truncated, e.Other, e.ClientDrops)
		}
	})
	t.Run("cookies", func(t *testing.T) {
		if errors.Is(cookieErr, flood.ErrNoCookie) {
			t.Skip("this dnsrr answers no DNS cookies yet")
		}
		if cookieErr != nil {
			t.Fatal(cookieErr)
		}
		if c := cookieRes; c.Full+c.ClientDrops != c.Sent || c.Full == 0 {
			t.Errorf("client with a valid server cookie at flooded %v: %d queries, %d full answers (%d truncated, %d other, %d lost at our socket)", attack.Sources[0], c.Sent, c.Full, c.Truncated, c.Other, c.ClientDrops)
		}
	})
	t.Run("logged once", func(t *testing.T) {
		episodes := rrlLogLines(s, mark)
		t.Logf("%d log lines about limiting", len(episodes))
		if len(episodes) == 0 || len(episodes) > 10 {
			t.Errorf("%d log lines about limiting for %d limited responses; want the episode logged once (or a few summaries)", len(episodes), limited)
		}
	})
}

// TestRRLLogOnly: with log_only, the same flood gets every answer, and
// what would have been limited is logged, once.
func TestRRLLogOnly(t *testing.T) {
	t.Parallel()
	s := startRRLServer(t, "log_only = true\n")
	mark := s.logMark()
	cfg := rrlFlood(s)
	cfg.Count = 400
	r, err := flood.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("flood: %d queries: %d full, %d truncated, %d other, %d dropped, %d lost at our sockets", r.Sent, r.Full, r.Truncated, r.Other, r.Dropped(), r.ClientDrops)
	if r.Full+r.ClientDrops != r.Sent {
		t.Errorf("log_only: %d of %d queries answered in full", r.Full, r.Sent)
	}
	// The log line may follow the last reply: poll for it.
	if _, ok := s.waitLog(mark, pollTimeout, isLimitingLine); !ok {
		t.Errorf("log_only: no log line about limiting within %v", pollTimeout)
	}
	if n := len(rrlLogLines(s, mark)); n > 10 {
		t.Errorf("log_only: %d log lines about limiting for one flood; want it logged once", n)
	}
}

// isLimitingLine tells a log line about a limiting episode (its start, a
// summary, or what log_only would have limited) by its message.
func isLimitingLine(l logLine) bool {
	return strings.Contains(strings.ToLower(l.message()), "limit")
}

func rrlLogLines(s *server, from int) []logLine {
	var out []logLine
	for _, l := range s.snapshotLines()[from:] {
		if isLimitingLine(l) {
			out = append(out, l)
		}
	}
	return out
}
