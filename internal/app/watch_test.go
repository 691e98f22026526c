package app

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/internal/config"
	"github.com/rs/zerolog"
)

// TestDebouncer: a burst is acted on once it has been quiet for quiet, or
// maxDelay after it began if it never is; nothing is due without events.
func TestDebouncer(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	d := debouncer{quiet: 500 * time.Millisecond, maxDelay: 5 * time.Second}
	if _, ok := d.due(); ok || d.fire(ms(10000)) {
		t.Fatal("due without an event")
	}

	d.event(ms(0))
	d.event(ms(100))
	if due, _ := d.due(); !due.Equal(ms(600)) {
		t.Errorf("due at %v, want 600 ms after the first event (quiet after the last)", due.Sub(t0))
	}
	if d.fire(ms(599)) {
		t.Error("fired before the quiet period ended")
	}
	if !d.fire(ms(600)) {
		t.Error("did not fire once quiet")
	}
	if d.fire(ms(700)) {
		t.Error("fired twice for one burst")
	}

	// Events every 100 ms for 10 s: fires at 5 s after the first, then
	// again 5 s after the next burst began.
	var fired []int
	for now := 1000; now <= 11000; now += 100 {
		if d.fire(ms(now)) {
			fired = append(fired, now)
		}
		d.event(ms(now))
	}
	if !slices.Equal(fired, []int{6000, 11000}) {
		t.Errorf("a never-quiet writer fired at %v ms, want [6000 11000]", fired)
	}
}

// watchDir makes dir/dnsrr.toml and zone files in dir/zones and dir/more.
func watchDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"dnsrr.toml", "zones/a.toml", "zones/b.toml", "more/m.zone", "elsewhere/real.zone"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(dir, "elsewhere", "real.zone"), filepath.Join(dir, "more", "link.zone")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestWatchSet: the directories of the configuration, of each zone file
// (as given and through links) and of each glob are watched, the
// configuration's first; events count for watched files, for new files
// matching a glob, and for anything beside a link.
func TestWatchSet(t *testing.T) {
	dir := watchDir(t)
	spec := watchSpec{configFile: filepath.Join(dir, "dnsrr.toml"), dir: dir, zones: []string{"zones/*.toml", "more/m.zone", "more/link.zone"}}
	set := buildWatchSet(spec, 10)
	want := []string{dir, filepath.Join(dir, "elsewhere"), filepath.Join(dir, "more"), filepath.Join(dir, "zones")}
	if !slices.Equal(set.dirs, want) {
		t.Errorf("dirs %v, want %v", set.dirs, want)
	}
	for path, relevant := range map[string]bool{
		"dnsrr.toml":           true,
		"zones/a.toml":         true,
		"zones/new.toml":       true, // matches the glob
		"zones/.a.toml.swp":    false,
		"zones/a.toml.tmp":     false,
		"zones/4913":           false, // vim's probe file
		"more/m.zone":          true,
		"more/..data":          true, // beside a link: a ConfigMap swap
		"elsewhere/real.zone":  true, // the link's target
		"elsewhere/other.zone": false,
		"other.toml":           false,
	} {
		if got := set.relevant(filepath.Join(dir, path)); got != relevant {
			t.Errorf("relevant(%s) = %v, want %v", path, got, relevant)
		}
	}

	set = buildWatchSet(spec, 2)
	if len(set.dirs) != 2 || set.dirs[0] != dir || set.dropped != 2 {
		t.Errorf("max_dirs 2: dirs %v, dropped %d; want the configuration's and one more, 2 dropped", set.dirs, set.dropped)
	}
}

// TestFingerprint: a file replaced with the same content, touched, or a
// new file matching a glob changes the fingerprint; nothing else does.
func TestFingerprint(t *testing.T) {
	dir := watchDir(t)
	spec := watchSpec{configFile: filepath.Join(dir, "dnsrr.toml"), dir: dir, zones: []string{"zones/*.toml"}}
	base := fingerprint(spec)
	if again := fingerprint(spec); again != base {
		t.Fatal("fingerprint differs with nothing changed")
	}
	a := filepath.Join(dir, "zones", "a.toml")
	tmp := a + ".tmp"
	if err := os.WriteFile(tmp, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fingerprint(spec) != base {
		t.Error("a file outside the glob changed the fingerprint")
	}
	// Same size, content and (on a coarse clock) time: the inode differs.
	if err := os.Rename(tmp, a); err != nil {
		t.Fatal(err)
	}
	now := fingerprint(spec)
	if now == base {
		t.Error("replacing a file by rename did not change the fingerprint")
	}
	if got := changedFiles(base, now); !slices.Equal(got, []string{a}) {
		t.Errorf("changed %v, want [%s]", got, a)
	}
	if err := os.Chtimes(a, time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if fingerprint(spec) == now {
		t.Error("a new modification time did not change the fingerprint")
	}
	now = fingerprint(spec)
	c := filepath.Join(dir, "zones", "c.toml")
	if err := os.WriteFile(c, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := changedFiles(now, fingerprint(spec)); !slices.Equal(got, []string{c}) {
		t.Errorf("a new file matching the glob: changed %v, want [%s]", got, c)
	}
}

// TestWatcherRequestsReload: a change the watcher sees becomes one reload
// request; none is queued while one waits; reloading records the files
// as the reload reads them, so no request follows for that change.
func TestWatcherRequestsReload(t *testing.T) {
	dir := watchDir(t)
	cfg := config.Default()
	cfg.File = filepath.Join(dir, "dnsrr.toml")
	cfg.Zones = []string{"zones/*.toml"}
	cfg.Watch.Enabled, cfg.Watch.Quiet = true, 10*time.Millisecond
	reload := make(chan struct{}, 1)
	w, err := startWatcher(cfg, reload, zerolog.New(zerolog.NewTestWriter(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer w.stop()

	w.check()
	if len(reload) != 0 {
		t.Fatal("a reload requested with nothing changed")
	}
	if err := os.WriteFile(filepath.Join(dir, "zones", "a.toml"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.check()
	w.check()
	if len(reload) != 1 {
		t.Fatalf("%d requests queued after one change, want 1", len(reload))
	}
	<-reload
	if err := os.WriteFile(filepath.Join(dir, "zones", "b.toml"), []byte("changed too"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.reloading(cfg) // a SIGHUP reload read the files
	w.check()
	if len(reload) != 0 {
		t.Error("a change a reload already read requested another")
	}
}

// TestWatchFilesFollowsConfig: a reload that turns [watch] off stops the
// watch, one that turns it on starts it, and a stopped context starts none.
func TestWatchFilesFollowsConfig(t *testing.T) {
	dir := watchDir(t)
	a := &App{log: zerolog.New(zerolog.NewTestWriter(t)), watchReloads: make(chan struct{}, 1)}
	defer a.stopWatching()
	cfg := config.Default()
	cfg.File = filepath.Join(dir, "dnsrr.toml")
	cfg.Zones = []string{"zones/*.toml"}
	ctx, cancel := context.WithCancel(context.Background())
	for _, on := range []bool{true, true, false, true} {
		cfg.Watch.Enabled = on
		a.watchFiles(ctx, cfg)
		if (a.watch != nil) != on {
			t.Fatalf("[watch] enabled = %v: watching %v", on, a.watch != nil)
		}
	}
	a.stopWatching()
	cancel()
	a.watchFiles(ctx, cfg)
	if a.watch != nil {
		t.Error("a watch started after shutdown began")
	}
}
