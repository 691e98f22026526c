package integration

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Protocol corners of issue 9, over real sockets: what ISC's EDNS
// compliance tester (genreport) sends for its "opcodeflg" and "dnswkk"
// tests, pseudo-records out of place, and DNAME (RFC 6672).

// cornersConfig writes a configuration serving zones with the admin API
// off (these tests need no health state) and returns its path.
func cornersConfig(t *testing.T, dir string, zones ...string) string {
	t.Helper()
	return writeFile(t, dir, "dnsrr.toml", "zones = [\""+strings.Join(zones, "\", \"")+"\"]\n[health]\nadmin = \"\"\n")
}

// TestCornersUnknownOpcodeFlags: genreport "opcode" and "opcodeflg" send
// a header alone with opcode 15, the latter with every flag set. The reply
// is NOTIMP with the opcode echoed, empty sections, and none of the flags:
// they are QUERY's (RD and CD included; BIND answers so).
func TestCornersUnknownOpcodeFlags(t *testing.T) {
	t.Parallel()
	s := startExample(t)
	const (
		opcode15 = 15 << 11
		allFlags = 1<<10 | 1<<9 | 1<<8 | 1<<7 | 1<<6 | 1<<5 | 1<<4 // AA TC RD RA Z AD CD
	)
	for _, ep := range s.endpoints() {
		for _, tc := range []struct {
			name  string
			flags uint16
		}{{"opcode", opcode15}, {"opcodeflg", opcode15 | allFlags}} {
			t.Run(ep.String()+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				r := rawExchange(t, ep.net, ep.addr, headerOnly(0x4242, tc.flags, 0, 0, 0, 0))
				if !r.Response || r.Id != 0x4242 || r.Opcode != 15 {
					t.Errorf("QR=%v ID=%#x opcode=%d, want QR, 0x4242, 15", r.Response, r.Id, r.Opcode)
				}
				wantRcode(t, r, dns.RcodeNotImplemented)
				if r.Authoritative || r.Truncated || r.RecursionDesired || r.RecursionAvailable || r.Zero || r.AuthenticatedData || r.CheckingDisabled {
					t.Errorf("flags echoed: %v", r.MsgHdr)
				}
				if len(r.Question)+len(r.Answer)+len(r.Ns)+len(r.Extra) != 0 {
					t.Errorf("sections not empty: %v", r)
				}
			})
		}
	}
}

// TestCornersSignedQuery: genreport "dnswkk" signs a query with the
// well-known key "." (HMAC-SHA256, 32 zero bytes). dnsrr has no keys, so
// RFC 8945 §5.2.2 applies: NOTAUTH and an unsigned TSIG with error BADKEY,
// the question echoed (as Knot and BIND answer).
func TestCornersSignedQuery(t *testing.T) {
	t.Parallel()
	s := startExample(t)
	secret := base64.StdEncoding.EncodeToString(make([]byte, 32))
	for _, ep := range s.endpoints() {
		for _, edns := range []bool{false, true} {
			label := ep.String() + "/plain"
			if edns {
				label = ep.String() + "/edns"
			}
			t.Run(label, func(t *testing.T) {
				t.Parallel()
				m := newQuery(origin, dns.TypeSOA)
				if edns {
					m.SetEdns0(1232, false)
				}
				m.SetTsig(".", dns.HmacSHA256, 300, time.Now().Unix())
				pkt, _, err := dns.TsigGenerate(m, secret, "", false)
				if err != nil {
					t.Fatal(err)
				}
				r := rawExchange(t, ep.net, ep.addr, pkt)
				wantRcode(t, r, dns.RcodeNotAuth)
				if len(r.Question) != 1 || r.Question[0] != m.Question[0] || len(r.Answer)+len(r.Ns) != 0 {
					t.Errorf("question %v answer %v authority %v, want the question alone", r.Question, r.Answer, r.Ns)
				}
				ts := r.IsTsig()
				if ts == nil {
					t.Fatalf("no TSIG, last in additional: %v", r.Extra)
				}
				if ts.Hdr.Name != "." || ts.Algorithm != dns.HmacSHA256 || ts.Error != dns.RcodeBadKey || ts.MACSize != 0 {
					t.Errorf("TSIG %v, want key \".\", %s, error BADKEY, no MAC", ts, dns.HmacSHA256)
				}
				if edns != (r.IsEdns0() != nil) {
					t.Errorf("OPT in reply: %v, want %v", r.IsEdns0() != nil, edns)
				}
			})
		}
	}
}

// TestCornersMisplacedPseudoRecords: an OPT outside the additional section
// (RFC 6891 §6.1.1) or a TSIG that is not the additional section's last
// record (RFC 8945 §5.2) makes a query malformed: FORMERR, as NSD and Knot
// answer. An ordinary record in the answer section is ignored (Knot).
func TestCornersMisplacedPseudoRecords(t *testing.T) {
	t.Parallel()
	s := startExample(t)
	opt := func() dns.RR {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(1232)
		return o
	}
	tsig := &dns.TSIG{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeTSIG, Class: dns.ClassANY},
		Algorithm: dns.HmacSHA256, TimeSigned: uint64(time.Now().Unix()), Fudge: 300}
	a, err := dns.NewRR(name("www") + " 30 IN A 192.0.2.99")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		mod   func(m *dns.Msg)
		rcode int
	}{
		{"OPT in answer", func(m *dns.Msg) { m.Answer = []dns.RR{opt()} }, dns.RcodeFormatError},
		{"OPT in authority", func(m *dns.Msg) { m.Ns = []dns.RR{opt()} }, dns.RcodeFormatError},
		{"TSIG before OPT", func(m *dns.Msg) { m.Extra = []dns.RR{tsig, opt()} }, dns.RcodeFormatError},
		{"TSIG in answer", func(m *dns.Msg) { m.Answer = []dns.RR{tsig} }, dns.RcodeFormatError},
		{"A record in answer", func(m *dns.Msg) { m.Answer = []dns.RR{a} }, dns.RcodeSuccess},
	}
	for _, ep := range s.endpoints() {
		for _, tc := range cases {
			t.Run(ep.String()+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				m := newQuery(name("www"), dns.TypeA)
				tc.mod(m)
				r := rawExchange(t, ep.net, ep.addr, pack(t, m))
				if !r.Response || r.Id != m.Id {
					t.Errorf("QR=%v ID=%#x, want QR and %#x", r.Response, r.Id, m.Id)
				}
				wantRcode(t, r, tc.rcode)
				if tc.rcode == dns.RcodeSuccess {
					positive(wwwA...)(t, r)
				}
			})
		}
	}
}

// dnameZone is a master file with DNAMEs; dnameTOML the same ideas in
// dnsrr's format (the dname key).
const dnameZone = `$ORIGIN dname.test.
$TTL 300
@       IN SOA   ns1 hostmaster 1 3600 900 1209600 60
@       IN NS    ns1
ns1     IN A     192.0.2.53
old 120 IN DNAME new.dname.test.
a.new   IN A     192.0.2.10
long    IN DNAME aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dname.test.
`

const dnameTOML = `
[records.moved]
dname = "dname.test."
`

// TestCornersDNAME: DNAME redirection in both zone formats, over UDP and
// TCP (the same answers NSD and Knot give for this zone), and a reload
// that puts data below a DNAME is refused with file:line while the old
// zones keep serving.
func TestCornersDNAME(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	master := writeFile(t, dir, "dname.test.zone", dnameZone)
	tomlZone := writeFile(t, dir, "toml.test.toml", testZoneHeader("toml.test.")+dnameTOML)
	s := startServer(t, "-config", cornersConfig(t, dir, master, tomlZone))
	oldDNAME := "old.dname.test.\t120\tIN\tDNAME\tnew.dname.test."
	cases := []struct {
		name          string
		qname         string
		rcode         int
		answer        []string
		wantAuthority bool
	}{
		{"redirected, target chased", "a.old.dname.test.", dns.RcodeSuccess, []string{oldDNAME,
			"a.old.dname.test.\t120\tIN\tCNAME\ta.new.dname.test.", "a.new.dname.test.\t300\tIN\tA\t192.0.2.10"}, false},
		{"redirected to a name that does not exist", "x.old.dname.test.", dns.RcodeNameError, []string{oldDNAME,
			"x.old.dname.test.\t120\tIN\tCNAME\tx.new.dname.test."}, true},
		{"the owner itself: NODATA", "old.dname.test.", dns.RcodeSuccess, nil, true},
		{"too long once substituted: YXDOMAIN", strings.Repeat("a", 62) + ".long.dname.test.", dns.RcodeYXDomain,
			[]string{"long.dname.test.\t300\tIN\tDNAME\t" + strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." +
				strings.Repeat("c", 63) + ".dname.test."}, false},
		{"TOML dname key", "x.moved.toml.test.", dns.RcodeSuccess, []string{
			"moved.toml.test.\t300\tIN\tDNAME\tdname.test.", "x.moved.toml.test.\t300\tIN\tCNAME\tx.dname.test."}, false},
	}
	// The group ends when its parallel cases have, before the reload.
	t.Run("answers", func(t *testing.T) {
		for _, ep := range s.endpoints() {
			for _, tc := range cases {
				t.Run(ep.String()+"/"+tc.name, func(t *testing.T) {
					t.Parallel()
					q := newQuery(tc.qname, dns.TypeA)
					r := exchange(t, ep.net, ep.addr, q)
					wantEcho(t, q, r)
					wantRcode(t, r, tc.rcode)
					if !r.Authoritative {
						t.Error("AA clear")
					}
					var got []string
					for _, rr := range r.Answer {
						got = append(got, strings.ToLower(rr.String()))
					}
					want := strings.ToLower(strings.Join(tc.answer, "\n"))
					if strings.Join(got, "\n") != want {
						t.Errorf("answer:\n%s\nwant (in this order):\n%s", strings.Join(got, "\n"), want)
					}
					if (len(r.Ns) > 0) != tc.wantAuthority {
						t.Errorf("authority %v, want SOA: %v", r.Ns, tc.wantAuthority)
					}
				})
			}
		}
	})

	t.Run("reload with data below a DNAME", func(t *testing.T) {
		broken := strings.Replace(dnameZone, "1 3600", "2 3600", 1) + "x.old   IN TXT   \"occluded\"\n"
		writeFile(t, dir, "dname.test.zone", broken)
		l := reloadOutcome(t, s)
		want := filepath.Base(master) + ":9: x.old.dname.test. TXT: TXT record below the DNAME at old.dname.test. would never be served"
		if !strings.HasPrefix(l.message(), "reload failed") || !strings.Contains(l.str("error"), want) {
			t.Fatalf("got %s, want a failed reload naming %q", l.raw, want)
		}
		for _, net := range []string{"udp", "tcp"} {
			r := exchange(t, net, s.addr("4"), newQuery("x.old.dname.test.", dns.TypeTXT))
			wantRcode(t, r, dns.RcodeNameError) // the old zone: redirected to x.new, which does not exist
			if len(r.Answer) != 2 || r.Answer[0].Header().Rrtype != dns.TypeDNAME {
				t.Errorf("%s: answer %v, want the old zone's DNAME and CNAME", net, r.Answer)
			}
			soa := exchange(t, net, s.addr("4"), newQuery("dname.test.", dns.TypeSOA))
			if len(soa.Answer) != 1 || soa.Answer[0].(*dns.SOA).Serial != 1 {
				t.Errorf("%s: SOA %v, want the old serial 1", net, soa.Answer)
			}
		}
	})
}

// TestCornersCheckDNAME: `dnsrr check` reports every DNAME mistake of a
// file with its line.
func TestCornersCheckDNAME(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	zone := writeFile(t, dir, "bad.test.toml", testZoneHeader("bad.test.")+`
[records.old]
dname = ["new", "other.test."]

[pools."www.old"]
addresses = ["192.0.2.10", "192.0.2.11"]
`)
	_, stderr, code := runDNSRR(t, "check", "-zone", zone)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"bad.test.toml:18: records.old.dname: a name can have only one DNAME (RFC 6672 §2.4)",
		`bad.test.toml:21: pools."www.old".addresses: pool www.old.bad.test. is below the DNAME at old.bad.test.`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("check output lacks %q", want)
		}
	}
}

// reloadOutcome sends SIGHUP and returns the log line saying how the
// reload ended.
func reloadOutcome(t *testing.T, s *server) logLine {
	t.Helper()
	mark := s.logMark()
	s.signal(syscall.SIGHUP)
	done := func(l logLine) bool {
		return l.message() == "reload applied" || strings.HasPrefix(l.message(), "reload failed")
	}
	l, ok := s.waitLog(mark, pollTimeout, done)
	if !ok {
		t.Fatal("no reload log line after SIGHUP")
	}
	return l
}
