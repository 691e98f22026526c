package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// Every cut of a version short of its end must lose a marker, or the
// rewrite attack would miss partial versions: the last line is a marker.
func TestZoneTextEndsWithAMarker(t *testing.T) {
	z := zoneText("rewrite.test.", 3, 16, 200)
	lines := strings.Split(strings.TrimSuffix(string(z), "\n"), "\n")
	if !strings.HasPrefix(lines[len(lines)-1], "marker ") {
		t.Fatalf("last line %q, want a marker", lines[len(lines)-1])
	}
	if n := bytes.Count(z, []byte("marker IN TXT")); n != 16 {
		t.Fatalf("%d markers, want 16", n)
	}
	zp := dns.NewZoneParser(bytes.NewReader(z), "", "")
	for _, ok := zp.Next(); ok; _, ok = zp.Next() {
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestJudge(t *testing.T) {
	const serial, markers = baseSerial + 2, 3
	answer := func(texts ...string) *dns.Msg {
		m := new(dns.Msg)
		for _, s := range texts {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: "marker.rewrite.test.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{s}})
		}
		return m
	}
	mk := func(s, i int) string { return markerText(s, i, markers) }
	nodata := new(dns.Msg)
	nodata.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Rrtype: dns.TypeSOA}, Serial: serial}}
	for _, tc := range []struct {
		name        string
		msg         *dns.Msg
		serial, got int
		whole       bool
	}{
		{"whole", answer(mk(serial, 1), mk(serial, 2), mk(serial, 3)), serial, 3, true},
		{"one missing", answer(mk(serial, 1), mk(serial, 3)), serial, 2, true},
		{"cut mid-record", answer(mk(serial, 1), mk(serial, 2), "serial=2026120102 marker=00"), serial, 2, false},
		{"two versions", answer(mk(serial, 1), mk(serial+1, 2)), -1, 0, false},
		{"no marker", nodata, serial, 0, false},
	} {
		s, got, whole := judge(tc.msg, markers)
		if s != tc.serial || got != tc.got || whole != tc.whole {
			t.Errorf("%s: judge = %d, %d, %v; want %d, %d, %v", tc.name, s, got, whole, tc.serial, tc.got, tc.whole)
		}
	}
}
