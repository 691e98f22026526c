package flood

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestClassify(t *testing.T) {
	q := new(dns.Msg).SetQuestion("www.example.test.", dns.TypeA)
	q.SetEdns0(1232, false)
	wire, _ := q.Pack()
	question := wire[12:]

	full := new(dns.Msg).SetReply(q)
	full.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "www.example.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.IPv4(192, 0, 2, 1)}}
	slipped := new(dns.Msg).SetReply(q)
	slipped.Truncated = true
	slippedUpper := slipped.Copy()
	slippedUpper.Question[0].Name = "WWW.example.TEST."
	otherName := slipped.Copy()
	otherName.Question[0].Name = "web.example.test."
	truncatedWithAnswers := full.Copy()
	truncatedWithAnswers.Truncated = true
	refused := new(dns.Msg).SetRcode(q, dns.RcodeRefused)
	noData := new(dns.Msg).SetReply(q)

	for _, tc := range []struct {
		name  string
		reply *dns.Msg
		want  Kind
	}{
		{"full", full, KindFull},
		{"slipped", slipped, KindTruncated},
		{"slipped, question in other case", slippedUpper, KindTruncated},
		{"TC, other question", otherName, KindOther},
		{"TC with answers", truncatedWithAnswers, KindOther},
		{"REFUSED", refused, KindOther},
		{"NODATA", noData, KindOther},
	} {
		b, err := tc.reply.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if got := Classify(b, question); got != tc.want {
			t.Errorf("%s: kind %d, want %d", tc.name, got, tc.want)
		}
	}
	if got := Classify(wire, question); got != KindOther {
		t.Errorf("a query (QR clear): kind %d, want other", got)
	}
	if got := Classify(wire[:5], question); got != KindOther {
		t.Errorf("5 bytes: kind %d, want other", got)
	}
}

func TestParseProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:0035":                         "127.0.0.1:53",
		"0A00007F:1F90":                         "127.0.0.10:8080",
		"00000000000000000000000001000000:14E9": "[::1]:5353",
	} {
		got, ok := parseProcAddr(in)
		if !ok || got != netip.MustParseAddrPort(want) {
			t.Errorf("parseProcAddr(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	if _, ok := parseProcAddr("zz:1"); ok {
		t.Error("parseProcAddr accepted junk")
	}
}

// TestRunBounds: a flood refuses what is not loopback, and stops at its
// count against a server that never answers.
func TestRunBounds(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	base := Config{Server: netip.MustParseAddrPort("127.0.0.1:9"), Name: "x.", Type: dns.TypeA,
		Sources: []netip.Addr{lo}, Rate: 1000, Count: 10, Duration: time.Second, Drain: 10 * time.Millisecond}

	bad := base
	bad.Server = netip.MustParseAddrPort("192.0.2.1:53")
	if _, err := Run(context.Background(), bad); err == nil {
		t.Error("a server off loopback was accepted")
	}
	bad = base
	bad.Sources = []netip.Addr{netip.MustParseAddr("192.0.2.1")}
	if _, err := Run(context.Background(), bad); err == nil {
		t.Error("a source off loopback was accepted")
	}

	// A bound socket that never reads: every query is sent, none answered.
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	cfg := base
	cfg.Server = sink.LocalAddr().(*net.UDPAddr).AddrPort()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != cfg.Count || res.Replies() != 0 || res.Dropped() != cfg.Count {
		t.Errorf("against a silent server: %+v; want %d sent, all dropped", res, cfg.Count)
	}
}
