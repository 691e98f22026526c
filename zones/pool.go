package zones

import (
	"math"
	"net/netip"
	"path/filepath"
	"slices"
	"time"

	"github.com/dnsrr/dnsrr/healthprobe"
	"github.com/dnsrr/dnsrr/zones/tomlfile"
	"github.com/miekg/dns"
)

// Policy says what a checked pool serves when fewer members are up than
// its minimum.
type Policy uint8

const (
	// PolicyAll serves every member, up or not (fail open): a prober fault
	// must never blackhole a name. The default.
	PolicyAll Policy = iota
	// PolicyNone serves no address (NODATA).
	PolicyNone
	// PolicyServfail answers SERVFAIL, so resolvers try elsewhere or fail fast.
	PolicyServfail
)

var policyNames = [...]string{PolicyAll: "all", PolicyNone: "none", PolicyServfail: "servfail"}

func (p Policy) String() string { return policyNames[p] }

// Bounds of a pool's max_answers and weights.
const (
	// MaxAnswersLimit is as many A records as a 1232-byte UDP answer holds
	// with room to spare (AAAA records past about 40 need TCP).
	MaxAnswersLimit = 64
	// MaxWeight bounds a member's weight: ratios up to 1000:1 are plenty,
	// and the sum of a pool's weights stays far from overflow.
	MaxWeight = 1000
)

// Pool is a name whose addresses clients are shared over, with how its
// members are checked and what to serve when too few are up.
type Pool struct {
	Name string // owner, lower-case, fully qualified
	// members, when set, are the addresses in the order the zone listed
	// them; otherwise they are those of sets (A, then AAAA).
	members []netip.Addr
	sets    [2]*RRset
	poolSettings
	// ID is the pool's position in its zone's PoolDefs, so that the server
	// keeps per-pool state in a slice rather than a map.
	ID int
}

// poolSettings are what a pool table says beyond the pool's addresses,
// TTL and order: apart, so that a master file's pool takes them from the
// configuration whole (PoolPolicy).
type poolSettings struct {
	Check *Check // nil: a static pool, never withdrawn
	// MinHealthy is how many members of an address family must be up for
	// only the up ones to be served; MinFraction, when set, is the same as
	// a fraction of the family's members. Default: 1.
	MinHealthy  int
	MinFraction float64
	OnAllDown   Policy
	// MaxAnswers (max_answers) is how many members of each address family
	// a response carries, a fresh choice each time; 0: all.
	MaxAnswers int
	// TTLDegraded (ttl_degraded), when above 0, is the TTL of the pool's
	// answers while any member is down, and while any is drained if
	// TTLDegradedDrains (ttl_degraded_drains).
	TTLDegraded       uint32
	TTLDegradedDrains bool
	// SlowStart (slow_start) is how long a member that comes up takes to
	// reach its full weight; 0: at once.
	SlowStart time.Duration
	// Sticky (sticky = "client") gives each client its own order, kept
	// while its members serve (rendezvous hashing of its address).
	Sticky bool
	// weights are the members given a weight other than 1 (weights).
	weights map[netip.Addr]uint32
}

// Members are the pool's addresses, IPv4 and IPv6, in file order. A large
// zone has many pools whose members nobody asks for (without a check, they
// only show on the admin API's status page): they are listed when asked.
func (p *Pool) Members() []netip.Addr {
	if p.members != nil {
		return p.members
	}
	return p.AppendMembers(nil)
}

// AppendMembers appends the pool's addresses to dst: Members without an
// allocation per pool, for passes over every pool.
func (p *Pool) AppendMembers(dst []netip.Addr) []netip.Addr {
	if p.members != nil {
		return append(dst, p.members...)
	}
	for _, s := range p.sets {
		if s != nil {
			for i := range s.Len() {
				dst = append(dst, s.Addr(i))
			}
		}
	}
	return dst
}

// MemberCount is len(Members()), without listing them.
func (p *Pool) MemberCount() int {
	if p.members != nil {
		return len(p.members)
	}
	n := 0
	for _, s := range p.sets {
		if s != nil {
			n += s.Len()
		}
	}
	return n
}

// HasMember reports whether a is one of the pool's addresses, without
// listing them.
func (p *Pool) HasMember(a netip.Addr) bool {
	if p.members != nil {
		return slices.Contains(p.members, a)
	}
	for _, s := range p.sets {
		if s != nil && s.HasAddr(a) {
			return true
		}
	}
	return false
}

// setAddresses links the pool and its address sets (either may be nil).
func (p *Pool) setAddresses(a, aaaa *RRset) {
	p.sets = [2]*RRset{a, aaaa}
	for _, s := range p.sets {
		if s == nil {
			continue
		}
		s.Pool = p
		s.MaxAnswers, s.Sticky = p.MaxAnswers, p.Sticky
		if len(p.weights) > 0 {
			s.Weights = make([]uint32, s.Len())
			for i := range s.Weights {
				s.Weights[i] = p.Weight(s.Addr(i))
			}
		}
	}
}

// Weight is a member's weight: 1 unless the pool's weights say otherwise.
func (p *Pool) Weight(a netip.Addr) uint32 {
	if w, ok := p.weights[a]; ok {
		return w
	}
	return 1
}

// Need is how many of n members of one address family must be up.
func (p *Pool) Need(n int) int {
	if p.MinFraction > 0 {
		return max(1, int(math.Ceil(p.MinFraction*float64(n)-1e-9)))
	}
	return min(max(p.MinHealthy, 1), n)
}

// Check is a health check as written in a zone or the configuration: its
// name and where it is defined, for errors found when it is used, and the
// probe itself. Probe is the prober's own type, so the two never drift
// apart; fields left zero take healthprobe's defaults (Check.ApplyDefaults)
// when the probe is planned, the one place defaults are applied.
type Check struct {
	Name string
	File string // where it is defined
	Line int
	// Probe is what the prober runs. Its CAFile is read (RootCAs) and an
	// unset Source takes [health] probe_source when targets are planned,
	// on every reload; Probe itself is never modified once parsed.
	Probe healthprobe.Check
}

// ReportsWeight reports whether the backends checked by c say what share
// of their weight they want (weight_header).
func (c *Check) ReportsWeight() bool { return c != nil && c.Probe.WeightHeader != "" }

// ParseCheck reads a [checks.NAME] table; relative ca_file paths are
// relative to dir. Problems are recorded in the table's file.
func ParseCheck(t *tomlfile.Table, name, dir string) *Check {
	c := &Check{Name: name, File: t.File().Name, Line: t.Line("")}
	pc := &c.Probe
	var ok bool
	if pc.Kind, ok = t.String("type"); !ok {
		if !t.Has("type") {
			t.Errorf("", "type is missing: tcp, http or https")
		}
	} else if !slices.Contains(checkTypes, pc.Kind) {
		t.Errorf("type", "%q is not a check type: use tcp, http or https", pc.Kind)
	}
	if v, ok := t.Int("port", 1, 65535); ok {
		pc.Port = int(v)
	} else if !t.Has("port") && pc.Kind == healthprobe.KindTCP {
		t.Errorf("", "port is missing: a tcp check needs one")
	}
	if v, ok := t.String("source"); ok {
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() {
			t.Errorf("source", "%q is not a unicast IP address of this host to probe from", v)
		}
		pc.Source = a.Unmap()
	}
	pc.Interval = duration(t, "interval")
	pc.Timeout = duration(t, "timeout")
	if v, ok := t.Int("fall", 1, 1000); ok {
		pc.Fall = int(v)
	}
	if v, ok := t.Int("rise", 1, 1000); ok {
		pc.Rise = int(v)
	}
	http := pc.Kind == healthprobe.KindHTTP || pc.Kind == healthprobe.KindHTTPS
	for _, k := range httpKeys {
		if !http && t.Has(k) {
			t.Get(k)
			t.Errorf(k, "only http and https checks have %s", k)
		}
	}
	if pc.Method, ok = t.String("method"); ok && pc.Method != "GET" && pc.Method != "HEAD" {
		t.Errorf("method", "%q: use GET or HEAD", pc.Method)
	}
	if pc.Path, ok = t.String("path"); ok && (pc.Path == "" || pc.Path[0] != '/') {
		t.Errorf("path", "%q must start with /", pc.Path)
	}
	pc.Host, _ = t.String("host")
	if expect, ok := t.Strings("expect"); ok {
		var err error
		if pc.Status, err = healthprobe.ParseStatusRanges(expect); err != nil {
			t.Errorf("expect", "%v", err)
		}
	}
	pc.BodyContains, _ = t.String("body")
	pc.InsecureSkipVerify, _ = t.Bool("insecure")
	if pc.WeightHeader, ok = t.String("weight_header"); ok && !healthprobe.ValidHeaderName(pc.WeightHeader) {
		t.Errorf("weight_header", "%q is not an HTTP header name", pc.WeightHeader)
	}
	if pc.CAFile, ok = t.String("ca_file"); ok && !filepath.IsAbs(pc.CAFile) {
		pc.CAFile = filepath.Join(dir, pc.CAFile)
	}
	t.Done()
	return c
}

var (
	checkTypes = []string{healthprobe.KindTCP, healthprobe.KindHTTP, healthprobe.KindHTTPS}
	httpKeys   = []string{"method", "path", "host", "expect", "body", "insecure", "ca_file", "weight_header"}
)

// duration reads "5s", "500ms" or a whole number of seconds.
func duration(t *tomlfile.Table, key string) time.Duration {
	v, ok := t.Get(key)
	if !ok {
		return 0
	}
	var d time.Duration
	switch v := v.(type) {
	case int64:
		d = time.Duration(v) * time.Second
	case string:
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			t.Errorf(key, "%q is not a duration such as \"5s\" or \"500ms\"", v)
			return 0
		}
	default:
		t.Errorf(key, "must be a duration such as \"5s\"")
		return 0
	}
	if d <= 0 || d > time.Hour {
		t.Errorf(key, "%v is out of range: above 0, at most 1h", d)
		return 0
	}
	return d
}

// AddrOf is the address of an A or AAAA record.
func AddrOf(rr dns.RR) netip.Addr {
	switch rr := rr.(type) {
	case *dns.A:
		a, _ := netip.AddrFromSlice(rr.A.To4())
		return a
	case *dns.AAAA:
		a, _ := netip.AddrFromSlice(rr.AAAA)
		return a
	}
	return netip.Addr{}
}
