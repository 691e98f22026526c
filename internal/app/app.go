// Package app owns the life of a dnsrr process: it loads the configuration
// and zones, starts the prober, the DNS server and the admin API, applies
// reloads and health changes, and shuts everything down in order. The
// command (cmd/dnsrr) only parses flags and maps failures to exit codes.
package app

import (
	"bytes"
	"context"
	"errors"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/healthprobe"
	"github.com/dnsrr/dnsrr/internal/config"
	"github.com/dnsrr/dnsrr/internal/sdnotify"
	"github.com/dnsrr/dnsrr/zones"
	"github.com/rs/zerolog"
)

// firstRoundLimit bounds the wait for the first probe round at startup;
// each probe is bounded by its own timeout well before that.
const firstRoundLimit = 30 * time.Second

// reloadExitWait bounds the wait at shutdown for a reload to notice it:
// everything in a reload but reading the configuration ends with its
// context at once.
var reloadExitWait = 2 * time.Second

// shutdownGrace bounds how long in-flight queries and TCP connections may
// take to finish after SIGTERM.
const shutdownGrace = 5 * time.Second

// Kind says which stage of starting failed, so that the command can exit
// with a code per kind.
type Kind int

const (
	// KindConfig: the configuration, zones or checks are bad.
	KindConfig Kind = iota + 1
	// KindListen: an address cannot be bound.
	KindListen
)

// Failure is why Serve could not start.
type Failure struct {
	Kind Kind
	Err  error
}

func (f *Failure) Error() string { return f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

// Params are what Serve needs from the command line.
type Params struct {
	// Config is the configuration to start with; LoadConfig reads it
	// again (file and flags) on every reload, for its zone list.
	Config     *config.Config
	LoadConfig func() (*config.Config, error)
	// Reloads receives a value per reload request (SIGHUP). Requests that
	// wait in it while a reload runs make one more reload after it.
	Reloads <-chan os.Signal
	Version string
	Log     zerolog.Logger
	// Notify tells systemd (Type=notify) when serving, reloading and
	// stopping; nil tells no one.
	Notify *sdnotify.Notifier
	// Load loads a configuration's zones: nil means from their files
	// (LoadZones). Tests replace it to block or slow a load.
	Load LoadZonesFunc
}

// LoadZonesFunc loads cfg's zones: at startup (old is nil) or as a reload
// beside old, the zones served now (see zones.Loader.Reload). It must pass
// stop on as zones.Loader.Stop: that is how the reload budget ends it.
type LoadZonesFunc func(cfg *config.Config, old *zones.Snapshot, stop func(file string) error) (*zones.Snapshot, error)

// LoadZones is the LoadZonesFunc that reads the zone files.
func LoadZones(cfg *config.Config, old *zones.Snapshot, stop func(file string) error) (*zones.Snapshot, error) {
	if old == nil {
		return cfg.LoadZones(stop)
	}
	return cfg.ReloadZones(old, stop)
}

// App is one running server with its prober and admin API.
type App struct {
	p      Params
	log    zerolog.Logger
	srv    *dnsrr.Server
	health *health
	// loading closes when the last load has returned. A load left behind
	// over its budget (see runLoad) may outlive its reload; no other load
	// starts before it ends. Only the reload goroutine uses it.
	loading <-chan struct{}
	// heapAdded is the last load's heapAdded, for the log.
	heapAdded uint64
	// closers stop what start started, in reverse order.
	closers []func()
	// policies makes what the answer path applies beyond the zones.
	policies *policies
	// notify tells secondaries of changed zones (transfer.go).
	notify *notifications
	// ready is what /readyz says; page is the status page (endpoints.go).
	ready *readiness
	page  *statusPage
	// watch, when [watch] is on, sends on watchReloads when files change
	// (watch.go); reloadOnRequest serves those as SIGHUPs. watchMu guards
	// watch: a reload left reading the configuration at shutdown may
	// still reach watchFiles while close stops the watch.
	watchMu      sync.Mutex
	watch        *watching
	watchReloads chan struct{}
	// metrics is what /metrics serves beyond the counters of the server
	// and prober (nil: [metrics] enabled = false).
	metrics *appMetrics
	// reloadNote is the outcome of the last reload, for the service
	// manager. Only the reload goroutine uses it.
	reloadNote string
	// reloads passes POST /reload requests to the reload goroutine and
	// their outcomes back (reload.go).
	reloads *reloadQueue
}

// Serve loads the zones, starts everything and serves until ctx ends, then
// shuts down gracefully. It returns a *Failure if it could not start; once
// serving, it returns nil.
func Serve(ctx context.Context, p Params) error {
	a, err := start(ctx, p)
	if err != nil && ctx.Err() != nil {
		// SIGTERM while starting (a long first load): a stop, not a failure.
		p.Log.Info().Err(err).Msg("stopped")
		return nil
	}
	if err != nil {
		return err
	}
	a.notifyReady("")
	a.run(ctx)
	return nil
}

// start loads the zones (under the reload budget, as every load), starts
// the prober, the DNS server and the admin API, and logs "serving". If ctx
// ends while it loads, it returns a Failure wrapping ctx's error.
func start(ctx context.Context, p Params) (_ *App, err error) {
	if p.Load == nil {
		p.Load = LoadZones
	}
	a := &App{p: p, log: p.Log, policies: &policies{log: p.Log}, watchReloads: make(chan struct{}, 1), reloads: newReloadQueue()}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	warnIfRoot(a.log)
	cfg := p.Config
	identify(cfg)
	if cfg.Cookies.Warning != "" {
		a.log.Warn().Msg(cfg.Cookies.Warning)
	}
	b := newBudget(cfg.Reload)
	// Before the load: a file changed while it loads makes a reload.
	a.watchFiles(ctx, cfg)
	a.closers = append(a.closers, a.stopWatching)
	a.notifyLoading(b.timeout)
	snap, err := a.loadZones(ctx, b, cfg, nil)
	if err != nil && ctx.Err() != nil {
		return nil, err // stopped while loading: Serve says so
	}
	if err != nil {
		for _, e := range zones.Errors(err) {
			a.log.Error().Err(e).Msg("cannot load zones")
		}
		return nil, &Failure{KindConfig, err}
	}

	h, stopProber, err := startHealth(ctx, cfg, snap, p.Version, a.log)
	if err != nil {
		for _, e := range zones.Errors(err) {
			a.log.Error().Err(e).Msg("cannot start health checks")
		}
		return nil, &Failure{KindConfig, err}
	}
	a.closers = append(a.closers, stopProber)
	a.health = h
	stopCluster, err := startCluster(cfg, h, p.Version, a.log)
	if err != nil {
		a.log.Error().Err(err).Msg("cannot join the cluster")
		return nil, &Failure{KindListen, err}
	}
	a.closers = append(a.closers, stopCluster)

	pol, err := a.policies.make(cfg)
	if err != nil {
		a.log.Error().Err(err).Msg("cannot start rate limiting or the query log")
		return nil, &Failure{KindConfig, err}
	}
	a.closers = append(a.closers, a.policies.close)
	srv := dnsrr.New(cfg.Listen, cfg.Chaos, snap, a.log)
	srv.SetHealth(h)
	srv.SetPolicy(pol)
	srv.SetStatus(cfg.Health.StatusNames, chaosStatus{h, srv})
	applyTransfers(srv, cfg, a.log)
	srv.TCP = cfg.TCP
	// The admin API listens during the first probe round, so that /readyz
	// can say what the server waits for.
	a.metrics = newAppMetrics(cfg, snap)
	a.metrics.serve(cfg.Metrics, srv, h, a.policies, p.Version)
	ep := a.newEndpoints(cfg, h, srv)
	ep.reloads, ep.reloadTimeout, ep.stopping = a.reloads, cfg.Reload.Timeout, ctx
	stopAdmin, admin := startAdmin(cfg.Health, h, srv, ep, a.metrics, a.log)
	a.closers = append(a.closers, stopAdmin)
	firstRound := waitFirstRound(ctx, h, a.log)
	h.apply(srv) // what the first round decided, before the first query
	a.ready.notReady(notReadyListening)
	if err := srv.Start(); err != nil {
		a.log.Error().Err(err).Msg("cannot listen")
		return nil, &Failure{KindListen, err}
	}
	a.srv = srv
	a.notify = newNotifications(a.log)
	a.closers = append(a.closers, a.notify.notifier.Stop)
	a.notify.changed(nil, snap, cfg)
	if firstRound == nil {
		a.ready.ready()
	} else {
		a.ready.notReady(notReadyFirstRound) // until readyAfterFirstRound
	}
	ev := a.log.Info().Strs("addrs", srv.Addrs()).Strs("zones", origins(snap)).Dict("serials", serials(snap))
	if admin.admin != "" {
		ev = ev.Str("admin", admin.admin)
	}
	if admin.status != "" {
		ev = ev.Str("status", admin.status)
	}
	ev.Int("probe_targets", len(h.plan.targets)).Str("version", p.Version).
		Str("reload_timeout", b.timeout.String()).Str("reload_memory", b.memoryNote).
		Str("heap_added", config.FormatSize(a.heapAdded)).Msg("serving")
	collectLoadGarbage()
	return a, nil
}

// run serves until ctx ends, then shuts down. Reloads and health changes
// each have a goroutine: a reload, however slow, never delays a
// withdrawal, and neither delays shutdown (a load in flight is told to
// stop and not waited for).
func (a *App) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { a.applyHealthChanges(ctx) })
	wg.Go(func() { a.readyAfterFirstRound(ctx) })
	wg.Go(func() { a.watchdog(ctx) })
	reloading := make(chan struct{})
	go func() {
		defer close(reloading)
		a.reloadOnRequest(ctx)
	}()
	<-ctx.Done()
	a.log.Info().Msg("shutting down")
	a.notifyStopping()
	wg.Wait()
	a.ready.notReady(notReadyStopping)
	// A load ends with ctx, but reading the configuration cannot be told
	// to stop: a configuration file that blocks (a FIFO, a hung network
	// file system) must not hold up shutdown.
	select {
	case <-reloading:
	case <-time.After(reloadExitWait):
		a.log.Warn().Dur("waited", reloadExitWait).Msg("a reload is stuck reading the configuration: shutting down without it")
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	a.srv.Shutdown(sctx)
	cancel()
	a.close()
	a.log.Info().Msg("stopped")
}

func (a *App) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// applyHealthChanges applies each change of the prober's view (a probe
// result, a drain) until ctx ends, and once a second moves the weights of
// members in slow start.
func (a *App) applyHealthChanges(ctx context.Context) {
	ramp := time.NewTicker(rampInterval)
	defer ramp.Stop()
	var agreed <-chan struct{} // nil, never ready, outside a cluster
	var resync <-chan time.Time
	if a.health.node != nil {
		agreed = a.health.node.Changes()
		t := time.NewTicker(clusterSyncInterval)
		defer t.Stop()
		resync = t.C
	}
	a.health.looping.Store(true)
	defer a.health.looping.Store(false)
	for {
		select {
		case <-ctx.Done():
			return
		case done := <-a.health.barrier:
			a.applyHealth() // takes the change the request waits for, if not yet taken
			close(done)
		case <-a.health.prober.Changes():
			a.applyHealth()
		case <-agreed:
			a.applyHealth()
		case <-resync:
			a.health.publishAll()
		case <-ramp.C:
			if members := a.srv.Ramping(); len(members) > 0 {
				a.srv.HealthChangedAt(members)
			}
		}
	}
}

// rampInterval is how often slow start raises weights: a 60 s ramp in
// 60 steps.
const rampInterval = time.Second

// applyHealth makes DNS answers follow the prober's current view: it
// recomputes what changed since the last call.
func (a *App) applyHealth() { a.health.apply(a.srv) }

// reloadOnRequest reloads on each request until ctx ends. Requests queued
// when a reload starts are served by it: the files are read after them. So
// SIGHUPs that arrive during a reload make one more reload after it.
func (a *App) reloadOnRequest(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.p.Reloads:
		case <-a.watchReloads:
		case <-a.reloads.kick:
		}
		for drained := false; !drained; {
			select {
			case <-a.p.Reloads:
			case <-a.watchReloads:
			case <-a.reloads.kick:
			default:
				drained = true
			}
		}
		a.notifyReloading()
		serving := a.reloads.start()
		a.reloads.finish(serving, a.reload(ctx))
		if ctx.Err() == nil {
			a.notifyReady(a.reloadNote)
		}
		collectLoadGarbage()
	}
}

// loadZones loads cfg's zones under b (see runLoad), unless a load left
// behind earlier still runs.
func (a *App) loadZones(ctx context.Context, b budget, cfg *config.Config, old *zones.Snapshot) (*zones.Snapshot, error) {
	if a.loading != nil {
		select {
		case <-a.loading:
		default:
			return nil, errAbandoned
		}
	}
	r := runLoad(ctx, b, func(stop func(string) error) (*zones.Snapshot, error) {
		return a.p.Load(cfg, old, stop)
	})
	a.loading = r.done
	a.heapAdded = r.heapAdded
	return r.snap, r.err
}

// reload re-reads the config (for its zone list and budget) and every
// zone, and swaps in a snapshot where each zone is either wholly new or,
// if its file failed to load, wholly old; the prober follows the new
// pools, keeping the state of targets that did not change. A load over
// its budget fails as a whole: every old zone is kept.
func (a *App) reload(ctx context.Context) reloadResult {
	srv, h, log := a.srv, a.health, a.log
	start := time.Now()
	old := srv.Snapshot()
	fail := func(err error) reloadResult {
		a.reloadNote = reloadNote(start, err)
		if ctx.Err() != nil {
			log.Info().Err(err).Msg("reload cancelled: shutting down")
		} else {
			log.Error().Err(err).Errs("errors", zones.Errors(err)).Dict("serials", serials(srv.Snapshot())).
				Msg("reload failed, keeping old zones")
			a.metrics.failed()
		}
		return reloadOutcome(old, nil, err, start)
	}
	cfg, err := a.p.LoadConfig()
	if err != nil {
		return fail(err)
	}
	identify(cfg)
	warnClusterChanged(a.p.Config, cfg, log)
	if cfg.Cookies.Warning != "" {
		log.Warn().Msg(cfg.Cookies.Warning)
	}
	a.watchFiles(ctx, cfg)
	if strings.Join(cfg.Listen, " ") != strings.Join(a.p.Config.Listen, " ") {
		log.Warn().Strs("listen", cfg.Listen).Msg("listen addresses changed: restart to apply")
	}
	if was, now := a.p.Config.Health, cfg.Health; was.Admin != now.Admin || was.StatusListen != now.StatusListen ||
		!bytes.Equal(was.AdminToken, now.AdminToken) || was.AdminLimits != now.AdminLimits {
		// The admin API keeps what it started with: an operator who
		// rotated the token must not believe the old one revoked.
		log.Warn().Msg("admin API settings changed ([health] admin, status_listen, admin_token_file, limits): restart to apply")
	}
	if cfg.Metrics != a.p.Config.Metrics {
		log.Warn().Msg("[metrics] settings changed: restart to apply")
	}
	snap, loadErr := a.loadZones(ctx, newBudget(cfg.Reload), cfg, old)
	loaded := time.Now()
	if snap == nil {
		return fail(loadErr)
	}
	plan, err := planProbes(snap, cfg.Limits, cfg.Health.ProbeSource)
	if err == nil {
		err = h.setTargets(plan.targets)
	}
	if err != nil {
		return fail(errors.Join(loadErr, err))
	}
	// New targets (a new pool, a changed check) are undecided until their
	// first probe, and undecided is served: wait for it, as at startup, so
	// that a reload never puts a dead member back for a while.
	fctx, cancel := context.WithTimeout(ctx, firstRoundLimit)
	if err := h.prober.FirstRound(fctx); err != nil {
		log.Warn().Err(err).Msg("first probe round of new targets incomplete; undecided members are served")
	}
	cancel()
	pol, err := a.policies.make(cfg)
	if err != nil {
		return fail(err)
	}
	h.setPlan(plan)
	planned := time.Now() // load_s: configuration and zones; probes_s: new targets' first round
	srv.SetPolicy(pol)
	srv.SetStatus(cfg.Health.StatusNames, chaosStatus{h, srv})
	a.policies.served()
	applyTransfers(srv, cfg, log)
	srv.Swap(snap)
	a.notify.changed(old, snap, cfg)
	h.swapped()
	a.page.served(snap, loaded, cfg.NSID)
	a.metrics.reloaded(old, snap, loadErr)
	h.syncCluster()
	swapped := time.Now()
	if loadErr != nil {
		// Zones whose file failed keep their old version; the rest are new.
		var kept, applied []string
		for _, z := range snap.Zones() {
			if old.Zone(z.Origin) == z {
				kept = append(kept, z.Origin)
			} else {
				applied = append(applied, z.Origin)
			}
		}
		a.reloadNote = reloadNote(start, loadErr)
		log.Error().Err(loadErr).Errs("errors", zones.Errors(loadErr)).Strs("kept_old", kept).Strs("applied", applied).
			Dict("serials", serials(snap)).Msg("reload failed, keeping old zones")
		return reloadOutcome(old, snap, loadErr, start)
	}
	a.reloadNote = reloadNote(start, nil)
	log.Info().Strs("zones", origins(snap)).Dict("serials", serials(snap)).Int("probe_targets", len(plan.targets)).
		Float64("duration", time.Since(start).Seconds()).Float64("load_s", loaded.Sub(start).Seconds()).
		Float64("probes_s", planned.Sub(loaded).Seconds()).Float64("swap_s", swapped.Sub(planned).Seconds()).
		Str("heap_added", config.FormatSize(a.heapAdded)).Msg("reload applied")
	return reloadOutcome(old, snap, nil, start)
}

// collectLoadGarbage frees the parser's garbage and, after a reload, the
// old zones (unreachable only now), and returns the memory to the system:
// the query path allocates nothing, so without a collection that memory
// would stay until the next reload. It runs beside the server answering;
// measured on a million records, answers were no slower for it than with a
// plain runtime.GC, after which RSS stayed at twice the zone's size.
func collectLoadGarbage() { go debug.FreeOSMemory() }

// startHealth starts the prober on the snapshot's pools; waitFirstRound
// waits for its first round.
func startHealth(ctx context.Context, cfg *config.Config, snap *zones.Snapshot, version string, log zerolog.Logger) (*health, func(), error) {
	plan, err := planProbes(snap, cfg.Limits, cfg.Health.ProbeSource)
	if err != nil {
		return nil, nil, err
	}
	initial, err := healthprobe.ParseInitialState(cfg.Health.InitialState)
	if err != nil {
		return nil, nil, err
	}
	p, err := healthprobe.New(healthprobe.Options{
		Concurrency:  cfg.Health.Concurrency,
		InitialState: initial,
		StateFile:    cfg.Health.StateFile,
		UserAgent:    "dnsrr-healthprobe/" + version,
	}, log)
	if err != nil {
		return nil, nil, err
	}
	if err := p.SetTargets(plan.targets); err != nil {
		return nil, nil, err
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.Run(pctx); err != nil {
			log.Error().Err(err).Msg("health prober stopped")
		}
	}()
	return &health{prober: p, plan: plan, server: cfg.ServerName, version: version, barrier: make(chan chan struct{})}, func() { cancel(); <-done }, nil
}

// waitFirstRound waits for the prober's first round (bounded by
// firstRoundLimit), so that the first DNS answer already knows which
// members are down. It returns nil once the round is over.
func waitFirstRound(ctx context.Context, h *health, log zerolog.Logger) error {
	fctx, cancel := context.WithTimeout(ctx, firstRoundLimit)
	defer cancel()
	err := h.prober.FirstRound(fctx)
	if err != nil {
		log.Warn().Err(err).Msg("first probe round incomplete; undecided members are served")
	}
	return err
}

// Check validates the configuration's zones and checks exactly as Serve
// would, under the same budget, returning one summary line per zone, or
// every problem.
func Check(cfg *config.Config) ([]string, error) {
	r := runLoad(context.Background(), newBudget(cfg.Reload), func(stop func(string) error) (*zones.Snapshot, error) {
		return LoadZones(cfg, nil, stop)
	})
	snap, err := r.snap, r.err
	if err == nil {
		_, err = planProbes(snap, cfg.Limits, cfg.Health.ProbeSource)
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, z := range snap.Zones() {
		out = append(out, z.Summary())
	}
	return out, nil
}

func origins(snap *zones.Snapshot) []string {
	var out []string
	for _, z := range snap.Zones() {
		out = append(out, z.Origin)
	}
	return out
}

func serials(snap *zones.Snapshot) *zerolog.Event {
	d := zerolog.Dict()
	for _, z := range snap.Zones() {
		d.Uint32(z.Origin, z.Serial)
	}
	return d
}
