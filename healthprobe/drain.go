package healthprobe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/dnsrr/dnsrr/internal/safefile"
)

// Drain withdraws addr from service on every target with that address,
// without it counting as down: it keeps being probed, and its State keeps
// moving. A zero until means no expiry; otherwise the drain ends by itself
// at until. Draining a drained address replaces its expiry. The change is
// written to the state file before it takes effect; if that fails, nothing
// changes and the error is returned.
func (p *Prober) Drain(addr netip.Addr, until time.Time) error {
	if !addr.IsValid() {
		return errors.New("drain: no address")
	}
	addr = addr.Unmap()
	if !until.IsZero() && !until.After(p.opts.Now()) {
		return fmt.Errorf("drain %s: expiry %s is not in the future", addr, until.Format(time.RFC3339))
	}
	until = until.Round(0) // drop the monotonic reading: it is not persisted

	p.drainMu.Lock()
	defer p.drainMu.Unlock()
	next := maps.Clone(p.currentDrains())
	next[addr] = until
	if err := p.saveDrains(next); err != nil {
		return fmt.Errorf("drain %s: %w", addr, err)
	}
	p.setDrains(next, addr)
	p.wakeDrainLoop()
	ev := p.log.Info().Stringer("target", addr)
	if !until.IsZero() {
		ev = ev.Time("until", until)
	}
	ev.Msg("address drained")
	return nil
}

// Undrain puts addr back into service. It returns ErrNotDrained if addr is
// not drained. Like Drain, it persists the change first.
func (p *Prober) Undrain(addr netip.Addr) error {
	addr = addr.Unmap()
	p.drainMu.Lock()
	defer p.drainMu.Unlock()
	cur := p.currentDrains()
	if _, ok := cur[addr]; !ok {
		return fmt.Errorf("undrain %s: %w", addr, ErrNotDrained)
	}
	next := maps.Clone(cur)
	delete(next, addr)
	if err := p.saveDrains(next); err != nil {
		return fmt.Errorf("undrain %s: %w", addr, err)
	}
	p.setDrains(next, addr)
	p.wakeDrainLoop()
	p.log.Info().Stringer("target", addr).Msg("address undrained")
	return nil
}

func (p *Prober) wakeDrainLoop() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// drainLoop ends drains at their expiry. It sleeps until the earliest
// expiry, and is woken early when the drains change.
func (p *Prober) drainLoop(ctx context.Context) {
	timer := time.NewTimer(0)
	timer.Stop()
	defer timer.Stop()
	for {
		if d, ok := p.expireDrains(); ok {
			timer.Reset(d)
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-p.wake:
		}
	}
}

// expireDrains removes the drains whose expiry has passed, and returns the
// time until the next expiry, if any.
func (p *Prober) expireDrains() (time.Duration, bool) {
	p.drainMu.Lock()
	defer p.drainMu.Unlock()
	now := p.opts.Now()
	cur := p.currentDrains()
	var expired []netip.Addr
	var earliest time.Time
	for a, until := range cur {
		switch {
		case until.IsZero():
		case !until.After(now):
			expired = append(expired, a)
		case earliest.IsZero() || until.Before(earliest):
			earliest = until
		}
	}
	if len(expired) > 0 {
		next := maps.Clone(cur)
		for _, a := range expired {
			delete(next, a)
		}
		// The drain is over whether or not the file says so: a stale
		// entry left in the file has expired, and loading drops it.
		if err := p.saveDrains(next); err != nil {
			p.log.Error().Err(err).Msg("cannot persist drain expiry")
		}
		p.setDrains(next, expired...)
		slices.SortFunc(expired, netip.Addr.Compare)
		for _, a := range expired {
			p.log.Info().Stringer("target", a).Msg("drain expired")
		}
	}
	if earliest.IsZero() {
		return 0, false
	}
	return earliest.Sub(now), true
}

// stateFile is the JSON layout of Options.StateFile.
type stateFile struct {
	Version int          `json:"version"`
	Drains  []drainEntry `json:"drains"`
}

type drainEntry struct {
	Addr  netip.Addr `json:"addr"`
	Until time.Time  `json:"until,omitzero"` // zero: no expiry
}

const stateVersion = 1

// maxStateFile bounds the state file read at startup: a drain takes about
// 60 bytes in it, so this is room for a million. A path that names
// something else (a device, a FIFO) must not hang or exhaust the process.
const maxStateFile = 64 << 20

// loadDrains reads the drains persisted in path. A missing file holds no
// drains; drains that expired by now are dropped.
func loadDrains(path string, now time.Time) (map[netip.Addr]time.Time, error) {
	drains := map[netip.Addr]time.Time{}
	b, _, err := safefile.ReadStable(path, maxStateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return drains, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state file: %w", err)
	}
	var sf stateFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if sf.Version != stateVersion {
		return nil, fmt.Errorf("state file %s: version %d, want %d", path, sf.Version, stateVersion)
	}
	for i, d := range sf.Drains {
		if !d.Addr.IsValid() {
			return nil, fmt.Errorf("state file %s: drain %d has no address", path, i)
		}
		if d.Until.IsZero() || d.Until.After(now) {
			drains[d.Addr.Unmap()] = d.Until
		}
	}
	return drains, nil
}

// saveDrains writes drains to the state file, if there is one, atomically:
// a reader (or a crash) sees the old file or the new one, never a mix.
func (p *Prober) saveDrains(drains map[netip.Addr]time.Time) error {
	path := p.opts.StateFile
	if path == "" {
		return nil
	}
	sf := stateFile{Version: stateVersion, Drains: []drainEntry{}}
	for _, a := range slices.SortedFunc(maps.Keys(drains), netip.Addr.Compare) {
		sf.Drains = append(sf.Drains, drainEntry{Addr: a, Until: drains[a]})
	}
	b, err := json.MarshalIndent(sf, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}

// writeFileAtomic writes a temporary file next to path, syncs it and
// renames it over path, then syncs the directory so the rename is durable.
func writeFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("write state file %s: %w", path, err)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	// Best effort: not every file system can sync a directory.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
