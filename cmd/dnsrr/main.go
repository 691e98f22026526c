// Command dnsrr is an authoritative round-robin DNS server.
//
//	dnsrr serve -config examples/dnsrr.toml    serve until SIGTERM; SIGHUP reloads
//	dnsrr check -config examples/dnsrr.toml    validate config and zones
//	dnsrr status|drain|undrain|reload          control a running server (control.go)
//	dnsrr version [-json]                      build: module version, VCS revision, Go
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/dnsrr/dnsrr/internal/app"
	"github.com/dnsrr/dnsrr/internal/config"
	"github.com/dnsrr/dnsrr/internal/sdnotify"
	"github.com/dnsrr/dnsrr/zones"
	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// Exit codes, one per kind of failure.
const (
	exitOK      = 0
	exitConfig  = 1 // bad config or zones
	exitUsage   = 2 // bad flags
	exitRuntime = 3 // cannot listen
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  dnsrr [serve] -config FILE [-listen ADDR]... [-zone FILE]... [-admin ADDR] [-watch]
  dnsrr serve -listen ADDR -zone FILE     (no config file)
  dnsrr check -config FILE | -zone FILE...
  dnsrr status|drain|undrain|reload ...   (dnsrr status -h)
  dnsrr version [-json]
`

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args, stderr)
	case "check":
		return check(args, stdout, stderr)
	case "status", "drain", "undrain", "reload":
		return control(cmd, args, stdout, stderr)
	case "version":
		return versionCommand(args, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "dnsrr: unknown command %q\n%s", cmd, usage)
	return exitUsage
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// options are the flags shared by serve and check.
type options struct {
	config     string
	listen     listFlag
	zones      listFlag
	logLevel   string
	logFormat  string
	cpuProfile string
	admin      optionalFlag
	watch      bool
}

// optionalFlag is a string flag that tells "not given" from "given empty".
type optionalFlag struct {
	value string
	set   bool
}

func (f *optionalFlag) String() string     { return f.value }
func (f *optionalFlag) Set(v string) error { f.value, f.set = v, true; return nil }

func parseFlags(name string, args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("dnsrr "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	fs.StringVar(&o.config, "config", "", "configuration file (TOML)")
	fs.Var(&o.listen, "listen", "address:port to serve on, UDP and TCP (repeatable; replaces the config's)")
	fs.Var(&o.zones, "zone", "zone file, TOML or RFC 1035 (repeatable; replaces the config's)")
	fs.StringVar(&o.logLevel, "log-level", "", "debug, info, warn or error (overrides the config)")
	fs.StringVar(&o.logFormat, "log-format", "", "console or json (overrides the config)")
	if name == "serve" {
		fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile here until shutdown (for performance work)")
		fs.BoolVar(&o.watch, "watch", false, "reload when the configuration or a zone file changes (turns [watch] on)")
		fs.Var(&o.admin, "admin", "address:port or unix:PATH of the admin API (overrides the config's [health] admin); \"\" turns it off")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.config == "" && len(o.zones) == 0 {
		return nil, errors.New("no zones: give -config FILE or -zone FILE")
	}
	return o, nil
}

// loadConfig reads the config file, if any, and applies the flags over it.
func (o *options) loadConfig() (*config.Config, error) {
	cfg := config.Default()
	if o.config != "" {
		var err error
		if cfg, err = config.Load(o.config); err != nil {
			return nil, err
		}
	}
	if len(o.listen) > 0 {
		for _, a := range o.listen {
			if err := config.CheckListenAddr(a); err != nil {
				return nil, fmt.Errorf("-listen: %w", err)
			}
		}
		cfg.Listen = o.listen
	}
	if o.admin.set {
		if a := o.admin.value; a != "" {
			if err := config.CheckAdminAddr(a); err != nil {
				return nil, fmt.Errorf("-admin: %w", err)
			}
		}
		cfg.Health.Admin = o.admin.value
		if err := cfg.Health.CheckAdmin(); err != nil {
			return nil, fmt.Errorf("-admin: %w", err)
		}
	}
	if len(o.zones) > 0 {
		cfg.Zones = o.zones
		cfg.File = "" // -zone paths are relative to the working directory
	}
	if o.logLevel != "" {
		cfg.LogLevel = o.logLevel
	}
	if o.logFormat != "" {
		cfg.LogFormat = o.logFormat
	}
	if o.watch {
		cfg.Watch.Enabled = true
	}
	return cfg, nil
}

func newLogger(cfg *config.Config, w io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(cfg.LogLevel)
	if err != nil || cfg.LogLevel == "" {
		return zerolog.Nop(), fmt.Errorf("log level %q: use debug, info, warn or error", cfg.LogLevel)
	}
	switch cfg.LogFormat {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: !colorful(w)}
	default:
		return zerolog.Nop(), fmt.Errorf("log format %q: use console or json", cfg.LogFormat)
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
}

// colorful reports whether console logs to w may use colours: only on a
// terminal (a file, a pipe or journald would keep the escape codes), and
// not when NO_COLOR is set (https://no-color.org).
func colorful(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && os.Getenv("NO_COLOR") == "" && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

func serve(args []string, stderr io.Writer) int {
	// Signals first: a SIGHUP from `systemctl reload` right after start
	// must wait for the server, not kill it while it loads.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	opts, err := parseFlags("serve", args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "dnsrr: %v\n%s", err, usage)
		return exitUsage
	}
	cfg, err := opts.loadConfig()
	if err != nil {
		printErrors(stderr, err)
		return exitConfig
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "dnsrr: %v\n", err)
		return exitUsage
	}
	if opts.cpuProfile != "" {
		stopProfile, err := startCPUProfile(opts.cpuProfile)
		if err != nil {
			log.Error().Err(err).Msg("cannot profile")
			return exitUsage
		}
		defer stopProfile()
	}
	notify, err := sdnotify.FromEnv()
	if err != nil {
		log.Warn().Err(err).Msg("cannot notify the service manager")
	}
	err = app.Serve(ctx, app.Params{
		Config: cfg, LoadConfig: opts.loadConfig, Reloads: hup, Version: buildVersion(), Log: log, Notify: notify,
	})
	var f *app.Failure
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &f) && f.Kind == app.KindListen:
		return exitRuntime
	}
	return exitConfig
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// check validates config and zones exactly as serve would, printing every
// problem (named-checkzone style), or a summary line per zone.
func check(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags("check", args, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "dnsrr: %v\n%s", err, usage)
		return exitUsage
	}
	cfg, err := opts.loadConfig()
	if err != nil {
		printErrors(stderr, err)
		return exitConfig
	}
	if _, err := newLogger(cfg, io.Discard); err != nil {
		fmt.Fprintf(stderr, "dnsrr: %v\n", err)
		return exitConfig
	}
	summaries, err := app.Check(cfg)
	if err != nil {
		printErrors(stderr, err)
		return exitConfig
	}
	for _, line := range summaries {
		fmt.Fprintln(stdout, line)
	}
	return exitOK
}

func printErrors(w io.Writer, err error) {
	for _, e := range zones.Errors(err) {
		fmt.Fprintln(w, e)
	}
}
