package app

import (
	"slices"
	"sync"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/internal/config"
	"github.com/dnsrr/dnsrr/zones"
	"github.com/rs/zerolog"
)

// notifications tells the secondaries of [transfer] notify about each
// zone that changed (README, "Zone transfers and NOTIFY").
type notifications struct {
	log      zerolog.Logger
	notifier *dnsrr.Notifier
	// mu orders the comparisons of reloads that follow each other
	// closely; targets is the list the last one notified.
	mu      sync.Mutex
	targets []dnsrr.NotifyTarget
}

func newNotifications(log zerolog.Logger) *notifications {
	return &notifications{log: log.With().Str("component", "transfer").Logger(), notifier: dnsrr.NewNotifier(log)}
}

// applyTransfers gives the server cfg's transfer ACL and keys.
func applyTransfers(srv *dnsrr.Server, cfg *config.Config, log zerolog.Logger) {
	for _, w := range cfg.Transfer.Warnings {
		log.Warn().Msg(w)
	}
	srv.SetTransfers(cfg.Transfer.Transfers)
}

// changed notifies every secondary of each zone of snap that is new or
// changed since old (nil at startup), and of every zone to secondaries
// that cfg adds. It runs in the background: telling a zone whose serial
// stayed put from one whose content changed hashes both (zones.Digest),
// which is skipped when transfers are not configured at all.
func (n *notifications) changed(old, snap *zones.Snapshot, cfg *config.Config) {
	targets := cfg.Transfer.Notify
	if len(targets) == 0 && len(cfg.Transfer.Allow) == 0 {
		// Nobody holds a copy: nothing to tell, nor to check serials for.
		n.mu.Lock()
		n.targets = nil
		n.mu.Unlock()
		return
	}
	go func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		var added []dnsrr.NotifyTarget
		for _, t := range targets {
			if !slices.ContainsFunc(n.targets, func(o dnsrr.NotifyTarget) bool { return o.Addr == t.Addr }) {
				added = append(added, t)
			}
		}
		n.targets = targets
		for _, z := range snap.Zones() {
			to := targets
			if old != nil {
				if !n.zoneChanged(old.Zone(z.Origin), z) {
					to = added
				}
			}
			if len(to) > 0 {
				n.notifier.Notify(z.Origin, z.Serial, to)
			}
		}
	}()
}

// zoneChanged reports whether secondaries holding was must transfer z.
// Serials are the operator's (README): a zone whose content changed
// while its serial did not is logged, since secondaries would keep the
// old content, and is not notified (they would not transfer it).
func (n *notifications) zoneChanged(was, z *zones.Zone) bool {
	switch {
	case was == z:
		return false // kept: its file failed to load
	case was == nil:
		return true
	case was.Serial != z.Serial:
		if dnsrr.SerialLess(z.Serial, was.Serial) {
			n.log.Warn().Str("zone", z.Origin).Str("file", z.File).Uint32("was", was.Serial).Uint32("serial", z.Serial).
				Msg("the serial went backwards (RFC 1982): secondaries keep the zone they have until it passes their serial; raise it instead")
		}
		return true
	case was.Digest() != z.Digest():
		n.log.Warn().Str("zone", z.Origin).Str("file", z.File).Uint32("serial", z.Serial).
			Msg("the zone changed but its serial did not: secondaries keep the old content; raise the serial")
	}
	return false
}
