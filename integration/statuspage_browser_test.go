package integration

// The status page in a real browser: Debian's chromium-headless-shell (or
// chromium), driven over the DevTools protocol by chromedp, reading what a
// person sees.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/miekg/dns"
)

// browserPath finds a headless Chromium: .ci/run installs
// chromium-headless-shell.
func browserPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium-headless-shell", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	why := "no headless Chromium on PATH (apt-get install chromium-headless-shell)"
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
	return ""
}

// newBrowser starts a browser that can reach loopback only, in a profile of
// its own, and returns a tab's context. The cleanup closes the browser and
// waits for it.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browserPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox, // root in CI has no user namespace for it
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// Nothing but the pages the test opens: no updates, sync, metrics,
		// QUIC, proxy lookups, and no name resolved (the test uses IP
		// literals), so nothing can leave the machine.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// Start the browser now, under a bound: a broken install fails here.
	// The first action runs on ctx itself, not on a context with a
	// deadline: the browser lives as long as the context of that action.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx, chromedp.Navigate("about:blank")) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start the browser: %v", err)
		}
	case <-time.After(readyWait):
		cancelTab()
		cancelAlloc()
		<-started
		t.Fatalf("the browser did not start within %v", readyWait)
	}
	return ctx
}

// visibleText is the text a person sees in the first element sel matches,
// bounded in time (the page may be between two of its reloads).
func visibleText(ctx context.Context, sel string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
}

func evaluate[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// screenshot saves the whole page as a PNG under the system's temp
// directory, for a person to judge.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100) /* 100: PNG */)
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	p := filepath.Join(os.TempDir(), name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s (%d bytes)", p, len(png))
}

// TestStatusPageBrowser: a person with the page open sees a member of a
// pool up and served; its backend stops; the page, reloading itself, comes
// to show it down and not served, with the reason, while DNS withdraws it.
// On a phone-sized screen the page needs no sideways scrolling: its tables
// become cards.
func TestStatusPageBrowser(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.backend(1, kindTCP, nil, nil)
	b2 := l.backend(2, kindTCP, nil, nil)
	const org = "browser.status.test."
	zone := checkTOML("conn", "tcp", l.port, fast+"fall = 2\nrise = 2") +
		poolTOML("www", l.ips(1, 2), `check = "conn"`) +
		poolTOML("a-rather-long-pool-name-that-a-phone-must-wrap.of-some-depth", []string{"2001:db8:ffff:ffff:ffff:ffff:ffff:1", "192.0.2.1"}, "")
	s, adm, _ := startHealthServer(t, org, zone, "", "")
	www, dnsAddr := "www."+org, s.addr("4")
	wantDNS(t, dnsAddr, www, dns.TypeA, served(l.ips(1, 2)...))

	ctx := newBrowser(t)
	row := `section[data-pool="` + www + `"] tr[data-member="` + l.ip(2) + `"]`
	nctx, cancel := context.WithTimeout(ctx, readyWait)
	err := chromedp.Do(nctx, chromedp.Navigate(adm.base+"/?refresh=1"))
	cancel()
	if err != nil {
		t.Fatalf("open the page: %v", err)
	}
	text, err := visibleText(ctx, row)
	if err != nil {
		t.Fatalf("the member's row: %v", err)
	}
	t.Logf("before: %q", text)
	if !strings.Contains(text, "up") || !strings.Contains(text, "served") || strings.Contains(text, "not served") {
		t.Errorf("member %s before its backend stops reads %q, want up and served", l.ip(2), text)
	}

	b2.stop()
	deadline := time.Now().Add(readyWait)
	for {
		text, err = visibleText(ctx, row)
		if err == nil && strings.Contains(text, "down") && strings.Contains(text, "not served") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("member %s still reads %q (%v) %v after its backend stopped, want down and not served", l.ip(2), text, err, readyWait)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("after: %q", text)
	if !strings.Contains(text, "connection refused") {
		t.Errorf("the down member's row %q does not give the reason (connection refused)", text)
	}
	if head, err := visibleText(ctx, `section[data-pool="`+www+`"] h3`); err != nil || !strings.Contains(head, "1 of 2 served") {
		t.Errorf("the pool's heading reads %q (%v), want 1 of 2 served", head, err)
	}
	wantDNS(t, dnsAddr, www, dns.TypeA, served(l.ip(1)))

	// The page as a phone shows it, without reloads that would replace the
	// document under the checks.
	pctx, cancel := context.WithTimeout(ctx, readyWait)
	err = chromedp.Do(pctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.Navigate(adm.base+"/?refresh=0"),
		chromedp.WaitVisible(chromedp.CSS(row)))
	cancel()
	if err != nil {
		t.Fatalf("open the page on a phone-sized screen: %v", err)
	}
	if w := evaluate[float64](t, ctx, `document.documentElement.clientWidth`); w != 390 {
		t.Errorf("viewport %v CSS pixels wide, want 390 (emulation failed?)", w)
	}
	if sw, cw := evaluate[float64](t, ctx, `document.documentElement.scrollWidth`), evaluate[float64](t, ctx, `document.documentElement.clientWidth`); sw > cw {
		t.Errorf("on a 390-pixel screen the page is %v pixels wide: it scrolls sideways", sw)
	}
	// The style sheet applied (the Content-Security-Policy let it in): the
	// tables are cards, labelled, in a readable font.
	if d := evaluate[string](t, ctx, `getComputedStyle(document.querySelector("table.cards thead")).display`); d != "none" {
		t.Errorf("table heads on a phone: display %q, want none (cards)", d)
	}
	if label := evaluate[string](t, ctx, `getComputedStyle(document.querySelector("td[data-label]"), "::before").content`); label != `"Zone"` {
		t.Errorf("card label: %s, want \"Zone\"", label)
	}
	if px := evaluate[float64](t, ctx, `parseFloat(getComputedStyle(document.body).fontSize)`); px < 16 {
		t.Errorf("body font %v px on a phone, want at least 16", px)
	}
	text, err = visibleText(ctx, row)
	if err != nil || !strings.Contains(text, "down") || !strings.Contains(text, "not served") {
		t.Errorf("member %s on a phone reads %q (%v), want down and not served", l.ip(2), text, err)
	}
	screenshot(t, ctx, "dnsrr-statuspage-phone.png")

	dctx, cancel := context.WithTimeout(ctx, readyWait)
	err = chromedp.Do(dctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(adm.base+"/?refresh=0"), chromedp.WaitVisible(chromedp.CSS(row)))
	cancel()
	if err != nil {
		t.Fatalf("open the page on a desktop-sized screen: %v", err)
	}
	if sw := evaluate[float64](t, ctx, `document.documentElement.scrollWidth`); sw > 1280 {
		t.Errorf("on a 1280-pixel screen the page is %v pixels wide", sw)
	}
	screenshot(t, ctx, "dnsrr-statuspage-desktop.png")
	// On a narrow desktop window (above the phone's 44rem), the down
	// member's long last error must not squeeze its address, its "since" or
	// "not served" into broken words ("127.0.0." over "2"), nor the zone's
	// file name its name and load time.
	nctx, cancel = context.WithTimeout(ctx, readyWait)
	err = chromedp.Do(nctx, chromedp.EmulateViewport(800, 900), chromedp.Navigate(adm.base+"/?refresh=0"), chromedp.WaitVisible(chromedp.CSS(row)))
	cancel()
	if err != nil {
		t.Fatalf("open the page on an 800-pixel screen: %v", err)
	}
	zoneRow := `tr:has(td[data-label="Zone"])`
	for _, cell := range []string{row + ` td[data-label="Member"]`, row + ` td[data-label="Since"]`, row + ` td[data-label="DNS"]`,
		zoneRow + ` td[data-label="Zone"]`, zoneRow + ` td[data-label="Loaded"]`} {
		lines := evaluate[float64](t, ctx, `(() => { const r = document.createRange(); r.selectNodeContents(document.querySelector(`+strconv.Quote(cell)+`)); return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; })()`)
		if lines != 1 {
			text, _ := visibleText(ctx, cell)
			t.Errorf("on an 800-pixel screen %s (%q) takes %v lines, want 1", cell, text, lines)
		}
	}
	if sw := evaluate[float64](t, ctx, `document.documentElement.scrollWidth`); sw > 800 {
		t.Errorf("on an 800-pixel screen the page is %v pixels wide", sw)
	}
}
