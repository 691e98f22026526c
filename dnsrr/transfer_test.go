package dnsrr_test

import (
	"context"
	"encoding/base64"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/dnsrr/rrl"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

var (
	xfrKey    = &dnsrr.TSIGKey{Name: "xfr.key.", Algorithm: dns.HmacSHA256, Secret: []byte("0123456789abcdef0123456789abcdef")}
	xfrSecret = map[string]string{"xfr.key.": base64.StdEncoding.EncodeToString(xfrKey.Secret)}
)

// startTransfers starts a server on 127.0.0.1 that lets 127.0.0.1 transfer
// with xfrKey, and 127.0.0.3 without a key.
func startTransfers(t *testing.T) (*dnsrr.Server, string) {
	t.Helper()
	s := dnsrr.New([]string{"127.0.0.1:0"}, dnsrr.Chaos{}, loadSnapshot(t), zerolog.Nop())
	s.SetTransfers(dnsrr.Transfers{
		Keys: map[string]*dnsrr.TSIGKey{xfrKey.Name: xfrKey},
		Allow: []dnsrr.TransferACL{
			{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Key: xfrKey.Name},
			{Prefix: netip.MustParsePrefix("127.0.0.3/32")},
		},
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s, s.Addrs()[0]
}

// axfr transfers zone from addr, from the local address src, signed with
// xfrKey when signed.
func axfr(t *testing.T, addr, src, zone string, qtype uint16, signed bool) ([]dns.RR, error) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(zone, qtype)
	if qtype == dns.TypeIXFR {
		m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET}, Ns: ".", Mbox: ".", Serial: 1}}
	}
	tr := &dns.Transfer{}
	if signed {
		m.SetTsig(xfrKey.Name, dns.HmacSHA256, 300, time.Now().Unix())
		tr.TsigSecret = xfrSecret
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tr.Conn = &dns.Conn{Conn: c}
	env, err := tr.In(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	var rrs []dns.RR
	for e := range env {
		if e.Error != nil {
			return rrs, e.Error
		}
		rrs = append(rrs, e.RR...)
	}
	return rrs, nil
}

func TestTransferOutIsTheStaticView(t *testing.T) {
	s, addr := startTransfers(t)
	z := s.Snapshot().Zone("rr.test.")
	rrs, err := axfr(t, addr, "127.0.0.1", "rr.test.", dns.TypeAXFR, true)
	if err != nil {
		t.Fatalf("signed AXFR from an allowed address: %v", err)
	}
	if len(rrs) < 2 || rrs[0].Header().Rrtype != dns.TypeSOA || rrs[len(rrs)-1].Header().Rrtype != dns.TypeSOA {
		t.Fatalf("transfer does not start and end with the SOA: %d records", len(rrs))
	}
	var want []string
	for rr := range z.Transfer() {
		want = append(want, rr.String())
	}
	got := make([]string, len(rrs))
	for i, rr := range rrs {
		got[i] = rr.String()
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("transferred %d records, zone has %d; they differ", len(got), len(want))
	}
	// Every member of every pool: the zone's count of records, plus the
	// second SOA.
	if len(rrs) != z.Records+1 {
		t.Errorf("transferred %d records; the zone holds %d (+1 for the closing SOA)", len(rrs), z.Records)
	}

	// IXFR over TCP from an old serial: the whole zone, AXFR-style.
	ix, err := axfr(t, addr, "127.0.0.1", "rr.test.", dns.TypeIXFR, true)
	if err != nil || len(ix) != len(rrs) {
		t.Errorf("IXFR: %d records, %v; want %d", len(ix), err, len(rrs))
	}
	// In class ANY, as NSD and Knot transfer it; CHAOS is no zone of ours.
	for _, c := range []struct {
		class uint16
		rcode int
	}{{dns.ClassANY, dns.RcodeSuccess}, {dns.ClassCHAOS, dns.RcodeRefused}} {
		m := new(dns.Msg)
		m.SetQuestion("rr.test.", dns.TypeAXFR)
		m.Question[0].Qclass = c.class
		cl := &dns.Client{Net: "tcp", Dialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}}
		r, _, err := cl.Exchange(m, addr)
		if err != nil || r.Rcode != c.rcode || (c.rcode == dns.RcodeSuccess && len(r.Answer) != len(rrs)) {
			t.Errorf("AXFR in class %s: %v, %v; want %s", dns.ClassToString[c.class], r, err, dns.RcodeToString[c.rcode])
		}
	}
	// Unsigned from an entry without a key.
	if _, err := axfr(t, addr, "127.0.0.3", "rr.test.", dns.TypeAXFR, false); err != nil {
		t.Errorf("unsigned AXFR from a keyless ACL entry: %v", err)
	}
}

func TestTransferRefused(t *testing.T) {
	_, addr := startTransfers(t)
	for _, c := range []struct {
		name, src, zone string
		signed          bool
	}{
		{"unsigned where the key is required", "127.0.0.1", "rr.test.", false},
		{"outside the ACL, signed", "127.0.0.2", "rr.test.", true},
	} {
		rrs, err := axfr(t, addr, c.src, c.zone, dns.TypeAXFR, c.signed)
		if err == nil || len(rrs) > 0 {
			t.Errorf("%s: transferred %d records, err %v", c.name, len(rrs), err)
		}
	}
	// The refusal is REFUSED, as a query sees it.
	m := new(dns.Msg)
	m.SetQuestion("rr.test.", dns.TypeAXFR)
	cl := &dns.Client{Net: "tcp", Dialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}}
	r, _, err := cl.Exchange(m, addr)
	if err != nil || r.Rcode != dns.RcodeRefused {
		t.Errorf("AXFR from outside the ACL: %v, %v; want REFUSED", r, err)
	}
	// An allowed client asking for a zone we do not serve: NOTAUTH.
	m.SetQuestion("nothere.test.", dns.TypeAXFR)
	m.SetTsig(xfrKey.Name, dns.HmacSHA256, 300, time.Now().Unix())
	cl = &dns.Client{Net: "tcp", TsigSecret: xfrSecret}
	// (miekg/dns takes any signed NOTAUTH for a TSIG failure: look at
	// the reply, not the error.)
	if r, _, _ = cl.Exchange(m, addr); r == nil || r.Rcode != dns.RcodeNotAuth || r.IsTsig() == nil || r.IsTsig().Error != 0 {
		t.Errorf("AXFR of a zone we do not serve: %v; want NOTAUTH, signed, with no TSIG error", r)
	}
	m.SetQuestion("rr.test.", dns.TypeAXFR)
	m.Extra = nil
	// AXFR over UDP is not defined (RFC 5936 §4.2), even for the allowed:
	// NOTIMP, as NSD answers.
	m.SetTsig(xfrKey.Name, dns.HmacSHA256, 300, time.Now().Unix())
	cl = &dns.Client{Net: "udp", TsigSecret: xfrSecret}
	r, _, err = cl.Exchange(m, addr)
	if err != nil || r.Rcode != dns.RcodeNotImplemented {
		t.Errorf("AXFR over UDP: %v, %v; want NOTIMP", r, err)
	}
	// IXFR without the client's SOA (RFC 1995 §3): FORMERR.
	m.SetQuestion("rr.test.", dns.TypeIXFR)
	m.SetTsig(xfrKey.Name, dns.HmacSHA256, 300, time.Now().Unix())
	cl = &dns.Client{Net: "tcp", TsigSecret: xfrSecret}
	if r, _, err = cl.Exchange(m, addr); err != nil || r.Rcode != dns.RcodeFormatError {
		t.Errorf("IXFR without a SOA: %v, %v; want FORMERR", r, err)
	}
}

func TestIXFROverUDPIsTheSOA(t *testing.T) {
	s, addr := startTransfers(t)
	m := new(dns.Msg)
	m.SetQuestion("rr.test.", dns.TypeIXFR)
	m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: "rr.test.", Rrtype: dns.TypeSOA, Class: dns.ClassINET}, Ns: ".", Mbox: ".", Serial: 1}}
	m.SetTsig(xfrKey.Name, dns.HmacSHA256, 300, time.Now().Unix())
	cl := &dns.Client{Net: "udp", TsigSecret: xfrSecret}
	r, _, err := cl.Exchange(m, addr)
	if err != nil {
		t.Fatalf("signed IXFR over UDP: %v (the reply's TSIG must verify)", err)
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*dns.SOA).Serial != s.Snapshot().Zone("rr.test.").Serial {
		t.Errorf("IXFR over UDP: %v; want our SOA alone", r)
	}
}

func TestSignedQueryIsAnsweredSigned(t *testing.T) {
	_, addr := startTransfers(t)
	for _, net := range []string{"udp", "tcp"} {
		m := new(dns.Msg)
		m.SetQuestion("rr.test.", dns.TypeSOA)
		m.SetTsig(xfrKey.Name, dns.HmacSHA256, 300, time.Now().Unix())
		cl := &dns.Client{Net: net, TsigSecret: xfrSecret}
		r, _, err := cl.Exchange(m, addr)
		if err != nil || r.Rcode != dns.RcodeSuccess || r.IsTsig() == nil || len(r.Answer) != 1 {
			t.Errorf("%s: signed SOA query: %v, %v", net, r, err)
		}
	}
}

func TestTSIGFailures(t *testing.T) {
	_, addr := startTransfers(t)
	for _, c := range []struct {
		name    string
		keyName string
		secret  []byte
		skew    time.Duration
		wantErr uint16
	}{
		{"unknown key", "other.key.", xfrKey.Secret, 0, dns.RcodeBadKey},
		{"wrong secret", xfrKey.Name, []byte("not the secret at all, not at all"), 0, dns.RcodeBadSig},
		{"clock skew", xfrKey.Name, xfrKey.Secret, time.Hour, dns.RcodeBadTime},
	} {
		for _, net := range []string{"udp", "tcp"} {
			m := new(dns.Msg)
			m.SetQuestion("rr.test.", dns.TypeAXFR)
			if net == "udp" {
				m.SetQuestion("rr.test.", dns.TypeSOA)
			}
			m.SetTsig(c.keyName, dns.HmacSHA256, 300, time.Now().Add(-c.skew).Unix())
			cl := &dns.Client{Net: net, TsigSecret: map[string]string{c.keyName: base64.StdEncoding.EncodeToString(c.secret)}}
			r, _, err := cl.Exchange(m, addr)
			if r == nil {
				t.Errorf("%s over %s: no reply: %v", c.name, net, err)
				continue
			}
			tsig := r.IsTsig()
			if r.Rcode != dns.RcodeNotAuth || tsig == nil || tsig.Error != c.wantErr {
				t.Errorf("%s over %s: rcode %s, TSIG %v; want NOTAUTH with TSIG error %s", c.name, net,
					dns.RcodeToString[r.Rcode], tsig, dns.RcodeToString[int(c.wantErr)])
				continue
			}
			if c.wantErr == dns.RcodeBadTime {
				// Signed, with our time in other data (RFC 8945 §5.2.3).
				if tsig.MACSize == 0 || tsig.OtherLen != 6 {
					t.Errorf("BADTIME over %s: MAC size %d, other length %d; want a MAC and our time", net, tsig.MACSize, tsig.OtherLen)
				}
			} else if tsig.MACSize != 0 {
				t.Errorf("%s over %s: the reply is signed; §5.3.2 says not to", c.name, net)
			}
		}
	}
}

// TestTransferSlotReleased: with max_transfers = 1, transfers one after
// the other all run: each gives its place back when it ends.
func TestTransferSlotReleased(t *testing.T) {
	s, addr := startTransfers(t)
	s.SetTransfers(dnsrr.Transfers{
		Keys:         map[string]*dnsrr.TSIGKey{xfrKey.Name: xfrKey},
		Allow:        []dnsrr.TransferACL{{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Key: xfrKey.Name}},
		MaxTransfers: 1,
	})
	for i := range 5 {
		qtype := dns.TypeAXFR
		if i%2 == 1 {
			qtype = dns.TypeIXFR
		}
		if _, err := axfr(t, addr, "127.0.0.1", "rr.test.", qtype, true); err != nil {
			t.Fatalf("transfer %d: %v", i+1, err)
		}
	}
}

// TestSignedQueryIsNotRateLimited: a query with a valid TSIG proves its
// source, as a valid server cookie does: a secondary's SOA queries are
// never limited (nor slipped unsigned), while unsigned ones from the same
// address are.
func TestSignedQueryIsNotRateLimited(t *testing.T) {
	s, addr := startTransfers(t)
	cfg := rrl.Defaults(1)
	cfg.ExemptLoopback = false
	limiter, err := rrl.New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer limiter.Close()
	s.SetPolicy(dnsrr.Policy{RRL: limiter})
	ask := func(signed bool) (full int) {
		for range 20 {
			m := new(dns.Msg)
			m.SetQuestion("rr.test.", dns.TypeSOA)
			// Unsigned queries are mostly dropped: a short wait for them
			// (a late answer counts as limited, which can only hide a
			// failure of this test, not make one).
			cl := &dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}
			if signed {
				cl.Timeout = 5 * time.Second
				m.SetTsig(xfrKey.Name, dns.HmacSHA256, 300, time.Now().Unix())
				cl.TsigSecret = xfrSecret
			}
			r, _, err := cl.Exchange(m, addr)
			if err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1 {
				full++
			}
		}
		return full
	}
	if full := ask(true); full != 20 {
		t.Errorf("signed: %d of 20 answered in full at 1 a second; want all", full)
	}
	if full := ask(false); full > 10 {
		t.Errorf("unsigned: %d of 20 answered in full at 1 a second; want most limited", full)
	}
}
