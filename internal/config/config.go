// Package config reads dnsrr's configuration file: one home for every
// setting, checked and reported as file:line: key: message, handed to the
// packages that use it as their own option types.
package config

import (
	"net"
	"path/filepath"
	"strconv"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/zones"
	"github.com/dnsrr/dnsrr/zones/tomlfile"
)

// Config is the server's configuration file, decoded and checked.
type Config struct {
	File   string   // where it was read from; "" when built from flags
	Listen []string // host:port, UDP and TCP on each
	// Zones are file names or globs, relative to the config file.
	Zones     []string
	LogLevel  string // debug, info, warn, error
	LogFormat string // console or json
	Chaos     dnsrr.Chaos
	Health    HealthConfig
	// Checks are health checks any zone's pools may name.
	Checks map[string]*zones.Check
}

// HealthConfig is the [health] table: how the prober runs and where its
// admin API listens.
type HealthConfig struct {
	// Admin is the address of the HTTP API (/status, /drain), loopback by
	// default; "" turns it off. Keep it on loopback: it changes what is
	// served, and it refuses requests from web pages (see LocalOnly).
	Admin string
	// StateFile keeps drains across restarts; "" keeps them in memory.
	StateFile string
	// InitialState of new targets: "probe" (the first probe round decides,
	// before DNS is served), "up" or "down".
	InitialState string
	Concurrency  int
}

// Defaults of the configuration file, in one place.
var (
	DefaultListen = []string{"127.0.0.1:5353", "[::1]:5353"}
	defaultHealth = HealthConfig{Admin: "127.0.0.1:8053", InitialState: "probe", Concurrency: 64}
	logLevels     = map[string]bool{"debug": true, "info": true, "warn": true, "error": true}
	logFormats    = map[string]bool{"console": true, "json": true}
)

// Default is the configuration before a file or flags change it.
func Default() *Config {
	return &Config{Listen: DefaultListen, LogLevel: "info", LogFormat: "console", Health: defaultHealth}
}

// Load reads and checks a configuration file, reporting every
// problem as file:line: key: message.
func Load(path string) (*Config, error) {
	root, err := tomlfile.Read(path)
	if err != nil {
		return nil, err
	}
	c := Default()
	c.File = path
	if v, ok := root.Strings("listen"); ok {
		c.Listen = v
		for i, a := range v {
			if err := CheckListenAddr(a); err != nil {
				root.ElemErrorf("listen", i, "%v", err)
			}
		}
	}
	if v, ok := root.Strings("zones"); ok {
		c.Zones = v
	} else if !root.Has("zones") {
		root.Errorf("", "zones is missing: list zone files or globs, e.g. zones = [\"zones/*.toml\"]")
	}
	if log, ok := root.Table("log"); ok {
		if v, ok := log.String("level"); ok {
			if !logLevels[v] {
				log.Errorf("level", "%q is not a level: use debug, info, warn or error", v)
			}
			c.LogLevel = v
		}
		if v, ok := log.String("format"); ok {
			if !logFormats[v] {
				log.Errorf("format", "%q is not a format: use console or json", v)
			}
			c.LogFormat = v
		}
		log.Done()
	}
	if h, ok := root.Table("health"); ok {
		if v, ok := h.String("admin"); ok {
			if err := CheckListenAddr(v); v != "" && err != nil {
				h.Errorf("admin", "%v", err)
			}
			c.Health.Admin = v
		}
		if v, ok := h.String("state_file"); ok {
			if v != "" && !filepath.IsAbs(v) {
				v = filepath.Join(filepath.Dir(path), v)
			}
			c.Health.StateFile = v
		}
		if v, ok := h.String("initial_state"); ok {
			if v != "probe" && v != "up" && v != "down" {
				h.Errorf("initial_state", "%q: use probe, up or down", v)
			}
			c.Health.InitialState = v
		}
		if v, ok := h.Int("concurrency", 1, 10000); ok {
			c.Health.Concurrency = int(v)
		}
		h.Done()
	}
	if checks, ok := root.Table("checks"); ok {
		c.Checks = map[string]*zones.Check{}
		for _, name := range checks.Keys() {
			if t, ok := checks.Table(name); ok {
				c.Checks[name] = zones.ParseCheck(t, name, filepath.Dir(path))
			}
		}
		checks.Done()
	}
	if ch, ok := root.Table("chaos"); ok {
		c.Chaos.Version, _ = ch.String("version")
		c.Chaos.ID, _ = ch.String("id")
		ch.Done()
	}
	root.Done()
	return c, root.File().Errs.Err()
}

// CheckListenAddr checks a listen address: an IP literal and a port.
func CheckListenAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return &net.AddrError{Err: "host must be an IP address", Addr: a}
	}
	if ip.IsUnspecified() {
		// Replies would leave from whatever address the kernel routes by,
		// not the one the query came to: list each address instead.
		return &net.AddrError{Err: "listen on specific addresses, not a wildcard (replies must come from the address asked)", Addr: a}
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return &net.AddrError{Err: "bad port", Addr: a}
	}
	return nil
}

// ZoneFiles expands the configured zone names and globs into files.
func (c *Config) ZoneFiles() ([]string, error) {
	dir := ""
	if c.File != "" {
		dir = filepath.Dir(c.File)
	}
	return zones.Expand(dir, c.Zones)
}

// LoadZones loads the configured zones into a new snapshot.
func (c *Config) LoadZones() (*zones.Snapshot, error) {
	files, err := c.ZoneFiles()
	if err != nil {
		return nil, err
	}
	return c.loader().Load(files)
}

func (c *Config) loader() zones.Loader { return zones.Loader{Checks: c.Checks} }

// ReloadZones loads the configured zones for a running server: see
// zones.Reload. The snapshot is nil only when the zone list itself failed.
func (c *Config) ReloadZones(old *zones.Snapshot) (*zones.Snapshot, error) {
	files, err := c.ZoneFiles()
	if err != nil {
		return nil, err
	}
	return c.loader().Reload(files, old)
}
