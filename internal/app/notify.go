package app

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// The service manager (systemd, Type=notify) hears of each change of
// state: ready once DNS answers (the zones loaded, the first probe round
// done or past its limit, every address bound); reloading from the moment
// a reload begins until it ends, applied or not; stopping. A failed notification is
// logged and changes nothing else: DNS is served either way.

// notifyFailed is set once a notification failed: the first failure is a
// warning, later ones (every reload would add two) are at debug level.
var notifyFailed atomic.Bool

func (a *App) notifyError(err error) {
	if err == nil {
		return
	}
	ev := a.log.Debug()
	if !notifyFailed.Swap(true) {
		ev = a.log.Warn()
	}
	ev.Err(err).Msg("cannot notify the service manager")
}

// notifyLoading gives systemd the load's own budget, so that a large zone
// is not killed by the unit's start timeout (90 s by default).
func (a *App) notifyLoading(budget time.Duration) {
	a.notifyError(a.p.Notify.ExtendTimeout(budget+firstRoundLimit+time.Minute, "loading zones"))
}

// notifyReady says the server answers, with what it serves; note is the
// outcome of the last reload, if any.
func (a *App) notifyReady(note string) {
	snap := a.srv.Snapshot()
	zones := "zones"
	if len(snap.Zones()) == 1 {
		zones = "zone"
	}
	status := fmt.Sprintf("serving %d %s on %s", len(snap.Zones()), zones, strings.Join(a.srv.Addrs(), " "))
	if note != "" {
		status += "; " + note
	}
	if why := a.ready.check(); why != "" {
		// The first probe round outlasted its limit: DNS answers, serving
		// the undecided members, and /readyz says what it waits for.
		status += "; not ready: " + why
	}
	a.notifyError(a.p.Notify.Ready(status))
}

func (a *App) notifyReloading() {
	a.notifyError(a.p.Notify.Reloading("reloading"))
}

func (a *App) notifyStopping() {
	a.notifyError(a.p.Notify.Stopping("shutting down"))
}

// watchdog pings systemd's watchdog (WatchdogSec=) until ctx ends.
func (a *App) watchdog(ctx context.Context) {
	a.p.Notify.RunWatchdog(ctx, func(err error) {
		a.log.Warn().Err(err).Msg("cannot ping the service manager's watchdog")
	})
}

// reloadNote is the outcome of a reload as the service manager shows it.
func reloadNote(at time.Time, err error) string {
	at = at.UTC().Truncate(time.Second)
	if err == nil {
		return "reload applied at " + at.Format(time.RFC3339)
	}
	return "reload at " + at.Format(time.RFC3339) + " failed (a zone that failed keeps its old version): " + err.Error()
}
