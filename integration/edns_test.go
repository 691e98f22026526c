package integration

import (
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// serverPayload is the UDP payload size dnsrr advertises (DNS flag day
// 2020's 1232: fits an IPv6 minimum MTU without fragmentation).
const serverPayload = 1232

// optFlagsDO is the DO bit in the OPT RR's flags (RFC 3225); every other
// flag bit is "Z", must be zero when sent and ignored on receipt (RFC 6891
// 6.1.4), so a responder never echoes it.
const optFlagsDO = 0x8000

// ednsCase is one EDNS(0) rule (RFC 6891).
type ednsCase struct {
	name  string
	query func() *dns.Msg
	// echo: whether wantEcho applies (it assumes a well-formed query).
	echo  bool
	check func(t *testing.T, r *dns.Msg)
}

func ednsWWW(mod func(*dns.OPT)) func() *dns.Msg {
	return func() *dns.Msg {
		m := newEDNSQuery(name("www"), dns.TypeA, 4096)
		if mod != nil {
			mod(m.IsEdns0())
		}
		return m
	}
}

// replyOPT returns the reply's only OPT, failing when there is none.
func replyOPT(t *testing.T, r *dns.Msg) *dns.OPT {
	t.Helper()
	opt := r.IsEdns0()
	if opt == nil {
		t.Fatalf("reply has no OPT:\n%v", r)
	}
	return opt
}

func ednsCases() []ednsCase {
	return []ednsCase{
		{"one OPT back with payload 1232 and version 0", ednsWWW(nil), true, func(t *testing.T, r *dns.Msg) {
			positive(wwwA...)(t, r)
			opt := replyOPT(t, r)
			if opt.UDPSize() != serverPayload {
				t.Errorf("OPT payload %d, want %d", opt.UDPSize(), serverPayload)
			}
			if opt.Version() != 0 {
				t.Errorf("OPT version %d, want 0", opt.Version())
			}
		}},
		{"no OPT when the query had none", q(name("www"), dns.TypeA), true, positive(wwwA...)},
		// RFC 6891 6.1.3: a version we do not implement gets BADVERS,
		// with an OPT carrying the version we do implement.
		{"version 1 gets BADVERS with OPT", ednsWWW(func(o *dns.OPT) { o.SetVersion(1) }), true, func(t *testing.T, r *dns.Msg) {
			wantRcode(t, r, dns.RcodeBadVers)
			if len(r.Answer) != 0 {
				t.Errorf("BADVERS reply carries answers: %v", r.Answer)
			}
			if opt := replyOPT(t, r); opt.Version() != 0 {
				t.Errorf("BADVERS OPT version %d, want 0", opt.Version())
			}
		}},
		// RFC 6891 6.1.2: unknown options are ignored, never echoed.
		{"unknown option ignored and not echoed", ednsWWW(func(o *dns.OPT) {
			o.Option = append(o.Option, &dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1, 2, 3}})
		}), true, func(t *testing.T, r *dns.Msg) {
			positive(wwwA...)(t, r)
			for _, o := range replyOPT(t, r).Option {
				if o.Option() == 65001 {
					t.Errorf("unknown option 65001 echoed: %v", o)
				}
			}
		}},
		// RFC 3225 3: DO is copied into the response.
		{"DO copied when set", ednsWWW(func(o *dns.OPT) { o.SetDo() }), true, func(t *testing.T, r *dns.Msg) {
			positive(wwwA...)(t, r)
			if !replyOPT(t, r).Do() {
				t.Errorf("DO not copied")
			}
		}},
		{"DO clear when clear", ednsWWW(nil), true, func(t *testing.T, r *dns.Msg) {
			if replyOPT(t, r).Do() {
				t.Errorf("DO set in reply to a query without DO")
			}
		}},
		{"unknown flag bits cleared, DO kept", ednsWWW(func(o *dns.OPT) {
			o.SetDo()
			o.Hdr.Ttl |= 0x7fff // every flag bit after DO (CO and Z)
		}), true, func(t *testing.T, r *dns.Msg) {
			positive(wwwA...)(t, r)
			if flags := replyOPT(t, r).Hdr.Ttl & 0xffff; flags != optFlagsDO {
				t.Errorf("OPT flags %#04x, want %#04x (DO only)", flags, optFlagsDO)
			}
		}},
		// RFC 6891 6.1.1: more than one OPT is a FORMERR.
		{"two OPT RRs get FORMERR", func() *dns.Msg {
			m := newEDNSQuery(name("www"), dns.TypeA, 4096)
			opt2 := new(dns.OPT)
			opt2.Hdr = dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}
			opt2.SetUDPSize(1232)
			m.Extra = append(m.Extra, opt2)
			return m
		}, false, func(t *testing.T, r *dns.Msg) {
			wantRcode(t, r, dns.RcodeFormatError)
			if len(r.Answer) != 0 {
				t.Errorf("FORMERR reply carries answers: %v", r.Answer)
			}
		}},
	}
}

func TestEDNS(t *testing.T) {
	t.Parallel()
	s := startServer(t, "-config", exampleConfig())
	for _, ep := range s.endpoints() {
		t.Run(ep.String(), func(t *testing.T) {
			t.Parallel()
			for _, tc := range ednsCases() {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					query := tc.query()
					r := exchange(t, ep.net, ep.addr, query)
					if r.Id != query.Id || !r.Response {
						t.Errorf("reply ID %d QR %v, want ID %d and QR", r.Id, r.Response, query.Id)
					}
					if tc.echo {
						wantEcho(t, query, r)
					}
					tc.check(t, r)
				})
			}
		})
	}
}

// --- message size ----------------------------------------------------------

// txtSet returns n distinct 100-byte TXT strings for a TOML list. They
// have no spaces, so one string is one character-string whichever way the
// loader reads it.
func txtSet(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		s := fmt.Sprintf("%s-%02d-", prefix, i)
		out[i] = s + strings.Repeat("x", 100-len(s))
	}
	return out
}

func tomlList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// sizeZone has three TXT RRsets: medium (~400 bytes of reply: fits 512),
// large (~950: fits 1232, not 512) and big (~2300: fits neither).
const sizeOrigin = "size.test."

var sizeRRsets = map[string]int{"medium": 3, "large": 8, "big": 20}

func startSizeServer(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	zone := testZoneHeader(sizeOrigin)
	for _, label := range []string{"medium", "large", "big"} {
		zone += fmt.Sprintf("\n[records.%s]\ntxt = %s\n", label, tomlList(txtSet(label, sizeRRsets[label])))
	}
	zf := writeFile(t, dir, "size.test.toml", zone)
	return startServer(t, "-zone", zf)
}

// wantNoPartialRRset checks RFC 2181 9 / RFC 1035 7.4: a truncated reply
// may drop whole RRsets but never carries part of one.
func wantNoPartialRRset(t *testing.T, r *dns.Msg, qname string, full int) {
	t.Helper()
	n := 0
	for _, rr := range r.Answer {
		if rr.Header().Rrtype == dns.TypeTXT && strings.EqualFold(rr.Header().Name, qname) {
			n++
		}
	}
	if n != 0 && n != full {
		t.Errorf("answer holds %d of %d TXT RRs: a partial RRset", n, full)
	}
}

// TestTruncation checks TC over UDP against the client's advertised size
// (512 without EDNS, RFC 1035 4.2.1; a payload below 512 counts as 512,
// RFC 6891 6.2.3) and that TCP returns everything.
func TestTruncation(t *testing.T) {
	t.Parallel()
	s := startSizeServer(t)
	cases := []struct {
		label   string
		network string
		edns    uint16 // 0: no OPT
		wantTC  bool
	}{
		{"medium", "udp", 0, false},
		{"medium", "udp", 100, false}, // below 512 counts as 512
		{"large", "udp", 0, true},
		{"large", "udp", 511, true},
		{"large", "udp", 1232, false},
		{"big", "udp", 0, true},
		{"big", "udp", 512, true},
		{"big", "udp", 1232, true},
		{"big", "tcp", 0, false},
		{"big", "tcp", 1232, false},
	}
	for _, addr := range s.addrs {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/%s/%s/edns=%d", tc.network, addr, tc.label, tc.edns), func(t *testing.T) {
				t.Parallel()
				qname := tc.label + "." + sizeOrigin
				m := newQuery(qname, dns.TypeTXT)
				limit := 512
				if tc.edns != 0 {
					m.SetEdns0(tc.edns, false)
					limit = max(512, int(tc.edns))
				}
				var raw []byte
				var err error
				if tc.network == "udp" {
					raw, err = rawUDP(t, addr, pack(t, m), queryTimeout)
				} else {
					raw, err = rawTCP(t, addr, pack(t, m), queryTimeout)
				}
				if err != nil {
					t.Fatal(err)
				}
				r := new(dns.Msg)
				if err := r.Unpack(raw); err != nil {
					t.Fatalf("unpack %d-byte reply: %v", len(raw), err)
				}
				wantEcho(t, m, r)
				wantRcode(t, r, dns.RcodeSuccess)
				if tc.network == "udp" && len(raw) > limit {
					t.Errorf("UDP reply is %d bytes, client allows %d", len(raw), limit)
				}
				if r.Truncated != tc.wantTC {
					t.Errorf("TC=%v, want %v (reply %d bytes)", r.Truncated, tc.wantTC, len(raw))
				}
				full := sizeRRsets[tc.label]
				wantNoPartialRRset(t, r, qname, full)
				if !tc.wantTC {
					want := make([]string, 0, full)
					for _, s := range txtSet(tc.label, full) {
						want = append(want, fmt.Sprintf("%s 300 IN TXT %q", qname, s))
					}
					wantSet(t, "answer", r.Answer, want...)
				}
			})
		}
	}
}
