package healthprobe

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

// TestDrain: a drained address leaves service on all its targets though
// healthy, keeps being probed, and comes back on Undrain.
func TestDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet()
		f.set(addrA, true)
		f.set(addrB, true)
		a80 := Target{addrA, fakeCheck()}
		c443 := fakeCheck()
		c443.Port = 443
		a443 := Target{addrA, c443}
		b := Target{addrB, fakeCheck()}
		p, logs := startFake(t, Options{}, f, a80, a443, b)
		if err := p.FirstRound(t.Context()); err != nil {
			t.Fatal(err)
		}
		drainChanges(p)

		if err := p.Drain(addrA, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if !drainChanges(p) {
			t.Error("no Changes signal after Drain")
		}
		v := p.View()
		for _, tg := range []Target{a80, a443} {
			st, _ := v.Status(tg.Key())
			if !st.Drained || st.State != Up || v.Serving(tg.Key()) {
				t.Errorf("%s: drained=%v state=%s serving=%v, want drained, up, not served", tg.Key(), st.Drained, st.State, v.Serving(tg.Key()))
			}
		}
		if !v.Serving(b.Key()) {
			t.Error("draining A withdrew B")
		}
		if until, ok := v.Drained(addrA); !ok || !until.IsZero() {
			t.Errorf("View.Drained(A) = %v, %v", until, ok)
		}
		n := f.count(addrA)
		time.Sleep(5 * time.Second)
		if f.count(addrA) <= n {
			t.Error("a drained address is no longer probed")
		}

		// An address with no check can be drained too.
		if err := p.Drain(addrC, time.Time{}); err != nil {
			t.Fatal(err)
		}
		var drained []string
		for a := range p.View().Drains() {
			drained = append(drained, a.String())
		}
		if strings.Join(drained, " ") != "192.0.2.1 2001:db8::3" {
			t.Errorf("Drains() = %v", drained)
		}

		if err := p.Undrain(addrA); err != nil {
			t.Fatal(err)
		}
		if !p.View().Serving(a80.Key()) || !p.View().Serving(a443.Key()) {
			t.Error("undrained target not served")
		}
		if err := p.Undrain(addrA); !errors.Is(err, ErrNotDrained) {
			t.Errorf("second Undrain: %v, want ErrNotDrained", err)
		}
		if err := p.Drain(addrA, time.Now().Add(-time.Second)); err == nil {
			t.Error("a drain expiring in the past was accepted")
		}
		if logs.count(`"message":"address drained"`, `"target":"192.0.2.1"`) != 1 ||
			logs.count(`"message":"address undrained"`, `"target":"192.0.2.1"`) != 1 {
			t.Error("drain changes not logged")
		}
	})
}

// TestDrainExpiry: a drain with an expiry ends by itself, publishing a new
// View, signalling Changes and rewriting the state file.
func TestDrainExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "state.json")
		f := newFakeNet()
		f.set(addrA, true)
		tg := Target{addrA, fakeCheck()}
		p, logs := startFake(t, Options{StateFile: file}, f, tg)
		if err := p.FirstRound(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := p.Drain(addrA, time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := p.Drain(addrB, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		drainChanges(p)
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if p.View().Serving(tg.Key()) {
			t.Fatal("drain ended early")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if !p.View().Serving(tg.Key()) {
			t.Fatal("drain did not expire")
		}
		if !drainChanges(p) {
			t.Error("no Changes signal at expiry")
		}
		if _, ok := p.View().Drained(addrB); !ok {
			t.Error("the later drain expired too")
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "192.0.2.1") || !strings.Contains(string(b), "192.0.2.2") {
			t.Errorf("state file after expiry:\n%s", b)
		}
		if logs.count(`"message":"drain expired"`, `"target":"192.0.2.1"`) != 1 {
			t.Error("expiry not logged")
		}
	})
}

// TestDrainPersistence: drains survive a restart; expired ones do not; a
// missing file is empty and a corrupt one an error naming it.
func TestDrainPersistence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "state.json")
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }

	p, err := New(Options{StateFile: file, Now: clock}, zerolog.Nop())
	if err != nil {
		t.Fatalf("missing state file: %v", err)
	}
	if n := countDrains(p.View()); n != 0 {
		t.Fatalf("%d drains from a missing file", n)
	}
	until := now.Add(time.Hour)
	for _, err := range []error{
		p.Drain(addrA, time.Time{}),
		p.Drain(addrB, until),
		p.Drain(addrC, now.Add(time.Minute)),
		p.Drain(netip4in6(addrB), until), // same address as B
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want only the state file (no temporary left)", len(entries))
	}

	// Restart two minutes later: C's drain has expired meanwhile.
	now = now.Add(2 * time.Minute)
	p2, err := New(Options{StateFile: file, Now: clock}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	v := p2.View()
	if u, ok := v.Drained(addrA); !ok || !u.IsZero() {
		t.Errorf("A after restart: %v %v, want drained without expiry", u, ok)
	}
	if u, ok := v.Drained(addrB); !ok || !u.Equal(until) {
		t.Errorf("B after restart: %v %v, want drained until %v", u, ok, until)
	}
	if _, ok := v.Drained(addrC); ok {
		t.Error("an expired drain came back after restart")
	}
	if n := countDrains(v); n != 2 {
		t.Errorf("%d drains after restart, want 2", n)
	}
	if err := p2.Undrain(addrA); err != nil {
		t.Fatal(err)
	}
	p3, err := New(Options{StateFile: file, Now: clock}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p3.View().Drained(addrA); ok {
		t.Error("undrain was not persisted")
	}

	for name, content := range map[string]string{
		"garbage":     "{not json",
		"empty":       "",
		"version":     `{"version": 2, "drains": []}`,
		"unknown key": `{"version": 1, "drains": [], "extra": 1}`,
		"bad address": `{"version": 1, "drains": [{"addr": "192.0.2.300"}]}`,
		"no address":  `{"version": 1, "drains": [{}]}`,
	} {
		bad := filepath.Join(dir, "bad.json")
		if err := os.WriteFile(bad, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := New(Options{StateFile: bad}, zerolog.Nop())
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s: %v, want an error naming %s", name, err, bad)
		}
	}

	// A failed write changes nothing.
	ro := filepath.Join(dir, "missing-dir", "state.json")
	p4, err := New(Options{StateFile: ro, Now: clock}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := p4.Drain(addrA, time.Time{}); err == nil {
		t.Error("Drain succeeded though the state file cannot be written")
	}
	if _, ok := p4.View().Drained(addrA); ok {
		t.Error("a drain that could not be persisted took effect")
	}
}

func countDrains(v *View) int {
	n := 0
	for range v.Drains() {
		n++
	}
	return n
}

func netip4in6(a netip.Addr) netip.Addr { return netip.AddrFrom16(a.As16()) }
