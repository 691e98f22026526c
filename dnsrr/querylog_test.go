package dnsrr

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr/rrl"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// lockedBuffer collects log lines from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the JSON lines written so far.
func (l *lockedBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.b.Bytes()))
	for sc.Scan() {
		var f map[string]any
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		out = append(out, f)
	}
	return out
}

func count(lines []map[string]any, message string) int {
	n := 0
	for _, l := range lines {
		if l["message"] == message {
			n++
		}
	}
	return n
}

// TestQueryLogFields: the line of each kind of query carries what the
// packets said, on the fast and the full path, with rate limiting.
func TestQueryLogFields(t *testing.T) {
	s := exampleServer(t)
	var buf lockedBuffer
	ql := NewQueryLog(zerolog.New(&buf), 1, 1000)
	defer ql.Close()
	cfg := rrl.Defaults(1)
	cfg.ExemptLoopback = false
	limiter, err := rrl.New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer limiter.Close()
	s.SetPolicy(Policy{Cookies: fakeCookies{}, RRL: limiter, QueryLog: ql})

	ecs := new(dns.Msg).SetQuestion("www.lb.example.test.", dns.TypeAAAA)
	ecs.SetEdns0(4096, true)
	ecs.IsEdns0().Option = append(ecs.IsEdns0().Option,
		&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: netip.MustParseAddr("198.51.100.0").AsSlice()},
		&dns.EDNS0_NSID{Code: dns.EDNS0NSID})
	ecsPkt, _ := ecs.Pack()
	odd := []byte{0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', '.', 0, 1, 'b', 0, 0, 16, 0, 3} // a\.\000.b. TXT CH
	cases := []struct {
		name string
		pkt  []byte
		udp  bool
		want map[string]any
	}{
		{"fast path", cookieQuery(t, "0102030405060708", false), true, map[string]any{
			"client": "192.0.2.1:5300", "transport": "udp", "qname": "www.lb.example.test.", "qtype": "A", "qclass": "IN",
			"rcode": "NOERROR", "aa": true, "tc": false, "edns": true, "payload": 1232.0, "do": false,
			"cookie": "client", "rrl": "pass", "answered": true,
		}},
		{"tcp, ECS and NSID", ecsPkt, false, map[string]any{
			"transport": "tcp", "qtype": "AAAA", "edns": true, "payload": 4096.0, "do": true,
			"ecs": "198.51.100.0/24", "nsid": true, "rrl": nil,
		}},
		{"escapes and CH", odd, true, map[string]any{
			"qname": `a\.\000.b.`, "qtype": "TXT", "qclass": "CH", "id": 7.0, "edns": false,
		}},
		{"garbage", []byte{1, 2, 3}, true, map[string]any{"answered": false, "qname": nil}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			buf.mu.Lock()
			buf.b.Reset()
			buf.mu.Unlock()
			q := wireQuery{client: netip.MustParseAddr("192.0.2.1"), port: 5300}
			out := s.answerPacket(c.pkt, make([]byte, 0, 4096), &q, c.udp)
			lines := buf.lines(t)
			if len(lines) != 1 {
				t.Fatalf("%d lines, want 1", len(lines))
			}
			l := lines[0]
			for k, v := range c.want {
				if l[k] != v {
					t.Errorf("%s = %v, want %v (line %v)", k, l[k], v, l)
				}
			}
			if out != nil && l["size"] != float64(len(out)) {
				t.Errorf("size = %v, want %d", l["size"], len(out))
			}
		})
	}

	// Past the limit of 1 a second, a verdict other than pass shows.
	buf.b.Reset()
	q := wireQuery{client: netip.MustParseAddr("192.0.2.9")}
	for range 10 {
		s.answerPacket(cookieQuery(t, "", false), make([]byte, 0, 4096), &q, true)
	}
	verdicts := map[any]int{}
	for _, l := range buf.lines(t) {
		verdicts[l["rrl"]]++
	}
	if verdicts["slip"]+verdicts["drop"] == 0 {
		t.Errorf("verdicts %v: none limited at 1 a second", verdicts)
	}
}

// TestQueryLogSample: 1 in N queries is logged, on average.
func TestQueryLogSample(t *testing.T) {
	s := exampleServer(t)
	var buf lockedBuffer
	ql := NewQueryLog(zerolog.New(&buf), 10, 100000)
	defer ql.Close()
	s.SetPolicy(Policy{QueryLog: ql})
	const n = 20000
	pkt := cookieQuery(t, "", false)
	q := wireQuery{client: netip.MustParseAddr("192.0.2.1")}
	for range n {
		s.answerPacket(pkt, make([]byte, 0, 4096), &q, true)
	}
	// Binomial(20000, 0.1): mean 2000, standard deviation 42; ±6 of them
	// fail a correct sampler once in 10⁹ runs.
	if got := count(buf.lines(t), "query"); got < 2000-6*42 || got > 2000+6*42 {
		t.Errorf("%d of %d queries logged at 1 in 10", got, n)
	}
}

// TestQueryLogCap: at most max_per_second lines a second; the rest are
// counted in one line when the second ends, and a quiet second writes no
// count.
func TestQueryLogCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf lockedBuffer
		ql := NewQueryLog(zerolog.New(&buf), 1, 3)
		q := wireQuery{client: netip.MustParseAddr("192.0.2.1")}
		pkt := cookieQuery(t, "", false)
		logSome := func(n int) {
			for range n {
				ql.write(&q, pkt, nil, true, ql.begin(&q))
			}
		}
		logSome(10)
		time.Sleep(time.Second + time.Millisecond) // the ticker ends the second
		synctest.Wait()
		lines := buf.lines(t)
		if got := count(lines, "query"); got != 3 {
			t.Errorf("%d query lines, want 3", got)
		}
		if len(lines) != 4 || lines[3]["suppressed"] != 7.0 {
			t.Fatalf("lines %v, want 3 queries and suppressed 7", lines)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := len(buf.lines(t)); got != 4 {
			t.Errorf("a quiet second wrote %d lines", got-4)
		}
		logSome(5)
		ql.Close() // writes the count of the second in progress
		lines = buf.lines(t)
		if len(lines) != 8 || lines[7]["suppressed"] != 2.0 {
			t.Errorf("after Close: %v, want 3 more queries and suppressed 2", lines[4:])
		}
	})
}

// TestQueryLogOffNoAlloc: with the log off, answerPacket allocates
// nothing (BenchmarkAnswerUDP measures the same).
func TestQueryLogOffNoAlloc(t *testing.T) {
	s := exampleServer(t)
	pkt := cookieQuery(t, "", false)
	q := wireQuery{client: netip.MustParseAddr("192.0.2.1")}
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(1000, func() { s.answerPacket(pkt, buf, &q, true) }); n != 0 {
		t.Errorf("%v allocations a query with the query log off", n)
	}
}

// FuzzQueryLogLine: any packet makes one line of valid JSON, and no panic.
func FuzzQueryLogLine(f *testing.F) {
	f.Add(cookieQuery(f, "0102030405060708", true), true)
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0xC0, 12, 0, 1, 0, 1}, false)
	f.Add([]byte{0, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 4, 0, 10, 0, 0}, true)
	s := exampleServer(f)
	f.Fuzz(func(t *testing.T, pkt []byte, udp bool) {
		var buf lockedBuffer
		ql := NewQueryLog(zerolog.New(&buf), 1, 1000)
		defer ql.Close()
		s.SetPolicy(Policy{Cookies: fakeCookies{}, QueryLog: ql})
		q := wireQuery{client: netip.MustParseAddr("2001:db8::1"), port: 53}
		s.answerPacket(pkt, make([]byte, 0, 4096), &q, udp)
		if lines := buf.lines(t); len(lines) != 1 || lines[0]["message"] != "query" {
			t.Fatalf("lines %v, want one query line", lines)
		}
	})
}

// BenchmarkQueryLog: the answer path with the query log on, every query
// logged (to io.Discard: the cost of building the line) and 1 in 1000.
func BenchmarkQueryLog(b *testing.B) {
	for _, c := range []struct {
		name   string
		sample int
	}{{"every", 1}, {"1-in-1000", 1000}} {
		b.Run(c.name, func(b *testing.B) {
			s := exampleServer(b)
			ql := NewQueryLog(zerolog.New(io.Discard), c.sample, 1<<30)
			defer ql.Close()
			ql.perSecond = 1 << 62 // no cap: every sampled line is built
			ql.left.Store(1 << 62)
			s.SetPolicy(Policy{QueryLog: ql})
			pkt := cookieQuery(b, "0102030405060708", false)
			q := wireQuery{client: netip.MustParseAddr("192.0.2.1"), port: 5300}
			buf := make([]byte, 0, udpReadSize)
			b.ReportAllocs()
			for b.Loop() {
				if s.answerUDP(pkt, buf, &q) == nil {
					b.Fatal("no answer")
				}
			}
		})
	}
}
