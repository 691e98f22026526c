package integration

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// largeXfrPools is how many pools of 4 addresses TestTransferLargeZone
// transfers: DNSRR_XFR_POOLS, or 100,000 (400,000 records, about 8 MB on
// the wire: more than the socket buffers hold, so the pause below stalls
// the server's writes). The README's figure is from 250,000.
func largeXfrPools(t *testing.T) int {
	if v := os.Getenv("DNSRR_XFR_POOLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("DNSRR_XFR_POOLS=%q: want a count of pools", v)
		}
		return n
	}
	return 100000
}

// TestTransferLargeZone transfers a zone of many pools, signed, through a
// client that stops reading for longer than the TCP limits meant for
// queries allow (idle and write timeouts of 1 s): the transfer goes on
// under its own write timeout and arrives whole and correct. Meanwhile a
// second transfer is refused (max_transfers = 1).
func TestTransferLargeZone(t *testing.T) {
	t.Parallel()
	pools := largeXfrPools(t)
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big.test.zone"))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 1209600 60\n@ NS ns1\nns1 A 192.0.2.53\n")
	for i := range pools {
		for j := 1; j <= 4; j++ {
			fmt.Fprintf(w, "p%d 30 A 10.%d.%d.%d\n", i, i>>8&255, i&255, j)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	writeFile(t, dir, "dnsrr.toml", fmt.Sprintf(`zones = ["big.test.zone"]
[tsig_keys."%[1]s"]
secret = "%[2]s"
[transfer]
allow = ["127.0.0.1 key %[1]s"]
max_transfers = 1
[tcp]
idle_timeout = "1s"
busy_idle_timeout = "1s"
write_timeout = "1s"
[health]
admin = ""
`, xfrKeyName, xfrSecret))
	s := startServer(t, "-config", filepath.Join(dir, "dnsrr.toml"))
	primary := s.addr("4")

	m := new(dns.Msg)
	m.SetQuestion("big.test.", dns.TypeAXFR)
	m.SetTsig(xfrKeyName, dns.HmacSHA256, 300, time.Now().Unix())
	tr := &dns.Transfer{TsigSecret: map[string]string{xfrKeyName: xfrSecret}, ReadTimeout: secondaryWait}
	// A small receive buffer, so that the server's writes stall while we
	// pause rather than land in our socket.
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", primary)
	if err != nil {
		t.Fatal(err)
	}
	tr.Conn = &dns.Conn{Conn: conn}
	env, err := tr.In(m, primary)
	if err != nil {
		t.Fatal(err)
	}
	first := <-env
	if first == nil || first.Error != nil {
		t.Fatalf("first message: %+v", first)
	}
	// The transfer is running, stalled on us: a second one is refused.
	if _, err := transferIn(t, primary, "127.0.0.1", "big.test.", true); err == nil {
		t.Error("a second transfer ran beside the first; max_transfers = 1")
	}
	time.Sleep(3 * time.Second) // past the TCP idle and write timeouts of queries

	want := make(map[string]bool, 4*pools)
	for i := range pools {
		for j := 1; j <= 4; j++ {
			want[fmt.Sprintf("p%d.big.test. 10.%d.%d.%d", i, i>>8&255, i&255, j)] = true
		}
	}
	got, soas := 0, 0
	check := func(rrs []dns.RR) {
		for _, rr := range rrs {
			switch rr := rr.(type) {
			case *dns.A:
				k := rr.Hdr.Name + " " + rr.A.String()
				if rr.Hdr.Name == "ns1.big.test." {
					continue
				}
				if !want[k] || rr.Hdr.Ttl != 30 {
					t.Fatalf("unexpected or repeated record %v", rr)
				}
				delete(want, k)
				got++
			case *dns.SOA:
				soas++
			}
		}
	}
	check(first.RR)
	for e := range env {
		if e.Error != nil {
			t.Fatalf("transfer cut after %d pool records: %v", got, e.Error)
		}
		check(e.RR)
	}
	if len(want) != 0 || soas != 2 {
		t.Fatalf("transfer of %d pools: %d pool records, %d missing, %d SOA; want %d, none missing, 2", pools, got, len(want), soas, 4*pools)
	}
	// The server still answers queries, over TCP too.
	r := exchange(t, "tcp", primary, newQuery("p7.big.test.", dns.TypeA))
	if len(r.Answer) != 4 {
		t.Errorf("p7 after the transfer: %d answers", len(r.Answer))
	}
}
