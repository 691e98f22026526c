package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dnsrr/dnsrr/internal/config"
	"github.com/dnsrr/dnsrr/zones"
	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"
)

// With [watch] enabled, a change to the configuration or to a zone file
// reloads as SIGHUP does: the request goes to the same reload goroutine
// (reloadOnRequest), so every rule of a reload holds (all or nothing per
// zone, the budget, one reload at a time).
//
// Directories are watched, not files: editors and deploy tools replace a
// file by writing a new one and renaming it over the old (vim, rsync,
// `mv`), or delete and create it, and a watch on the old file's inode
// sees none of that. Kubernetes ConfigMaps swap a "..data" symbolic link
// in the file's directory; a directory holding a symbolic link of interest
// therefore counts every event, and the directory the link resolves to is
// watched too.
//
// Events only wake the watcher: once the files have been quiet for
// [watch] quiet (or changing for max_delay), it compares what they are
// now (the zone list after globbing, and for each file its size,
// modification time and inode, through symbolic links) with what the last
// reload read, and asks for a reload only if they differ. So an editor's
// swap file, a chmod or a burst of writes costs at most a few stats, and a
// burst makes one reload, not one per write. A file written in place in
// chunks is caught by the loader itself (zones.DefaultSettle), and a
// broken version fails that zone's reload and keeps it as it was.

// watcher turns file changes into reload requests.
type watcher struct {
	log    zerolog.Logger
	fs     *fsnotify.Watcher
	reload chan<- struct{}
	done   chan struct{}

	mu sync.Mutex
	// settings and spec come from the configuration last read; last is
	// what the files were when the last reload read them (or when the
	// watcher last asked for one).
	settings config.Watch
	spec     watchSpec
	set      watchSet
	last     string
	d        debouncer
}

// watchSpec is what a configuration says to watch.
type watchSpec struct {
	configFile string   // "" without one
	dir        string   // zone patterns are relative to it
	zones      []string // names and glob patterns, as configured
}

func specOf(cfg *config.Config) watchSpec {
	s := watchSpec{configFile: cfg.File, zones: slices.Clone(cfg.Zones)}
	if cfg.File != "" {
		s.dir = filepath.Dir(cfg.File)
	}
	return s
}

// watchSet is what the watcher listens to, worked out from a spec and the
// file system as it is.
type watchSet struct {
	files    map[string]bool // cleaned absolute paths, as given and resolved
	patterns []string        // absolute glob patterns of zone files
	anyIn    map[string]bool // directories in which every event counts
	dirs     []string        // watched, at most [watch] max_dirs
	dropped  int             // directories over max_dirs, not watched
}

// startWatcher watches what cfg names and sends on reload when it changes
// (never blocking: reload holds one request), until stop.
func startWatcher(cfg *config.Config, reload chan<- struct{}, log zerolog.Logger) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		if errors.Is(err, syscall.EMFILE) {
			err = fmt.Errorf("%w (the per-user limit of inotify instances, sysctl fs.inotify.max_user_instances)", err)
		}
		return nil, err
	}
	w := &watcher{log: log.With().Str("component", "watch").Logger(), fs: fw, reload: reload, done: make(chan struct{})}
	w.reloading(cfg)
	return w, nil
}

// reloading is called with each configuration a reload read, before it
// reads the zones: it records what the files are now (so a change from
// here on makes another reload) and follows the new lists of files.
func (w *watcher) reloading(cfg *config.Config) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.settings = cfg.Watch
	w.d.quiet, w.d.maxDelay = cfg.Watch.Quiet, cfg.Watch.MaxDelay
	w.spec = specOf(cfg)
	w.last = fingerprint(w.spec)
	w.follow()
}

// follow watches the directories of w.spec's files as they are now,
// dropping those no longer needed. Called with w.mu held.
func (w *watcher) follow() {
	set := buildWatchSet(w.spec, w.settings.MaxDirs)
	if set.dropped > 0 && set.dropped != w.set.dropped {
		w.log.Warn().Int("watched", len(set.dirs)).Int("not_watched", set.dropped).Int("max_dirs", w.settings.MaxDirs).
			Msg("zone files are in more directories than [watch] max_dirs: changes in the others need SIGHUP")
	}
	for _, d := range w.set.dirs {
		if !slices.Contains(set.dirs, d) {
			_ = w.fs.Remove(d)
		}
	}
	var failed []string
	for _, d := range set.dirs {
		if slices.Contains(w.set.dirs, d) && slices.Contains(w.fs.WatchList(), d) {
			continue
		}
		if err := w.fs.Add(d); err != nil {
			failed = append(failed, d+": "+err.Error())
		}
	}
	if len(failed) > 0 {
		w.log.Warn().Strs("errors", failed).Msg("cannot watch some directories: changes there need SIGHUP")
	}
	w.set = set
}

// buildWatchSet works out what to watch for s, at most maxDirs
// directories (the configuration's first, then sorted).
func buildWatchSet(s watchSpec, maxDirs int) watchSet {
	set := watchSet{files: map[string]bool{}, anyIn: map[string]bool{}}
	dirs := map[string]bool{}
	addFile := func(p string) {
		p = absPath(p)
		set.files[p] = true
		dirs[filepath.Dir(p)] = true
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			set.anyIn[filepath.Dir(p)] = true
		}
		if r, err := filepath.EvalSymlinks(p); err == nil && r != p {
			r = absPath(r)
			set.files[r] = true
			dirs[filepath.Dir(r)] = true
		}
	}
	if s.configFile != "" {
		addFile(s.configFile)
	}
	for _, p := range s.zones {
		if !filepath.IsAbs(p) && s.dir != "" {
			p = filepath.Join(s.dir, p)
		}
		p = absPath(p)
		if strings.ContainsAny(p, `*?[\`) {
			set.patterns = append(set.patterns, p)
			if dir := filepath.Dir(p); !strings.ContainsAny(dir, `*?[\`) {
				dirs[dir] = true // a new file matching the pattern
			}
			continue
		}
		addFile(p)
	}
	if files, err := zones.Expand(s.dir, s.zones); err == nil {
		for _, f := range files {
			addFile(f)
		}
	}
	var first string
	if s.configFile != "" {
		first = filepath.Dir(absPath(s.configFile))
	}
	for d := range dirs {
		if d != first {
			set.dirs = append(set.dirs, d)
		}
	}
	slices.Sort(set.dirs)
	if first != "" {
		set.dirs = append([]string{first}, set.dirs...)
	}
	if len(set.dirs) > maxDirs {
		set.dropped = len(set.dirs) - maxDirs
		set.dirs = set.dirs[:maxDirs]
	}
	return set
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// relevant reports whether an event on path may concern a watched file.
func (s *watchSet) relevant(path string) bool {
	path = filepath.Clean(path)
	if s.files[path] || s.anyIn[filepath.Dir(path)] {
		return true
	}
	for _, p := range s.patterns {
		if ok, _ := filepath.Match(p, path); ok {
			return true
		}
	}
	return false
}

// fingerprint is what s's files are now: the zone list and, for each file,
// its identity, size and modification time (through symbolic links).
func fingerprint(s watchSpec) string {
	var b strings.Builder
	files, err := zones.Expand(s.dir, s.zones)
	if err != nil {
		fmt.Fprintf(&b, "zones: %v\n", err)
	}
	if s.configFile != "" {
		files = append([]string{s.configFile}, files...)
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", f, err)
			continue
		}
		var ino, dev uint64
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ino, dev = uint64(st.Ino), uint64(st.Dev)
		}
		fmt.Fprintf(&b, "%s %d %d %d %d %v\n", f, fi.Size(), fi.ModTime().UnixNano(), ino, dev, fi.Mode())
	}
	return b.String()
}

// changedFiles lists the files whose lines differ between two
// fingerprints, for the log.
func changedFiles(was, now string) []string {
	old := map[string]bool{}
	for l := range strings.Lines(was) {
		old[l] = true
	}
	var out []string
	for l := range strings.Lines(now) {
		if !old[l] {
			name, _, _ := strings.Cut(strings.TrimSuffix(l, "\n"), " ")
			out = append(out, strings.TrimSuffix(name, ":"))
		}
		delete(old, l)
	}
	for l := range old {
		name, _, _ := strings.Cut(strings.TrimSuffix(l, "\n"), " ")
		if name = strings.TrimSuffix(name, ":"); !slices.Contains(out, name) {
			out = append(out, name) // gone from the zone list
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// run handles events until ctx ends.
func (w *watcher) run(ctx context.Context) {
	defer close(w.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	wake := func() {
		w.mu.Lock()
		now := time.Now()
		w.d.event(now)
		due, _ := w.d.due()
		w.mu.Unlock()
		timer.Reset(due.Sub(now))
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			w.mu.Lock()
			relevant := w.set.relevant(ev.Name)
			w.mu.Unlock()
			if relevant {
				wake()
			}
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			// An overflowed event queue lost events: look at the files.
			w.log.Warn().Err(err).Msg("file watch error")
			wake()
		case <-timer.C:
			w.mu.Lock()
			fire := w.d.fire(time.Now())
			due, pending := w.d.due()
			w.mu.Unlock()
			if fire {
				w.check()
			} else if pending {
				timer.Reset(time.Until(due))
			}
		}
	}
}

// check asks for a reload if the files changed since the last one read
// them, and follows the files as they are now (a new symbolic link target).
func (w *watcher) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := fingerprint(w.spec)
	w.follow()
	if now == w.last {
		return
	}
	changed := changedFiles(w.last, now)
	w.last = now
	w.log.Info().Strs("files", changed).Msg("files changed: reloading")
	select {
	case w.reload <- struct{}{}:
	default: // a request is already waiting
	}
}

// stop ends the watch; run must have ended (its context) or never started.
func (w *watcher) stop() { w.fs.Close() }

// debouncer turns a burst of events into one action: due once no event
// came for quiet, or maxDelay after the first event of the burst if they
// keep coming. The caller supplies the clock.
type debouncer struct {
	quiet, maxDelay time.Duration
	first, last     time.Time // of the pending burst; first is zero when none
}

// event records an event at now.
func (d *debouncer) event(now time.Time) {
	if d.first.IsZero() {
		d.first = now
	}
	d.last = now
}

// due returns when the pending burst is to be acted on, or false if none
// is pending.
func (d *debouncer) due() (time.Time, bool) {
	if d.first.IsZero() {
		return time.Time{}, false
	}
	t := d.last.Add(d.quiet)
	if limit := d.first.Add(d.maxDelay); limit.Before(t) {
		t = limit
	}
	return t, true
}

// fire reports whether the pending burst is due at now, and if so ends it.
func (d *debouncer) fire(now time.Time) bool {
	due, ok := d.due()
	if !ok || now.Before(due) {
		return false
	}
	d.first, d.last = time.Time{}, time.Time{}
	return true
}

// watchFiles starts, follows or stops the file watch as cfg's [watch]
// asks: at startup before the first load, then with each configuration a
// reload reads.
func (a *App) watchFiles(ctx context.Context, cfg *config.Config) {
	a.watchMu.Lock()
	defer a.watchMu.Unlock()
	if ctx.Err() != nil {
		return // shutting down: close stops the watch, none starts
	}
	switch {
	case a.watch != nil && cfg.Watch.Enabled:
		a.watch.w.reloading(cfg)
	case a.watch != nil:
		a.stopWatchingLocked()
		a.log.Info().Msg("file watch stopped")
	case cfg.Watch.Enabled:
		w, err := startWatcher(cfg, a.watchReloads, a.log)
		if err != nil {
			a.log.Error().Err(err).Msg("cannot watch files: reload with SIGHUP")
			return
		}
		wctx, cancel := context.WithCancel(ctx)
		go w.run(wctx)
		a.watch = &watching{w: w, cancel: cancel}
		a.log.Info().Strs("dirs", w.set.dirs).Str("quiet", cfg.Watch.Quiet.String()).
			Str("max_delay", cfg.Watch.MaxDelay.String()).Msg("watching files")
	}
}

// watching is a running watcher and how to stop it.
type watching struct {
	w      *watcher
	cancel context.CancelFunc
}

// stopWatching ends the file watch, if any, and waits for its goroutine.
func (a *App) stopWatching() {
	a.watchMu.Lock()
	defer a.watchMu.Unlock()
	a.stopWatchingLocked()
}

func (a *App) stopWatchingLocked() {
	if a.watch == nil {
		return
	}
	a.watch.cancel()
	<-a.watch.w.done
	a.watch.w.stop()
	a.watch = nil
}
