package zones

import (
	"errors"
	"time"

	"github.com/dnsrr/dnsrr/internal/safefile"
	"github.com/dnsrr/dnsrr/zones/tomlfile"
)

// loadedFile is one zone file, read, parsed and built, waiting for the
// other files of the load.
type loadedFile struct {
	// file is the version read, kept open until the load ends so that the
	// last look at it is exact (see safefile.File).
	file    *safefile.File
	changed bool           // the file changed while it was read: not applied
	origin  string         // "" when the file did not parse
	line    func() int     // line of the origin
	zone    *Zone          // nil when it failed
	errs    *tomlfile.List // reading and parsing
	built   *tomlfile.List // building: dropped when the origin is a duplicate
	pools   []string       // the names of Loader.Pools that the zone has a pool at
}

// loadFile reads, parses and builds one zone file. An error means the
// load must stop (Loader.Stop).
func (l Loader) loadFile(path string, lim Limits, p pace) (lf loadedFile, err error) {
	lf = loadedFile{errs: &tomlfile.List{}, built: &tomlfile.List{}}
	defer func() {
		if err != nil && lf.file != nil {
			lf.file.Close()
		}
	}()
	if err := l.stopped(path); err != nil {
		return lf, err
	}
	p.file = path
	limit, key := lim.MaxZoneFileSize, "max_zone_file_size"
	if IsTOML(path) {
		limit, key = lim.MaxTOMLFileSize, "max_toml_file_size"
	}
	f, err := safefile.Open(path, limit)
	if err != nil {
		lf.changed = errors.As(err, new(*safefile.ChangedError))
		lf.errs.Append(readError(path, key, err))
		return lf, nil
	}
	lf.file = f
	text := f.Data
	f.Data = nil // garbage once parsed
	var src *source
	if IsTOML(path) {
		if src = loadTOML(path, text, l.Checks, lim, lf.errs); src != nil {
			src.limits = lim
			lf.zone = build(src, lf.built, p)
		}
	} else {
		var built *tomlfile.List
		if src, lf.zone, built = loadMaster(path, text, lim, lf.errs, p); built != nil {
			lf.built = built
		}
	}
	if src == nil {
		lf.errs.Append(lf.built.Sorted()...) // a master file that stopped early
		lf.built = &tomlfile.List{}
		return lf, l.stopped(path)
	}
	lf.origin, lf.line = src.origin, src.originLine
	if lf.zone != nil {
		lf.pools = l.applyPolicies(lf.zone, lf.built)
	}
	src.entries = nil // the zone has what it needs; the rest is garbage now
	if err := l.stopped(path); err != nil {
		return lf, err // what was read may be cut short
	}
	if testHookLoaded != nil {
		testHookLoaded(path)
	}
	return lf, nil
}

// testHookLoaded, when set by a test, runs after each file is built: it
// can rewrite the file at the worst moment, deterministically.
var testHookLoaded func(path string)

// readError restates a failure to read a zone file as a located problem.
func readError(path, key string, err error) error {
	var tooLarge *safefile.TooLargeError
	switch {
	case errors.As(err, &tooLarge):
		return limitError(path, 0, key, tooLarge.Limit, "the file is %d bytes", tooLarge.Size)
	case errors.As(err, new(*safefile.ChangedError)):
		return &Error{File: path, Msg: "changed while being read; write zone files by rename (mv)"}
	}
	return err // the system's error (no such file, not a regular file) names the path

}

// settle waits, when Loader.Settle is set, until every file read has
// been unchanged that long (at most Settle): a file written a moment ago
// may still be being written, in chunks with pauses between them.
func (l Loader) settle(loaded []loadedFile) {
	if l.Settle <= 0 {
		return
	}
	var newest time.Time
	for _, lf := range loaded {
		if lf.file == nil {
			continue
		}
		if t := lf.file.ID.ModTime(); t.After(newest) {
			newest = t
		}
	}
	if wait := min(time.Until(newest.Add(l.Settle)), l.Settle); wait > 0 {
		time.Sleep(wait)
	}
}

// loadFiles loads every file, then looks at each once more: a file
// written to since it was read (size or mtime) was being written while it
// loaded, so what was read may be any part of it. Such a file is loaded
// again, up to safefile.Reads times in all, and failed if it keeps
// changing. A file replaced by rename meanwhile is loaded again while
// reads are left, then applied as read (it was whole). The last look
// comes after every file is built, so the window a change is seen in
// covers the whole load.
func (l Loader) loadFiles(files []string, lim Limits, p pace) ([]loadedFile, error) {
	loaded := make([]loadedFile, len(files))
	defer func() {
		for _, lf := range loaded {
			if lf.file != nil {
				lf.file.Close()
			}
		}
	}()
	for i, f := range files {
		var err error
		if loaded[i], err = l.loadFile(f, lim, p); err != nil {
			return nil, err
		}
	}
	// look tells how the file read as loaded[i] has changed since: written
	// to in place (what was read may be any part of it: read again, or
	// fail), or replaced, renamed into place (what was read was whole, but
	// another version is there now: read again if there are reads left).
	look := func(i int) (inPlace, replaced bool) {
		lf := &loaded[i]
		switch {
		case lf.changed:
			return true, false
		case lf.file == nil:
			return false, false // not read: its error stands
		case lf.file.WrittenTo():
			return true, false
		}
		return false, lf.file.Replaced()
	}
	for read := 1; ; read++ {
		l.settle(loaded)
		last := read == safefile.Reads
		var again []int
		for i := range files {
			inPlace, replaced := look(i)
			switch {
			case inPlace && last:
				if loaded[i].file != nil {
					loaded[i].file.Close()
				}
				loaded[i] = loadedFile{errs: &tomlfile.List{}, built: &tomlfile.List{}}
				loaded[i].errs.Append(readError(files[i], "", &safefile.ChangedError{Path: files[i]}))
			case (inPlace || replaced) && !last:
				again = append(again, i)
			}
		}
		if len(again) == 0 {
			return loaded, nil
		}
		for _, i := range again {
			if loaded[i].file != nil {
				loaded[i].file.Close()
			}
			var err error
			if loaded[i], err = l.loadFile(files[i], lim, p); err != nil {
				return nil, err
			}
		}
	}
}
