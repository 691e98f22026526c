package healthprobe

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Check kinds.
const (
	KindTCP   = "tcp"   // connect, then close
	KindHTTP  = "http"  // HTTP request over plain TCP
	KindHTTPS = "https" // HTTP request over TLS, certificate verified by default
)

// Defaults applied by Check.ApplyDefaults to fields left at their zero value.
const (
	DefaultInterval  = 5 * time.Second
	DefaultTimeout   = 2 * time.Second
	DefaultFall      = 3
	DefaultRise      = 2
	DefaultMethod    = "GET"
	DefaultPath      = "/"
	DefaultBodyLimit = 64 << 10
	// DefaultUserAgent is sent with every HTTP probe unless
	// Options.UserAgent says otherwise.
	DefaultUserAgent = "dnsrr-healthprobe/1"
)

// StatusRange is an inclusive range of HTTP status codes; a single code has
// Min == Max.
type StatusRange struct {
	Min, Max int
}

// String formats r as "200" or "200-299", the form ParseStatusRanges reads.
func (r StatusRange) String() string {
	if r.Min == r.Max {
		return strconv.Itoa(r.Min)
	}
	return strconv.Itoa(r.Min) + "-" + strconv.Itoa(r.Max)
}

// DefaultStatus is the set of HTTP status codes accepted when Check.Status
// is empty: any success or redirect. Redirects are not followed, so a 3xx
// means the server answered.
var DefaultStatus = []StatusRange{{200, 399}}

// ParseStatusRanges parses status codes written as "200" or "200-299".
// Codes must lie within 100-599.
func ParseStatusRanges(s []string) ([]StatusRange, error) {
	out := make([]StatusRange, 0, len(s))
	for _, e := range s {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(e), "-")
		minCode, err := parseStatusCode(lo)
		if err != nil {
			return nil, fmt.Errorf("status %q: %w", e, err)
		}
		maxCode := minCode
		if isRange {
			if maxCode, err = parseStatusCode(hi); err != nil {
				return nil, fmt.Errorf("status %q: %w", e, err)
			}
		}
		r := StatusRange{minCode, maxCode}
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("status %q: %w", e, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func parseStatusCode(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, errors.New("not a status code")
	}
	return n, nil
}

func (r StatusRange) validate() error {
	switch {
	case r.Min < 100 || r.Min > 599 || r.Max < 100 || r.Max > 599:
		return errors.New("status codes lie within 100-599")
	case r.Min > r.Max:
		return errors.New("range is reversed")
	}
	return nil
}

// Check says how to probe a target. One Check is typically defined once and
// shared by many targets; the prober never modifies it, and it must not be
// modified once handed to Prober.SetTargets.
//
// Zero fields take the documented defaults (see ApplyDefaults); fields
// marked http/https must be left zero for a tcp check.
type Check struct {
	// Kind is KindTCP, KindHTTP or KindHTTPS.
	Kind string
	// Port to connect to. Default: 80 for http, 443 for https; required for tcp.
	Port int
	// Interval between the starts of two probes. Default 5s.
	Interval time.Duration
	// Timeout bounds one probe (connect, TLS, request, body). Default 2s;
	// must be shorter than Interval.
	Timeout time.Duration
	// Fall is the number of consecutive failures that take an up target
	// down. Default 3.
	Fall int
	// Rise is the number of consecutive successes that bring a down target
	// back up. Default 2.
	Rise int

	// Method is GET (the default) or HEAD. http/https only.
	Method string
	// Path is the request path, with an optional query. Default "/".
	// http/https only.
	Path string
	// Host overrides the Host header and, for https, the TLS server name
	// (SNI) that the certificate is verified against. It may carry a port
	// ("www.example.org:8443"), which goes into the Host header only.
	// Default: the target's address and port. http/https only.
	Host string
	// Status lists the accepted status codes. Default DefaultStatus
	// (200-399). http/https only.
	Status []StatusRange
	// BodyContains, if set, must occur within the first BodyLimit bytes of
	// the response body. Not allowed with HEAD. http/https only.
	BodyContains string
	// BodyLimit caps how much of the body is read when BodyContains is
	// set. Default 64 KiB. http/https only.
	BodyLimit int64
	// InsecureSkipVerify disables certificate verification. Certificates
	// are verified by default. https only.
	InsecureSkipVerify bool
	// WeightHeader, if set, names a response header in which the backend
	// reports the share of its weight it wants, in percent (see
	// ParseWeight). http/https only.
	WeightHeader string
	// CAFile names a PEM file of the roots to verify with instead of the
	// system's. The prober does not read it: whoever plans the targets
	// loads it into RootCAs and RootCAsID. https only.
	CAFile string
	// RootCAs verifies the server's certificate; nil means the system
	// roots. https only.
	RootCAs *x509.CertPool
	// RootCAsID names RootCAs in Target.Key (for example the CA file's
	// path and a hash of its contents), so that a reload which rebuilds an
	// identical pool keeps the targets' state. If empty while RootCAs is
	// set, Key falls back to the pool's address in memory.
	RootCAsID string
	// Source is the local address probes are sent from; the zero Addr
	// lets the system choose. It matters where the route to a target, or
	// the target's firewall, depends on the source.
	Source netip.Addr
}

func (c *Check) isHTTP() bool { return c.Kind == KindHTTP || c.Kind == KindHTTPS }

// ApplyDefaults sets every zero field that has a default to that default.
// Fields that only apply to http and https are left alone for tcp.
func (c *Check) ApplyDefaults() {
	if c.Port == 0 {
		switch c.Kind {
		case KindHTTP:
			c.Port = 80
		case KindHTTPS:
			c.Port = 443
		}
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Fall == 0 {
		c.Fall = DefaultFall
	}
	if c.Rise == 0 {
		c.Rise = DefaultRise
	}
	if !c.isHTTP() {
		return
	}
	if c.Method == "" {
		c.Method = DefaultMethod
	}
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if len(c.Status) == 0 {
		c.Status = slices.Clone(DefaultStatus)
	}
	if c.BodyLimit == 0 {
		c.BodyLimit = DefaultBodyLimit
	}
}

// withDefaults returns a copy of c with ApplyDefaults applied; c itself is
// left untouched because it may be shared.
func (c *Check) withDefaults() *Check {
	d := *c
	d.ApplyDefaults()
	return &d
}

// Validate reports every problem with c, as if ApplyDefaults had been
// called first (so zero fields are fine), joined with errors.Join.
func (c *Check) Validate() error {
	d := c.withDefaults()
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	switch d.Kind {
	case KindTCP, KindHTTP, KindHTTPS:
	case "":
		bad("kind is missing (tcp, http or https)")
	default:
		bad("kind %q is not tcp, http or https", d.Kind)
	}
	if d.Port < 1 || d.Port > 65535 {
		bad("port %d is not within 1-65535", d.Port)
	}
	if d.Interval <= 0 {
		bad("interval %s must be positive", d.Interval)
	}
	if d.Timeout <= 0 {
		bad("timeout %s must be positive", d.Timeout)
	} else if d.Timeout >= d.Interval {
		// A probe still running when the next is due would pile up.
		bad("timeout %s must be shorter than interval %s", d.Timeout, d.Interval)
	}
	if d.Fall < 1 {
		bad("fall %d must be at least 1", d.Fall)
	}
	if d.Rise < 1 {
		bad("rise %d must be at least 1", d.Rise)
	}

	if !d.isHTTP() {
		httpOnly := []struct {
			name string
			set  bool
		}{
			{"method", d.Method != ""}, {"path", d.Path != ""}, {"host", d.Host != ""},
			{"status", len(d.Status) > 0}, {"body_contains", d.BodyContains != ""},
			{"body_limit", d.BodyLimit != 0}, {"weight_header", d.WeightHeader != ""},
		}
		for _, f := range httpOnly {
			if f.set {
				bad("%s applies to http and https checks only", f.name)
			}
		}
	}
	if d.Kind != KindHTTPS {
		if d.InsecureSkipVerify || d.RootCAs != nil || d.RootCAsID != "" || d.CAFile != "" {
			bad("certificate settings apply to https checks only")
		}
	} else if d.CAFile != "" && d.RootCAs == nil {
		bad("ca_file %s is not loaded", d.CAFile)
	}
	if !d.isHTTP() {
		return errors.Join(errs...)
	}

	switch d.Method {
	case "GET", "HEAD":
	default:
		bad("method %q is not GET or HEAD", d.Method)
	}
	if !strings.HasPrefix(d.Path, "/") {
		bad("path %q must start with /", d.Path)
	} else if _, err := url.ParseRequestURI(d.Path); err != nil {
		bad("path %q: %v", d.Path, err)
	}
	if d.Host != "" {
		if strings.ContainsAny(d.Host, "/ \t\r\n@?#") {
			bad("host %q is not a host name", d.Host)
		}
	}
	for _, r := range d.Status {
		if err := r.validate(); err != nil {
			bad("status %s: %v", r, err)
		}
	}
	if d.WeightHeader != "" && !ValidHeaderName(d.WeightHeader) {
		bad("weight_header %q is not a header name", d.WeightHeader)
	}
	if d.BodyLimit < 1 {
		bad("body_limit %d must be positive", d.BodyLimit)
	}
	if d.BodyContains != "" {
		if d.Method == "HEAD" {
			bad("body_contains needs a body: not allowed with HEAD")
		}
		if int64(len(d.BodyContains)) > d.BodyLimit {
			bad("body_contains is longer than body_limit %d", d.BodyLimit)
		}
	}
	return errors.Join(errs...)
}

// serverName is the TLS server name derived from Host, without its port;
// "" lets the transport use the address.
func (c *Check) serverName() string {
	if c.Host == "" {
		return ""
	}
	if h, _, err := net.SplitHostPort(c.Host); err == nil {
		return h
	}
	return c.Host
}

// Target is one address probed with one Check. Several pools naming the
// same address and an identical check share one Target (same Key), which
// is probed once.
type Target struct {
	Addr  netip.Addr
	Check *Check
}

// AddrPort is the address and port probed, as used in logs ("target").
func (t Target) AddrPort() netip.AddrPort {
	port := 0
	if t.Check != nil {
		port = t.Check.withDefaults().Port
	}
	return netip.AddrPortFrom(t.Addr, uint16(port))
}

// Key is the target's stable identity: the address, the port and every
// check parameter, with defaults applied, so that two targets with the
// same Key are indistinguishable to a probe. The prober keeps a target's
// state across SetTargets calls while its Key is unchanged.
func (t Target) Key() string {
	if t.Check == nil {
		return t.Addr.String()
	}
	c := t.Check.withDefaults()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s interval=%s timeout=%s fall=%d rise=%d",
		netip.AddrPortFrom(t.Addr, uint16(c.Port)), c.Kind, c.Interval, c.Timeout, c.Fall, c.Rise)
	if c.Source.IsValid() {
		b.WriteString(" source=" + c.Source.String())
	}
	if !c.isHTTP() {
		return b.String()
	}
	fmt.Fprintf(&b, " %s %s", c.Method, strconv.Quote(c.Path))
	if c.Host != "" {
		fmt.Fprintf(&b, " host=%s", strconv.Quote(c.Host))
	}
	b.WriteString(" status=" + formatRanges(c.Status))
	if c.BodyContains != "" {
		fmt.Fprintf(&b, " body=%s limit=%d", strconv.Quote(c.BodyContains), c.BodyLimit)
	}
	if c.WeightHeader != "" {
		// Canonical: the header is matched in any case.
		b.WriteString(" weight=" + http.CanonicalHeaderKey(c.WeightHeader))
	}
	if c.InsecureSkipVerify {
		b.WriteString(" insecure")
	}
	switch {
	case c.RootCAsID != "":
		fmt.Fprintf(&b, " ca=%s", strconv.Quote(c.RootCAsID))
	case c.RootCAs != nil:
		fmt.Fprintf(&b, " ca=%p", c.RootCAs)
	}
	return b.String()
}

// SharedKey is Key without the probe source: the same for every instance
// that probes this target this way, whatever address each probes from.
func (t Target) SharedKey() string {
	if t.Check == nil || !t.Check.Source.IsValid() {
		return t.Key()
	}
	c := *t.Check
	c.Source = netip.Addr{}
	return Target{Addr: t.Addr, Check: &c}.Key()
}
