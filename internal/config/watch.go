package config

import (
	"time"

	"github.com/dnsrr/dnsrr/zones/tomlfile"
)

// Watch is the [watch] table: reload when the configuration or a zone
// file changes, as SIGHUP does (README, "Automatic reload").
type Watch struct {
	Enabled bool
	// Quiet is how long the files must go without a change before the
	// reload starts; MaxDelay bounds the wait while they keep changing.
	Quiet    time.Duration
	MaxDelay time.Duration
	// MaxDirs bounds the directories watched (one inotify watch each).
	MaxDirs int
}

// defaultWatch: off. When on, 500 ms of quiet outlasts an editor's save
// (write, rename, chmod) and a script copying a few files; 5 s bounds the
// wait behind a writer that never pauses. 256 directories hold any sane
// layout of zone files and are a small share of the kernel's per-user
// inotify watches (fs.inotify.max_user_watches, 8192 at least).
var defaultWatch = Watch{Quiet: 500 * time.Millisecond, MaxDelay: 5 * time.Second, MaxDirs: 256}

// readWatch reads the [watch] table into c.Watch.
func readWatch(root *tomlfile.Table, c *Config) {
	t, ok := root.Table("watch")
	if !ok {
		return
	}
	if v, ok := t.Bool("enabled"); ok {
		c.Watch.Enabled = v
	}
	if d, ok := t.Duration("quiet", 10*time.Millisecond, time.Minute); ok {
		c.Watch.Quiet = d
	}
	if d, ok := t.Duration("max_delay", 10*time.Millisecond, 10*time.Minute); ok {
		c.Watch.MaxDelay = d
	}
	if c.Watch.MaxDelay < c.Watch.Quiet {
		t.Errorf("max_delay", "%v is shorter than quiet (%v): it bounds the wait for quiet", c.Watch.MaxDelay, c.Watch.Quiet)
	}
	if n, ok := t.Int("max_dirs", 1, 65536); ok {
		c.Watch.MaxDirs = int(n)
	}
	t.Done()
}
