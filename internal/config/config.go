// Package config reads dnsrr's configuration file: one home for every
// setting, checked and reported as file:line: key: message, handed to the
// packages that use it as their own option types.
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dnsrr/dnsrr/dnsrr"
	"github.com/dnsrr/dnsrr/dnsrr/rrl"
	"github.com/dnsrr/dnsrr/internal/cluster"
	"github.com/dnsrr/dnsrr/internal/safefile"
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
	// NSID is returned to queries that ask for it (RFC 5001); "" is off.
	NSID   string
	Health HealthConfig
	// TCP is the [tcp] table: limits on DNS-over-TCP clients; zero fields
	// take dnsrr's defaults.
	TCP dnsrr.TCPLimits
	// Checks are health checks any zone's pools may name.
	Checks map[string]*zones.Check
	// Pools are policies for pools of master files ([pools."NAME."]), by
	// name, lower-case.
	Pools map[string]*zones.PoolPolicy
	// Reload bounds every load of the zones: at startup, on reload and in
	// `dnsrr check`.
	Reload ReloadBudget
	// Limits bound what loading each zone file may cost ([limits]).
	Limits zones.Limits
	// Cookies is the [cookies] table: DNS cookies and their secret.
	Cookies Cookies
	// RRL is the [rrl] table: response rate limiting for UDP; nil is off.
	RRL *rrl.Config
	// BadCookieSlip ([rrl] badcookie_slip) slips a limited response to a
	// query with a client cookie as BADCOOKIE and a fresh cookie, not TC.
	BadCookieSlip bool
	// QueryLog is the [query_log] table, Watch the [watch] table.
	QueryLog QueryLog
	Watch    Watch
	// Metrics is the [metrics] table (metrics.go).
	Metrics MetricsConfig
	// Transfer is [transfer] and [tsig_keys]: zone transfers out, NOTIFY.
	Transfer Transfer
	// ServerName identifies this instance on /status and to its peers;
	// "" means the NSID, or else the host name.
	ServerName string
	// Cluster is the [cluster] table: health agreement with other
	// instances; nil is off.
	Cluster *cluster.Config
}

// ReloadBudget is what one load of the zones may spend; a load that goes
// over fails like a bad zone (on reload, the old zones are kept).
type ReloadBudget struct {
	Timeout time.Duration // reload_timeout
	// Memory (reload_memory) is the heap a load may add, in bytes. When 0,
	// MemoryPercent of the memory the process may use applies instead.
	Memory        uint64
	MemoryPercent int
}

// MemoryString is reload_memory as the configuration would write it.
func (b ReloadBudget) MemoryString() string {
	if b.Memory == 0 {
		return strconv.Itoa(b.MemoryPercent) + "%"
	}
	return FormatSize(b.Memory)
}

// HealthConfig is the [health] table: how the prober runs and where its
// admin API listens.
type HealthConfig struct {
	// Admin is the address of the HTTP API (/status, /drain), loopback by
	// default; "" turns it off. It changes what is served: off loopback it
	// needs AdminToken (CheckAdmin).
	Admin string
	// AdminTokenFile holds the bearer token that every request to Admin
	// must carry, when set; AdminToken is its content, read at load.
	AdminTokenFile string
	AdminToken     []byte
	// StatusListen serves the read-only views (GET /status) without the
	// token; "" for none.
	StatusListen string
	AdminLimits  AdminLimits
	// DrainMax bounds a timed drain (for=); drains until undrained are
	// always allowed.
	DrainMax time.Duration
	// StatusMaxPools is the most pools one /status response lists.
	StatusMaxPools int
	// StateFile keeps drains across restarts; "" keeps them in memory.
	StateFile string
	// InitialState of new targets: "probe" (the first probe round decides,
	// before DNS is served), "up" or "down".
	InitialState string
	Concurrency  int
	// StatusNames are the CH TXT names answering a pool's health
	// (status_label, status_clients).
	StatusNames dnsrr.StatusNames
	// ProbeSource is the address checks without their own source probe
	// from; the zero Addr lets the system choose.
	ProbeSource netip.Addr
}

// AdminLimits bound what a caller of the admin API can hold, per listener
// (Admin and StatusListen each). The README's Limits section gives the
// reason for each default.
type AdminLimits struct {
	// MaxConns is the most connections open at once; at the cap the
	// oldest idle one gives way to a new one (internal/app's connLimit).
	MaxConns       int
	MaxHeaderBytes int
	MaxBodyBytes   int64
	// ReadTimeout bounds reading a request (headers and body), WriteTimeout
	// the response, IdleTimeout a keep-alive connection between requests.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
}

// maxTokenFile bounds the token file: a token is one line.
const maxTokenFile = 4096

// minToken is the shortest token accepted: 128 bits of hex.
const minToken = 32

// Defaults of the configuration file, in one place.
var (
	DefaultListen      = []string{"127.0.0.1:5353", "[::1]:5353"}
	DefaultAdminLimits = AdminLimits{
		MaxConns: 32, MaxHeaderBytes: 8 << 10, MaxBodyBytes: 4 << 10,
		ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 30 * time.Second,
	}
	defaultHealth = HealthConfig{
		Admin: "127.0.0.1:8053", InitialState: "probe", Concurrency: 64,
		AdminLimits: DefaultAdminLimits, DrainMax: 7 * 24 * time.Hour, StatusMaxPools: 1000,
		StatusNames: dnsrr.StatusNames{Label: dnsrr.DefaultStatusLabel},
	}
	// A reload of a million records takes 5–9 s on an idle machine, 30–45 s
	// on a busy one (it runs at the lowest priority), and adds about 270 MB
	// of live heap (README, "Limits"): five minutes is ample for that and
	// still ends a load that hangs; half the memory leaves the other half
	// for the zones served while the new ones load.
	defaultReload = ReloadBudget{Timeout: 5 * time.Minute, MemoryPercent: 50}
	logLevels     = map[string]bool{"debug": true, "info": true, "warn": true, "error": true}
	logFormats    = map[string]bool{"console": true, "json": true}
)

// Default is the configuration before a file or flags change it.
func Default() *Config {
	return &Config{Listen: DefaultListen, LogLevel: "info", LogFormat: "console", Health: defaultHealth, Reload: defaultReload,
		Limits: zones.DefaultLimits(), Cookies: defaultCookies(), BadCookieSlip: true,
		QueryLog: defaultQueryLog, Watch: defaultWatch, Metrics: defaultMetrics()}
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
	if d, ok := root.Duration("reload_timeout", time.Millisecond, time.Hour); ok {
		c.Reload.Timeout = d
	}
	if root.Has("reload_memory") {
		v, _ := root.Get("reload_memory")
		bytes, percent, err := parseMemory(v)
		if err != nil {
			root.Errorf("reload_memory", "%v", err)
		}
		c.Reload.Memory, c.Reload.MemoryPercent = bytes, percent
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
		adminOK := true
		if v, ok := h.String("admin"); ok {
			if err := CheckAdminAddr(v); v != "" && err != nil {
				h.Errorf("admin", "%v", err)
				adminOK = false
			}
			c.Health.Admin = unixRelative(path, v)
		}
		if v, ok := h.String("admin_token_file"); ok && v != "" {
			c.Health.AdminTokenFile = relative(path, v)
			tok, err := ReadToken(c.Health.AdminTokenFile)
			if err != nil {
				h.Errorf("admin_token_file", "%v", err)
			}
			c.Health.AdminToken = tok
		}
		if err := c.Health.CheckAdmin(); err != nil && adminOK {
			h.Errorf("admin", "%v", err)
		}
		if v, ok := h.String("status_listen"); ok {
			if err := CheckAdminAddr(v); v != "" && err != nil {
				h.Errorf("status_listen", "%v", err)
			}
			c.Health.StatusListen = unixRelative(path, v)
		}
		loadAdminKeys(h, &c.Health)
		readStatusNames(h, &c.Health)
		if v, ok := h.String("state_file"); ok {
			c.Health.StateFile = relative(path, v)
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
		readProbeSource(h, &c.Health)
		h.Done()
	}
	if t, ok := root.Table("tcp"); ok {
		c.TCP = readTCP(t)
	}
	if checks, ok := root.Table("checks"); ok {
		c.Checks = map[string]*zones.Check{}
		for _, name := range checks.Keys() {
			if t, ok := checks.Table(name); ok && !t.UnquotedDots(zones.IsCheckKey) {
				c.Checks[name] = zones.ParseCheck(t, name, filepath.Dir(path))
			}
		}
		checks.Done()
	}
	if pools, ok := root.Table("pools"); ok {
		c.Pools = readPools(pools, c.Checks)
	}
	if v, ok := root.String("nsid"); ok {
		if len(v) > dnsrr.MaxNSID {
			root.Errorf("nsid", "is %d bytes; at most %d", len(v), dnsrr.MaxNSID)
		}
		c.NSID = v
	}
	if ch, ok := root.Table("chaos"); ok {
		c.Chaos.Version, _ = ch.String("version")
		c.Chaos.ID, _ = ch.String("id")
		ch.Done()
	}
	readLimits(root, c)
	readCookies(root, c)
	readRRL(root, c)
	readQueryLog(root, c)
	readWatch(root, c)
	readMetrics(root, c)
	readTransfer(root, c)
	readCluster(root, c)
	root.Done()
	return c, root.File().Errs.Err()
}

// relative resolves a path given in the file at config against its directory.
func relative(config, p string) string {
	if p != "" && !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(config), p)
	}
	return p
}

// loadAdminKeys reads the admin API's limits.
func loadAdminKeys(h *tomlfile.Table, c *HealthConfig) {
	l := &c.AdminLimits
	if v, ok := h.Int("admin_max_connections", 1, 4096); ok {
		l.MaxConns = int(v)
	}
	if v, ok := h.Int("admin_max_header_bytes", 1024, 1<<20); ok {
		l.MaxHeaderBytes = int(v)
	}
	if v, ok := h.Int("admin_max_body_bytes", 0, 1<<20); ok {
		l.MaxBodyBytes = v
	}
	for _, t := range []struct {
		key string
		d   *time.Duration
	}{{"admin_read_timeout", &l.ReadTimeout}, {"admin_write_timeout", &l.WriteTimeout}, {"admin_idle_timeout", &l.IdleTimeout}} {
		if v, ok := h.Duration(t.key, 100*time.Millisecond, 10*time.Minute); ok {
			*t.d = v
		}
	}
	if v, ok := h.Duration("drain_max", time.Minute, 10*365*24*time.Hour); ok {
		c.DrainMax = v
	}
	if v, ok := h.Int("status_max_pools", 1, 1000000); ok {
		c.StatusMaxPools = int(v)
	}
}

// CheckAdmin refuses an admin API that anyone who can reach it could use
// to change what is served: one off loopback without a token.
func (h *HealthConfig) CheckAdmin() error {
	if h.Admin == "" || len(h.AdminToken) > 0 || IsLocalAdmin(h.Admin) {
		return nil
	}
	return fmt.Errorf("%s is not a loopback address: set [health] admin_token_file (requests then need its bearer token), or bind the admin API to loopback", h.Admin)
}

// IsLocalAdmin reports whether the admin address is reachable from this
// host only: a loopback IP, or a Unix socket (whose file mode decides who
// may connect).
func IsLocalAdmin(addr string) bool {
	if _, ok := UnixSocket(addr); ok {
		return true
	}
	ap, err := netip.ParseAddrPort(addr)
	return err == nil && ap.Addr().IsLoopback()
}

// UnixSocket returns the path of an admin address "unix:PATH".
func UnixSocket(addr string) (path string, ok bool) {
	return strings.CutPrefix(addr, "unix:")
}

// CheckAdminAddr checks an address of the admin API: a listen address
// (CheckListenAddr) or unix:PATH.
func CheckAdminAddr(a string) error {
	if p, ok := UnixSocket(a); ok {
		if p == "" {
			return errors.New("unix: needs a path, e.g. unix:/run/dnsrr/admin.sock")
		}
		return nil
	}
	return CheckListenAddr(a)
}

// unixRelative resolves the path of a unix: address given in the file at
// config against its directory.
func unixRelative(config, addr string) string {
	if p, ok := UnixSocket(addr); ok {
		return "unix:" + relative(config, p)
	}
	return addr
}

// ReadToken reads a bearer token file: at most maxTokenFile bytes, a
// regular file (a FIFO must not hang the load), surrounding white space
// dropped. Errors never quote the file's content.
func ReadToken(path string) ([]byte, error) {
	b, _, err := safefile.ReadStable(path, maxTokenFile)
	if errors.As(err, new(*safefile.TooLargeError)) {
		return nil, fmt.Errorf("%s is larger than %d bytes: a token is one line", path, maxTokenFile)
	}
	if err != nil {
		return nil, err
	}
	tok := bytes.TrimSpace(b)
	if len(tok) < minToken || bytes.ContainsAny(tok, " \t\r\n") {
		return nil, fmt.Errorf("%s must hold one token of at least %d characters and no spaces (e.g. from: openssl rand -hex 32)", path, minToken)
	}
	return tok, nil
}

// readTCP reads the [tcp] table (README, "Limits").
func readTCP(t *tomlfile.Table) dnsrr.TCPLimits {
	var l dnsrr.TCPLimits
	count := func(key string, v *int) {
		if n, ok := t.Int(key, 1, 1_000_000_000); ok {
			*v = int(n)
		}
	}
	count("max_connections", &l.MaxConns)
	count("max_connections_per_prefix", &l.MaxConnsPerPrefix)
	count("max_queries", &l.MaxQueries)
	timeout := func(key string, v *time.Duration, hi time.Duration) {
		if d, ok := t.Duration(key, time.Millisecond, hi); ok {
			*v = d
		}
	}
	timeout("idle_timeout", &l.IdleTimeout, time.Hour)
	timeout("busy_idle_timeout", &l.BusyIdleTimeout, time.Hour)
	timeout("frame_timeout", &l.FrameTimeout, time.Minute)
	timeout("write_timeout", &l.WriteTimeout, time.Minute)
	idle := cmp.Or(l.IdleTimeout, dnsrr.DefaultTCPLimits.IdleTimeout)
	if l.BusyIdleTimeout > idle {
		t.Errorf("busy_idle_timeout", "%v is longer than idle_timeout (%v): it is the shorter timeout used when more than half the connections are taken", l.BusyIdleTimeout, idle)
	}
	t.Done()
	return l
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

// LoadZones loads the configured zones into a new snapshot. stop, if not
// nil, bounds the load (zones.Loader.Stop).
func (c *Config) LoadZones(stop func(file string) error) (*zones.Snapshot, error) {
	files, err := c.ZoneFiles()
	if err != nil {
		return nil, err
	}
	return c.loader(stop).Load(files)
}

func (c *Config) loader(stop func(string) error) zones.Loader {
	return zones.Loader{Checks: c.Checks, Pools: c.Pools, Stop: stop, Limits: c.Limits,
		// Secondaries compare serials only (README, "Zone transfers").
		SerialsMustRise: len(c.Transfer.Allow) > 0 || len(c.Transfer.Notify) > 0}
}

// ReloadZones loads the configured zones for a running server: see
// zones.Reload. The snapshot is nil when the zone list itself failed, or
// stop stopped the load.
func (c *Config) ReloadZones(old *zones.Snapshot, stop func(file string) error) (*zones.Snapshot, error) {
	files, err := c.ZoneFiles()
	if err != nil {
		return nil, err
	}
	l := c.loader(stop)
	// A running server's zone files may be being written right now.
	l.Settle = zones.DefaultSettle
	return l.Reload(files, old)
}

// sizeUnits are the suffixes a memory size may have.
var sizeUnits = []struct {
	suffix string
	bytes  uint64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// parseSize reads a size: "512MiB", "2GB", or a number of bytes.
func parseSize(v any) (uint64, error) {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return 0, fmt.Errorf("%d bytes is not a size", v)
		}
		return uint64(v), nil
	case string:
		s := strings.TrimSpace(v)
		for _, u := range sizeUnits {
			if num, ok := strings.CutSuffix(s, u.suffix); ok {
				f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
				if err != nil || f < 0 || f*float64(u.bytes) > 1<<50 {
					break
				}
				return uint64(f * float64(u.bytes)), nil
			}
		}
		if n, err := strconv.ParseUint(s, 10, 64); err == nil && n <= 1<<50 {
			return n, nil
		}
		return 0, fmt.Errorf("%q is not a size such as \"512MiB\" or \"2GB\"", v)
	}
	return 0, fmt.Errorf("must be a size such as \"512MiB\" or a number of bytes")
}

// parseMemory reads a size ("512MiB", "2GB", a number of bytes) or a
// share of the process's memory ("50%", 1 to 90).
func parseMemory(v any) (bytes uint64, percent int, err error) {
	if s, ok := v.(string); ok {
		if p, ok := strings.CutSuffix(strings.TrimSpace(s), "%"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || n < 1 || n > 90 {
				return 0, 0, fmt.Errorf("%q: a share of memory is 1%% to 90%%", s)
			}
			return 0, n, nil
		}
	}
	b, err := parseSize(v)
	if err != nil {
		return 0, 0, fmt.Errorf("%v, or a share such as \"50%%\"", err)
	}
	if b < 1<<20 {
		return 0, 0, fmt.Errorf("%v is below the minimum of 1MiB", v)
	}
	return b, 0, nil
}

// FormatSize writes a number of bytes for people: "512MiB", "1.5GiB".
func FormatSize(b uint64) string {
	for _, u := range []struct {
		suffix string
		bytes  uint64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b >= u.bytes {
			return strconv.FormatFloat(math.Round(float64(b)/float64(u.bytes)*10)/10, 'f', -1, 64) + u.suffix
		}
	}
	return strconv.FormatUint(b, 10) + "B"
}
