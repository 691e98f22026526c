package dnsrr_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// FuzzSignedQuery feeds packets to a server that has a TSIG key, so that
// the verification and signing paths see mangled TSIG records, questions
// and transfers. Every reply must unpack, and be no longer than the
// transport allows.
func FuzzSignedQuery(f *testing.F) {
	s := dnsrr.New(nil, dnsrr.Chaos{}, loadSnapshot(f), zerolog.Nop())
	s.SetTransfers(dnsrr.Transfers{
		Keys:  map[string]*dnsrr.TSIGKey{xfrKey.Name: xfrKey},
		Allow: []dnsrr.TransferACL{{Prefix: netip.MustParsePrefix("0.0.0.0/0")}},
	})
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"rr.test.", dns.TypeSOA}, {"rr.test.", dns.TypeIXFR}, {"www.rr.test.", dns.TypeA}, {"kid.rr.test.", dns.TypeNS}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.SetEdns0(1232, false)
		m.SetTsig(xfrKey.Name, dns.HmacSHA256, 300, time.Now().Unix())
		pkt, _, err := dns.TsigGenerate(m, xfrSecret[xfrKey.Name], "", false)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(pkt)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		for _, c := range []struct {
			net   string
			out   []byte
			limit int
		}{{"udp", s.AnswerUDP(pkt), 1232}, {"tcp", s.AnswerTCP(pkt), dns.MaxMsgSize}} {
			if c.out == nil {
				continue
			}
			if len(c.out) > c.limit {
				t.Errorf("%s reply of %d bytes, limit %d", c.net, len(c.out), c.limit)
			}
			if len(c.out) > 12 {
				if err := new(dns.Msg).Unpack(c.out); err != nil {
					t.Errorf("%s reply does not unpack: %v", c.net, err)
				}
			}
		}
	})
}
