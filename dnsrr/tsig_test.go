package dnsrr_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// signRaw signs m with xfrKey as a client would, with the time and fudge
// given (miekg/dns cannot: it signs a fudge of 0 as 300 and a time of 0
// as now), and a MAC of macLen bytes (the first ones, or zero padding).
func signRaw(t *testing.T, m *dns.Msg, keyName string, signed time.Time, fudge uint16, macLen int) []byte {
	t.Helper()
	msg, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	name := func(b []byte, n string) []byte {
		buf := make([]byte, 256)
		k, err := dns.PackDomainName(dns.CanonicalName(n), buf, 0, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		return append(b, buf[:k]...)
	}
	ts := uint64(signed.Unix())
	vars := name(nil, keyName)
	vars = append(vars, 0, dns.ClassANY, 0, 0, 0, 0)
	vars = name(vars, dns.HmacSHA256)
	vars = append(vars, byte(ts>>40), byte(ts>>32), byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts), byte(fudge>>8), byte(fudge), 0, 0, 0, 0)
	h := hmac.New(sha256.New, xfrKey.Secret)
	h.Write(msg)
	h.Write(vars)
	mac := h.Sum(nil)
	if macLen <= len(mac) {
		mac = mac[:macLen]
	} else {
		mac = append(mac, make([]byte, macLen-len(mac))...)
	}
	rr := &dns.TSIG{Hdr: dns.RR_Header{Name: keyName, Rrtype: dns.TypeTSIG, Class: dns.ClassANY}, Algorithm: dns.HmacSHA256,
		TimeSigned: ts, Fudge: fudge, MACSize: uint16(len(mac)), MAC: hex.EncodeToString(mac), OrigId: m.Id}
	buf := make([]byte, 512)
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	out := append(msg, buf[:n]...)
	binary.BigEndian.PutUint16(out[10:], binary.BigEndian.Uint16(out[10:])+1)
	return out
}

// exchangeRaw sends pkt over UDP and returns the reply, unpacked and as
// received.
func exchangeRaw(t *testing.T, addr string, pkt []byte) (*dns.Msg, []byte) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, dns.MaxMsgSize)
	n, err := c.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(b[:n]); err != nil {
		t.Fatal(err)
	}
	return r, b[:n]
}

// TestTSIGTimers: the fudge and time signed are the client's, whatever
// their values: a fudge of 0 is a valid (strict) request, and a time of 0
// is a time far off, so BADTIME, as NSD and Knot answer. MACs of a length
// other than the algorithm's are BADSIG, as NSD and Knot answer.
func TestTSIGTimers(t *testing.T) {
	_, addr := startTransfers(t)
	now := time.Now()
	for _, c := range []struct {
		name    string
		keyName string
		signed  time.Time
		fudge   uint16
		macLen  int
		rcode   int
		tsigErr uint16
	}{
		{"fudge 0, on time", xfrKey.Name, now, 0, 32, dns.RcodeSuccess, 0},
		{"fudge 1, on time", xfrKey.Name, now, 1, 32, dns.RcodeSuccess, 0},
		{"key name in upper case", "XFR.Key.", now, 300, 32, dns.RcodeSuccess, 0},
		{"fudge 0, an hour late", xfrKey.Name, now.Add(-time.Hour), 0, 32, dns.RcodeNotAuth, dns.RcodeBadTime},
		{"time 0", xfrKey.Name, time.Unix(0, 0), 300, 32, dns.RcodeNotAuth, dns.RcodeBadTime},
		{"an hour early", xfrKey.Name, now.Add(time.Hour), 300, 32, dns.RcodeNotAuth, dns.RcodeBadTime},
		{"MAC truncated to 16", xfrKey.Name, now, 300, 16, dns.RcodeNotAuth, dns.RcodeBadSig},
		{"MAC of 40 bytes", xfrKey.Name, now, 300, 40, dns.RcodeNotAuth, dns.RcodeBadSig},
		{"no MAC", xfrKey.Name, now, 300, 0, dns.RcodeNotAuth, dns.RcodeBadSig},
	} {
		m := new(dns.Msg)
		m.SetQuestion("rr.test.", dns.TypeSOA)
		pkt := signRaw(t, m, c.keyName, c.signed, c.fudge, c.macLen)
		sent := bytes.Clone(pkt)
		r, raw := exchangeRaw(t, addr, pkt)
		tsig := r.IsTsig()
		if r.Rcode != c.rcode || tsig == nil || tsig.Error != c.tsigErr {
			t.Errorf("%s: rcode %s, TSIG %v; want %s with TSIG error %s", c.name, dns.RcodeToString[r.Rcode], tsig,
				dns.RcodeToString[c.rcode], dns.RcodeToString[int(c.tsigErr)])
			continue
		}
		// The reply's MAC covers the request's (§5.3), BADTIME's too
		// (§5.2.3). (miekg/dns verifies no NOTAUTH reply.)
		if (c.rcode == dns.RcodeSuccess || c.tsigErr == dns.RcodeBadTime) && !replyMACValid(t, raw, macOf(t, sent)) {
			t.Errorf("%s: the reply's MAC does not verify", c.name)
		}
	}
}

// macOf is the MAC of the signed packet pkt.
func macOf(t *testing.T, pkt []byte) []byte {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(pkt); err != nil {
		t.Fatal(err)
	}
	mac, _ := hex.DecodeString(m.IsTsig().MAC)
	return mac
}

// replyMACValid checks the MAC of the signed reply raw to a request whose
// MAC was reqMAC (RFC 8945 §4.3): the request's MAC, the reply without
// its TSIG (whose owner we pack uncompressed, so its length is dns.Len's),
// then the TSIG variables.
func replyMACValid(t *testing.T, raw, reqMAC []byte) bool {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(raw); err != nil {
		t.Fatal(err)
	}
	ts := m.IsTsig()
	end := len(raw) - dns.Len(ts)
	msg := bytes.Clone(raw[:end])
	binary.BigEndian.PutUint16(msg[0:], ts.OrigId)
	binary.BigEndian.PutUint16(msg[10:], binary.BigEndian.Uint16(msg[10:])-1)
	h := hmac.New(sha256.New, xfrKey.Secret)
	h.Write([]byte{byte(len(reqMAC) >> 8), byte(len(reqMAC))})
	h.Write(reqMAC)
	h.Write(msg)
	buf := make([]byte, 256)
	n, _ := dns.PackDomainName(dns.CanonicalName(ts.Hdr.Name), buf, 0, nil, false)
	h.Write(buf[:n])
	h.Write([]byte{0, dns.ClassANY, 0, 0, 0, 0})
	n, _ = dns.PackDomainName(dns.CanonicalName(ts.Algorithm), buf, 0, nil, false)
	h.Write(buf[:n])
	ti := ts.TimeSigned
	h.Write([]byte{byte(ti >> 40), byte(ti >> 32), byte(ti >> 24), byte(ti >> 16), byte(ti >> 8), byte(ti), byte(ts.Fudge >> 8), byte(ts.Fudge)})
	other, _ := hex.DecodeString(ts.OtherData)
	h.Write([]byte{byte(ts.Error >> 8), byte(ts.Error), byte(len(other) >> 8), byte(len(other))})
	h.Write(other)
	mac, _ := hex.DecodeString(ts.MAC)
	return hmac.Equal(h.Sum(nil), mac)
}
