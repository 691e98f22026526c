// Command attack tries a running DNS server the way a hostile client or a
// careless operator would, on loopback only, and prints one table row per
// attack: how fresh TCP queries fared, the server's RSS, file descriptors
// and CPU, and for zone rewrites how many cut versions were served.
// integration/attack/run.sh builds it and runs it against dnsrr and NSD.
//
//	attack -name dnsrr -dns 127.0.0.1:5300 -pid 1234 -admin 127.0.0.1:8053 -zone-file rewrite.test.zone
//	attack -init-zone rewrite.test.zone     # writes the rewrite zone's first version
//
// Every loop is bounded in count and time; every connection is closed
// before it returns.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

type options struct {
	name, dnsAddr, admin string
	pid                  int
	probeName            string
	attacks              string

	conns, prefixes, ramp int
	hold                  time.Duration
	probes                int
	probeTimeout          time.Duration
	frameEvery, byteEvery time.Duration
	adminConns            int

	rewrite rewriteConfig
}

func main() {
	var o options
	var header bool
	var initZone string
	flag.StringVar(&o.name, "name", "server", "server name for the table")
	flag.StringVar(&o.dnsAddr, "dns", "", "the server's DNS address (loopback)")
	flag.IntVar(&o.pid, "pid", 0, "the server's PID (its children are counted too)")
	flag.StringVar(&o.admin, "admin", "", "the server's admin HTTP address; empty: none (admin attack n/a)")
	flag.StringVar(&o.probeName, "probe-name", "www.lb.example.test.", "name the fresh TCP queries ask for (A)")
	flag.StringVar(&o.attacks, "attacks", "tcp-zero,tcp-idle,tcp-slow,admin,rewrite", "attacks to run, in order")
	flag.IntVar(&o.conns, "conns", 3000, "attacking TCP connections")
	flag.IntVar(&o.prefixes, "prefixes", 100, "source /24s (127.20.0.0/24 upwards) the connections come from")
	flag.IntVar(&o.ramp, "ramp", 1000, "connections opened per second")
	flag.DurationVar(&o.hold, "hold", 15*time.Second, "how long each hold lasts once the connections are open")
	flag.IntVar(&o.probes, "probes", 20, "fresh TCP queries from 127.0.0.1 per attack, spread over the hold")
	flag.DurationVar(&o.probeTimeout, "probe-timeout", 3*time.Second, "time limit of one fresh query, connect included (3 s: one lost SYN is retried after 1 s, a second after 3 s)")
	flag.DurationVar(&o.frameEvery, "frame-every", 8*time.Second, "tcp-zero: a zero-length frame this often")
	flag.DurationVar(&o.byteEvery, "byte-every", time.Second, "tcp-slow: one byte of the query this often")
	flag.IntVar(&o.adminConns, "admin-conns", 1100, "idle keep-alive connections to the admin API (more than a 1024-fd server has)")
	flag.StringVar(&o.rewrite.file, "zone-file", "", "zone file the rewrite attack rewrites (the server must serve it)")
	flag.StringVar(&o.rewrite.origin, "zone-origin", "rewrite.test.", "origin of that zone")
	flag.IntVar(&o.rewrite.versions, "versions", 8, "rewrite: versions written")
	flag.IntVar(&o.rewrite.chunks, "chunks", 5, "rewrite: chunks per version")
	flag.IntVar(&o.rewrite.markers, "markers", 16, "rewrite: marker TXT records per version")
	flag.IntVar(&o.rewrite.filler, "filler", 2000, "rewrite: A records per version")
	flag.DurationVar(&o.rewrite.chunkPause, "chunk-pause", 40*time.Millisecond, "rewrite: pause between chunks")
	flag.DurationVar(&o.rewrite.versionHold, "version-hold", 300*time.Millisecond, "rewrite: time a whole version stays")
	flag.BoolVar(&o.rewrite.byRename, "by-rename", false, "rewrite: write each version beside the zone and rename it into place (the control)")
	flag.DurationVar(&o.rewrite.reloadEvery, "reload-every", 25*time.Millisecond, "rewrite: SIGHUP this often")
	flag.BoolVar(&header, "header", false, "print the table's header first")
	flag.StringVar(&initZone, "init-zone", "", "write the rewrite zone's first version to this file and exit")
	flag.Parse()

	if initZone != "" {
		if err := os.WriteFile(initZone, zoneText(o.rewrite.origin, 0, o.rewrite.markers, o.rewrite.filler), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "attack:", err)
			os.Exit(1)
		}
		return
	}
	if o.dnsAddr == "" || o.pid == 0 {
		fmt.Fprintln(os.Stderr, "attack: -dns and -pid are required")
		os.Exit(2)
	}
	if !loopback(o.dnsAddr) || (o.admin != "" && !loopback(o.admin)) {
		fmt.Fprintln(os.Stderr, "attack: only loopback addresses may be attacked")
		os.Exit(2)
	}
	o.prefixes = min(max(o.prefixes, 1), 200*256)
	o.ramp = max(o.ramp, 1)
	o.rewrite.serverPID, o.rewrite.dnsAddr = o.pid, o.dnsAddr
	o.rewrite.observeEvery, o.rewrite.observeDeadline = 5*time.Millisecond, time.Second

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if header {
		printHeader()
	}
	for _, a := range strings.Split(o.attacks, ",") {
		if ctx.Err() != nil {
			return
		}
		if !alive(o.pid) {
			fmt.Printf("%-6s %-9s SERVER IS GONE\n", o.name, a)
			return
		}
		run(ctx, o, strings.TrimSpace(a)).print()
	}
}

func loopback(addr string) bool {
	host := addr
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		host = strings.Trim(addr[:i], "[]")
	}
	return strings.HasPrefix(host, "127.") || host == "::1"
}

// row is one line of the table.
type row struct {
	server, attack      string
	dns, admin          probes
	adminNA             bool
	before, peak, after usage
	cpu                 float64
	partial, note       string
}

func printHeader() {
	fmt.Printf("%-6s %-9s %-9s %-13s %-7s %-16s %-15s %6s %-8s %s\n",
		"server", "attack", "fresh TCP", "lat ms med/max", "admin", "RSS MB b/peak/a", "fds b/peak/a", "CPU %", "partial", "notes")
}

func (r *row) print() {
	admin := r.admin.ratio()
	if r.adminNA {
		admin = "n/a"
	}
	mb := func(u usage) int { return (u.rssKB + 512) / 1024 }
	fmt.Printf("%-6s %-9s %-9s %-13s %-7s %-16s %-15s %6.0f %-8s %s\n", r.server, r.attack,
		r.dns.ratio(), r.dns.medianMax(), admin,
		fmt.Sprintf("%d/%d/%d", mb(r.before), mb(r.peak), mb(r.after)),
		fmt.Sprintf("%d/%d/%d", r.before.fds, r.peak.fds, r.after.fds),
		r.cpu, r.partial, r.note)
}

// run carries out one attack: samples the server before, during (peak)
// and after it, and sends the fresh queries while it holds.
func run(ctx context.Context, o options, attack string) *row {
	r := &row{server: o.name, attack: attack, partial: "-", adminNA: true}
	r.before = sample(o.pid)
	mon := startMonitor(o.pid, 250*time.Millisecond)

	attackCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	st := &holdStats{}
	holding := func(addr string, n int, s session) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hold(attackCtx, addr, n, o.prefixes, o.ramp, st, s)
		}()
		// Until every connection has been started: the hold proper.
		pause(ctx, time.Duration(n/o.ramp)*time.Second+500*time.Millisecond)
	}
	probeDNS := func() { r.dns.add(tcpProbe(o.dnsAddr, o.probeName, o.probeTimeout)) }

	switch attack {
	case "tcp-zero":
		holding(o.dnsAddr, o.conns, zeroFrames(o.frameEvery))
		every(ctx, o.probes, o.hold, probeDNS)
	case "tcp-idle":
		holding(o.dnsAddr, o.conns, idle)
		every(ctx, o.probes, o.hold, probeDNS)
	case "tcp-slow":
		holding(o.dnsAddr, o.conns, slowWriter(o.probeName, o.byteEvery))
		every(ctx, o.probes, o.hold, probeDNS)
	case "admin":
		if o.admin == "" {
			r.note = "no admin API"
			break
		}
		r.adminNA = false
		holding(o.admin, o.adminConns, keepAlive(o.admin))
		every(ctx, o.probes, o.hold, func() {
			probeDNS()
			r.admin.add(adminProbe(o.admin, o.probeTimeout))
		})
	case "rewrite":
		if o.rewrite.file == "" {
			r.note = "no -zone-file"
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			span := time.Duration(o.rewrite.versions) * (time.Duration(o.rewrite.chunks)*o.rewrite.chunkPause + o.rewrite.versionHold)
			every(ctx, o.probes, span, probeDNS)
		}()
		res := rewrite(ctx, o.rewrite)
		r.partial = fmt.Sprintf("%d of %d", res.partial, res.versions)
		if res.malformed > 0 {
			r.partial += "+mal" // cut records, not attributed to a version
		}
		r.note = res.String()
		if res.err != nil {
			r.note += "; " + res.err.Error()
		}
	default:
		r.note = "unknown attack"
	}
	cancel()
	wg.Wait()
	r.peak, r.cpu = mon.finish()
	if st.connects.Load() > 0 || st.failures.Load() > 0 {
		r.note = fmt.Sprintf("attacker: peak %d open, %d connects, %d closed by server, %d failed connects",
			st.peakOpen.Load(), st.connects.Load(), st.serverEnd.Load(), st.failures.Load())
	}
	// After: once the server has let go of the attack's connections, for
	// half a second (it may still accept the closed ones left in its
	// listen queue).
	calm := 0
	for deadline := time.Now().Add(10 * time.Second); calm < 5 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if r.after = sample(o.pid); r.after.fds <= r.before.fds+4 {
			calm++
		} else {
			calm = 0
		}
	}
	if !alive(o.pid) {
		r.note = "SERVER DIED; " + r.note
	}
	return r
}
