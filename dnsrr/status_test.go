package dnsrr_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/miekg/dns"
)

// fakeStatus is a StatusSource with fixed pools.
type fakeStatus map[string][]dnsrr.MemberStatus

func (f fakeStatus) PoolStatus(pool string) ([]dnsrr.MemberStatus, bool) {
	m, ok := f[pool]
	return m, ok
}

var statusSince = time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC)

func statusServer(t *testing.T, names dnsrr.StatusNames, src dnsrr.StatusSource) *dnsrr.Server {
	t.Helper()
	s := newServer(t, dnsrr.Chaos{})
	s.SetStatus(names, src)
	return s
}

func chQuery(qname string, qtype uint16) []byte {
	q := newQuery(qname, qtype)
	q.Question[0].Qclass = dns.ClassCHAOS
	wire, err := q.Pack()
	if err != nil {
		panic(err)
	}
	return wire
}

func unpack(t *testing.T, out []byte) *dns.Msg {
	t.Helper()
	if out == nil {
		t.Fatal("no reply")
	}
	m := new(dns.Msg)
	if err := m.Unpack(out); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestStatusNamesClients(t *testing.T) {
	src := fakeStatus{"www.example.test.": {{Addr: netip.MustParseAddr("192.0.2.1"), State: "up", Since: statusSince, Served: true}}}
	s := statusServer(t, dnsrr.StatusNames{Label: "_status", Clients: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:1::/48"),
	}}, src)
	for _, tc := range []struct {
		client string
		rcode  int
	}{
		{"127.0.0.1", dns.RcodeSuccess},
		{"127.9.9.9", dns.RcodeSuccess},
		{"::1", dns.RcodeSuccess},
		{"::ffff:127.0.0.1", dns.RcodeSuccess},
		{"10.1.2.3", dns.RcodeSuccess},
		{"::ffff:10.1.2.3", dns.RcodeSuccess},
		{"2001:db8:1::53", dns.RcodeSuccess},
		{"11.0.0.1", dns.RcodeRefused},
		{"192.0.2.99", dns.RcodeRefused},
		{"2001:db8:2::53", dns.RcodeRefused},
	} {
		for _, udp := range []bool{true, false} {
			r := unpack(t, s.AnswerFrom(chQuery("_status.www.example.test.", dns.TypeTXT), netip.MustParseAddr(tc.client), udp))
			if r.Rcode != tc.rcode {
				t.Errorf("client %s (udp %v): rcode %s, want %s", tc.client, udp, dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
			}
			if tc.rcode == dns.RcodeRefused && len(r.Answer) > 0 {
				t.Errorf("client %s: refused with %d answers", tc.client, len(r.Answer))
			}
		}
	}
}

func TestStatusNamesAnswer(t *testing.T) {
	longErr := strings.Repeat("é", 200) + `\end` // 404 bytes, and a backslash
	src := fakeStatus{"www.example.test.": {
		{Addr: netip.MustParseAddr("192.0.2.1"), State: "up", Since: statusSince, Served: true},
		{Addr: netip.MustParseAddr("2001:db8::2"), State: "down", Since: statusSince.Add(time.Minute), LastError: "connect: connection refused"},
		{Addr: netip.MustParseAddr("192.0.2.3"), State: "static", Drained: true, DrainUntil: statusSince.Add(time.Hour)},
		{Addr: netip.MustParseAddr("192.0.2.4"), State: "unknown", Drained: true, LastError: longErr},
	}}
	s := statusServer(t, dnsrr.StatusNames{Label: "_Status"}, src)
	lo := netip.MustParseAddr("127.0.0.1")
	r := unpack(t, s.AnswerFrom(chQuery("_STATUS.Www.Example.Test.", dns.TypeTXT), lo, false))
	if r.Rcode != dns.RcodeSuccess || !r.Authoritative {
		t.Fatalf("rcode %s, aa %v", dns.RcodeToString[r.Rcode], r.Authoritative)
	}
	var got [][]string
	for _, rr := range r.Answer {
		txt, ok := rr.(*dns.TXT)
		if !ok || txt.Hdr.Class != dns.ClassCHAOS || !strings.EqualFold(txt.Hdr.Name, "_status.www.example.test.") {
			t.Fatalf("answer %v", rr)
		}
		got = append(got, txt.Txt)
	}
	want := [][]string{
		{"addr=192.0.2.1 state=up since=2026-12-01T07:00:00Z drained=no served=yes"},
		{"addr=2001:db8::2 state=down since=2026-12-01T07:01:00Z drained=no served=no", "last_error=connect: connection refused"},
		{"addr=192.0.2.3 state=static drained=yes drain_until=2026-12-01T08:00:00Z served=no"},
		{"addr=192.0.2.4 state=unknown drained=yes served=no"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d: %q", len(got), len(want), got)
	}
	for i := range 3 {
		if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
			t.Errorf("record %d: %q, want %q", i, got[i], want[i])
		}
	}
	// A long error is cut into strings of at most 255 bytes, between
	// characters; joined (escapes read back), they give it whole.
	last := got[3]
	if last[0] != want[3][0] || len(last) != 3 {
		t.Fatalf("record 3: %q", last)
	}
	var joined string
	for _, piece := range last[1:] {
		raw := txtBytes(piece)
		if len(raw) > 255 || !strings.ContainsRune(raw, 'é') && !strings.HasSuffix(raw, `\end`) {
			t.Errorf("piece %q: %d bytes", raw, len(raw))
		}
		joined += raw
	}
	if joined != "last_error="+longErr {
		t.Errorf("joined error %q", joined)
	}

	// ANY gets the TXT records too; other types, like other CH names, are refused.
	if r := unpack(t, s.AnswerFrom(chQuery("_status.www.example.test.", dns.TypeANY), lo, false)); len(r.Answer) != 4 {
		t.Errorf("ANY: %d answers", len(r.Answer))
	}
	if r := unpack(t, s.AnswerFrom(chQuery("_status.www.example.test.", dns.TypeA), lo, false)); r.Rcode != dns.RcodeRefused {
		t.Errorf("type A: %s", dns.RcodeToString[r.Rcode])
	}
	// An unknown pool is NXDOMAIN; the bare label, or another label, is no status name.
	if r := unpack(t, s.AnswerFrom(chQuery("_status.nope.example.test.", dns.TypeTXT), lo, false)); r.Rcode != dns.RcodeNameError {
		t.Errorf("unknown pool: %s", dns.RcodeToString[r.Rcode])
	}
	for _, qname := range []string{"_status.", "_other.www.example.test.", "www.example.test."} {
		if r := unpack(t, s.AnswerFrom(chQuery(qname, dns.TypeTXT), lo, false)); r.Rcode != dns.RcodeRefused {
			t.Errorf("%s: %s", qname, dns.RcodeToString[r.Rcode])
		}
	}
	// The IN class has no such name: the zone answers (NXDOMAIN here).
	in := newQuery("_status.www.example.test.", dns.TypeTXT)
	if r, _ := exchange(t, s, in, udpWire); r.Rcode != dns.RcodeNameError && r.Rcode != dns.RcodeRefused {
		t.Errorf("class IN: %s", dns.RcodeToString[r.Rcode])
	}
}

// TestStatusNamesNotOnFastPath: CH queries go to the full path, so the
// status names cost the fast path nothing.
func TestStatusNamesNotOnFastPath(t *testing.T) {
	src := fakeStatus{"www.example.test.": {{Addr: netip.MustParseAddr("192.0.2.1"), State: "up"}}}
	s := statusServer(t, dnsrr.StatusNames{Label: "_status"}, src)
	if out := s.AnswerUDPFast(chQuery("_status.www.example.test.", dns.TypeTXT)); out != nil {
		t.Error("the fast path answered a CH query")
	}
}

func TestStatusNamesOff(t *testing.T) {
	src := fakeStatus{"www.example.test.": {{Addr: netip.MustParseAddr("192.0.2.1"), State: "up"}}}
	s := statusServer(t, dnsrr.StatusNames{Label: ""}, src)
	r := unpack(t, s.AnswerFrom(chQuery("_status.www.example.test.", dns.TypeTXT), netip.MustParseAddr("127.0.0.1"), false))
	if r.Rcode != dns.RcodeRefused {
		t.Errorf("label off: %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
}

// TestStatusNamesSize: a pool whose records exceed a UDP answer is
// truncated (the client retries over TCP); one too large for TCP lists
// what fits and says how many members it left out.
func TestStatusNamesSize(t *testing.T) {
	pool := func(n int) []dnsrr.MemberStatus {
		var ms []dnsrr.MemberStatus
		for i := range n {
			ms = append(ms, dnsrr.MemberStatus{Addr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
				State: "down", Since: statusSince, LastError: strings.Repeat("x", 100)})
		}
		return ms
	}
	src := fakeStatus{"mid.example.test.": pool(20), "huge.example.test.": pool(5000)}
	s := statusServer(t, dnsrr.StatusNames{Label: "_status"}, src)
	lo := netip.MustParseAddr("127.0.0.1")

	r := unpack(t, s.AnswerFrom(chQuery("_status.mid.example.test.", dns.TypeTXT), lo, true))
	if !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("20 members over UDP: TC %v, %d answers; want TC and none", r.Truncated, len(r.Answer))
	}
	r = unpack(t, s.AnswerFrom(chQuery("_status.mid.example.test.", dns.TypeTXT), lo, false))
	if r.Truncated || len(r.Answer) != 20 {
		t.Errorf("20 members over TCP: TC %v, %d answers", r.Truncated, len(r.Answer))
	}
	out := s.AnswerFrom(chQuery("_status.huge.example.test.", dns.TypeTXT), lo, false)
	r = unpack(t, out)
	if r.Truncated || len(out) > dns.MaxMsgSize {
		t.Fatalf("5000 members over TCP: TC %v, %d bytes", r.Truncated, len(out))
	}
	n := len(r.Answer)
	last := r.Answer[n-1].(*dns.TXT).Txt[0]
	if n < 100 || last != fmt.Sprintf("more=%d (members left out: see the admin API's /status)", 5000-(n-1)) {
		t.Errorf("%d records, last %q", n, last)
	}
}

// txtBytes is a TXT string as miekg/dns unpacks it (presentation form:
// \DDD for bytes outside printable ASCII, \X for a quote or a backslash)
// read back into its bytes on the wire.
func txtBytes(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b = append(b, s[i])
			continue
		}
		if i+3 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
			b = append(b, (s[i+1]-'0')*100+(s[i+2]-'0')*10+(s[i+3]-'0'))
			i += 3
			continue
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}
