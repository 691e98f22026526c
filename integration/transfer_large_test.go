package integration

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
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
// under its own write timeout and arrives whole and correct, in the
// version it started with although a reload changed the zone meanwhile.
// A second transfer is refused while it runs (max_transfers = 1).
func TestTransferLargeZone(t *testing.T) {
	t.Parallel()
	pools := largeXfrPools(t)
	dir := t.TempDir()
	writeBigZone(t, filepath.Join(dir, "big.test.zone"), pools, 1, 0)
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
	// A reload meanwhile, to a zone with other addresses: the transfer
	// keeps sending the version it started with.
	writeBigZone(t, filepath.Join(dir, "big.test.zone"), pools, 2, 4)
	mark := s.logMark()
	s.signal(syscall.SIGHUP)
	if _, ok := s.waitLog(mark, secondaryWait, func(l logLine) bool { return l.message() == "reload applied" }); !ok {
		t.Fatal("no reload applied during the transfer")
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
				if rr.Serial != 1 {
					t.Fatalf("SOA %v in the transfer: want the version it started with", rr)
				}
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
	// The server still answers queries, over TCP too, from the new zone.
	r := exchange(t, "tcp", primary, newQuery("p7.big.test.", dns.TypeA))
	got7 := addrsOf(r.Answer)
	slices.Sort(got7)
	if want := []string{"10.0.7.5", "10.0.7.6", "10.0.7.7", "10.0.7.8"}; !slices.Equal(got7, want) {
		t.Errorf("p7 after the transfer: %v, want the reloaded %v", got7, want)
	}
}

// writeBigZone writes a zone of pools of 4 addresses at serial; shift
// moves every address's last octet.
func writeBigZone(t *testing.T, path string, pools int, serial, shift int) {
	t.Helper()
	f, err := os.Create(path + ".tmp")
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 hostmaster %d 3600 900 1209600 60\n@ NS ns1\nns1 A 192.0.2.53\n", serial)
	for i := range pools {
		for j := 1; j <= 4; j++ {
			fmt.Fprintf(w, "p%d 30 A 10.%d.%d.%d\n", i, i>>8&255, i&255, j+shift)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}
