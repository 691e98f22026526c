package zones

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dnsrr/dnsrr/zones/tomlfile"
)

// Error is one problem in a zone or configuration file.
type Error = tomlfile.Error

// Errors splits an error returned by Load into its individual problems.
func Errors(err error) []error { return tomlfile.Flatten(err) }

// IsTOML reports whether a zone file is in dnsrr's TOML format (by its
// name); every other file is read as an RFC 1035 master file.
func IsTOML(path string) bool { return strings.EqualFold(filepath.Ext(path), ".toml") }

// Load is Loader.Load without checks from the configuration.
func Load(files []string) (*Snapshot, error) { return Loader{}.Load(files) }

// Reload is Load for a running server: see Loader.Reload.
func Reload(files []string, old *Snapshot) (*Snapshot, error) { return Loader{}.Reload(files, old) }

// Loader loads zones with settings that come from outside the zone files.
type Loader struct {
	// Checks are health checks defined in the configuration, which pools
	// may name as well as those of their own file.
	Checks map[string]*Check
	// Pools are the configuration's policies for pools of master files,
	// by name (lower-case, fully qualified).
	Pools map[string]*PoolPolicy
	// Stop, when set, is asked every few hundred records, and between
	// files, whether the load must stop, with the file being read. Once it
	// returns an error it must keep returning it: the load then fails with
	// that error at that file, and nothing it read is kept. It is how the
	// caller bounds a load's time and memory (internal/app).
	Stop func(file string) error
	// Limits bound what each file may cost; zero fields take defaults.
	Limits Limits
	// Settle, when above zero, is how long a file must have gone
	// unchanged before it is applied: a load waits (at most Settle) for a
	// file modified more recently, then looks at it again. Files written
	// in place in chunks are caught between two chunks even when the load
	// is quicker than the writer's pauses. DefaultSettle suits servers;
	// tests and `dnsrr check` have no writer to wait for.
	Settle time.Duration
	// SerialsMustRise makes a reload refuse a file whose zone's content
	// changed while its SOA serial did not rise (RFC 1982): the zone keeps
	// its old version, and the error says to raise the serial. Set when
	// secondaries copy the zones by transfer: they compare serials only,
	// and would keep the old content for good.
	SerialsMustRise bool
}

// DefaultSettle is the Settle of a running server's reloads: longer than
// the pauses of a program writing a file in chunks, short beside a reload.
const DefaultSettle = 300 * time.Millisecond

// Load reads every zone file and returns one validated Snapshot, or every
// problem found in any of them. Nothing partial is ever returned.
func (l Loader) Load(files []string) (*Snapshot, error) {
	snap, err := l.load(files, nil, foreground())
	if err != nil {
		return nil, err
	}
	return snap, nil
}

// Reload is Load for a running server: a file that fails to load keeps the
// zone that old loaded from it, whole, so one bad edit takes down neither
// its own zone nor the others. It returns the new snapshot with the
// problems (nil if none); a broken file that old did not serve is left out.
// It loads in the background (see pace): slower than Load, but the
// server's threads answering queries come first.
func (l Loader) Reload(files []string, old *Snapshot) (snap *Snapshot, err error) {
	inBackground(func(p pace) { snap, err = l.load(files, old, p) })
	return snap, err
}

func (l Loader) load(files []string, old *Snapshot, p pace) (*Snapshot, error) {
	errs := &tomlfile.List{}
	var list []*Zone
	origins := map[string]string{} // origin -> file
	p.stop = l.Stop
	loaded, err := l.loadFiles(files, l.Limits.WithDefaults(), p)
	if err != nil {
		return nil, err
	}
	l.unmatchedPolicies(loaded, errs)
	for i, lf := range loaded {
		f := files[i]
		z := lf.zone
		if lf.origin != "" {
			if prev, dup := origins[lf.origin]; dup {
				lf.errs.Add(f, lf.line(), "", "zone %s is already loaded from %s", lf.origin, prev)
				z = nil
			} else {
				lf.errs.Append(lf.built.Sorted()...)
			}
		}
		if z != nil && lf.errs.Len() == 0 && l.SerialsMustRise {
			if was := old.zoneOrNil(z.Origin); was != nil && !serialRose(was.Serial, z.Serial) && was.Digest() != z.Digest() {
				lf.errs.Add(f, lf.line(), "", "zone %s changed but its serial %d did not rise (was %d): secondaries would keep the old content; raise the serial (RFC 1982)", z.Origin, z.Serial, was.Serial)
			}
		}
		if lf.errs.Len() > 0 {
			errs.Append(lf.errs.Sorted()...)
			if z = old.fromFile(f); z == nil {
				continue
			}
			if _, dup := origins[z.Origin]; dup {
				continue
			}
		}
		origins[z.Origin] = f
		list = append(list, z)
	}
	return newSnapshot(list), errs.Err()
}

// stopped asks Stop whether the load must stop, and says where it stopped.
func (l Loader) stopped(file string) error {
	if l.Stop == nil {
		return nil
	}
	if err := l.Stop(file); err != nil {
		return &Error{File: file, Msg: err.Error()}
	}
	return nil
}

// Expand resolves file names and glob patterns, relative to dir when not
// absolute, into a sorted list of files. A pattern that matches nothing is
// an error: a typo must not silently serve no zones.
func Expand(dir string, patterns []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, p := range patterns {
		if !filepath.IsAbs(p) && dir != "" {
			p = filepath.Join(dir, p)
		}
		matches, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("zone pattern %q: %w", p, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("zone pattern %q matches no file", p)
		}
		sort.Strings(matches)
		for _, m := range matches {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// Summary is the one-line description of a zone that `dnsrr check` and the
// logs print.
func (z *Zone) Summary() string {
	return fmt.Sprintf("%s: serial %d, %s, %s, %s", z.Origin, z.Serial,
		count(z.Names, "name"), count(z.Pools, "pool"), count(z.Records, "record"))
}

// count writes n and the noun, plural unless n is 1: "1 pool", "6 pools".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// serialRose reports whether serial b follows a in RFC 1982 arithmetic.
func serialRose(a, b uint32) bool {
	return a != b && (a < b && b-a < 1<<31 || a > b && a-b > 1<<31)
}
