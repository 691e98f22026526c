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
// that cfg adds. It runs in the background.
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

// zoneChanged reports whether secondaries holding was must transfer z:
// whether its serial moved. With transfers configured, a reload refuses a
// zone whose content changed while its serial did not rise
// (zones.Loader.SerialsMustRise), so a new serial is the only change left.
func (n *notifications) zoneChanged(was, z *zones.Zone) bool {
	return was != z && (was == nil || was.Serial != z.Serial)
}
