package dnsrr_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
)

// TestTransferTimeout: a secondary that stops reading keeps its transfer
// (and its place among max_transfers) for [transfer] timeout at most,
// even when the per-message write timeout is far longer. The zone is
// larger than the socket buffers hold, so the server's writes stall.
func TestTransferTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.test.zone")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 1209600 60\n@ NS ns1\nns1 A 192.0.2.53\n")
	for i := range 100000 {
		for j := 1; j <= 4; j++ {
			fmt.Fprintf(w, "p%d A 10.%d.%d.%d\n", i, i>>8&255, i&255, j)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s := dnsrr.New([]string{"127.0.0.1:0"}, dnsrr.Chaos{}, loadSnapshot(t, path), zerolog.Nop())
	s.SetTransfers(dnsrr.Transfers{
		Allow:        []dnsrr.TransferACL{{Prefix: netip.MustParsePrefix("127.0.0.1/32")}},
		MaxTransfers: 1,
		WriteTimeout: time.Hour,
		Timeout:      time.Second,
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	addr := s.Addrs()[0]

	// The stalled secondary: a small receive window, and it never reads.
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	stalled, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	m := new(dns.Msg)
	m.SetQuestion("big.test.", dns.TypeAXFR)
	co := &dns.Conn{Conn: stalled}
	if err := co.WriteMsg(m); err != nil {
		t.Fatal(err)
	}

	// Another secondary is refused while the stalled one holds the only
	// place, then gets its transfer once the timeout ended it.
	refused := false
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the stalled transfer still holds its place after 60 s (refused meanwhile: %v)", refused)
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		co := &dns.Conn{Conn: c}
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		if err := co.WriteMsg(m); err != nil {
			t.Fatal(err)
		}
		r, err := co.ReadMsg()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if r.Rcode == dns.RcodeRefused {
			refused = true
			continue
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 || r.Answer[0].Header().Rrtype != dns.TypeSOA {
			t.Fatalf("second transfer: %v", r.MsgHdr)
		}
		break
	}
	if !refused {
		t.Log("the stalled transfer had ended before the second asked (a slow machine): the refusal was not seen")
	}
}
