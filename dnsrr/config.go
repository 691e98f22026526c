package dnsrr

import (
	"net"
	"path/filepath"
	"strconv"

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
	Chaos     Chaos
}

// Chaos holds the answers to CH-class TXT queries (version.bind and
// friends); empty strings leave them REFUSED.
type Chaos struct {
	Version string
	ID      string
}

// Defaults of the configuration file, in one place.
var (
	DefaultListen = []string{"127.0.0.1:5353", "[::1]:5353"}
	logLevels     = map[string]bool{"debug": true, "info": true, "warn": true, "error": true}
	logFormats    = map[string]bool{"console": true, "json": true}
)

// LoadConfig reads and checks a configuration file, reporting every
// problem as file:line: key: message.
func LoadConfig(path string) (*Config, error) {
	root, err := tomlfile.Read(path)
	if err != nil {
		return nil, err
	}
	c := &Config{File: path, Listen: DefaultListen, LogLevel: "info", LogFormat: "console"}
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
	if net.ParseIP(host) == nil {
		return &net.AddrError{Err: "host must be an IP address", Addr: a}
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
	return zones.Load(files)
}

// ReloadZones loads the configured zones for a running server: see
// zones.Reload. The snapshot is nil only when the zone list itself failed.
func (c *Config) ReloadZones(old *zones.Snapshot) (*zones.Snapshot, error) {
	files, err := c.ZoneFiles()
	if err != nil {
		return nil, err
	}
	return zones.Reload(files, old)
}
