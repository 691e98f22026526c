package zones

import (
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dnsrr/dnsrr/zones/tomlfile"
	"github.com/miekg/dns"
)

// policyKeys are the keys of a pool table beyond its addresses and ttl:
// those a zone file's [pools.NAME] and the configuration's
// [pools."NAME."] share.
var policyKeys = []string{"order", "check", "min_healthy", "on_all_down", "max_answers", "weights", "sticky", "ttl_degraded", "ttl_degraded_drains", "slow_start"}

// IsPoolPolicyKey reports whether key is one of a configuration's
// [pools."NAME."] table's: a table t whose t.UnquotedDots(IsPoolPolicyKey)
// is true is not a pool.
func IsPoolPolicyKey(key string) bool { return slices.Contains(policyKeys, key) }

// policyRead is what readPolicy leaves to be checked against the pool's
// addresses and TTL: a zone file's pool has them beside its policy, a
// master file's pool only once its zone is loaded.
type policyRead struct {
	order   Order
	weights []poolWeight
	// weightsAt is the weights table (nil without one), for errors.
	weightsAt *tomlfile.Table
}

// poolWeight is one entry of a pool's weights table.
type poolWeight struct {
	key    string // as written; in a PoolPolicy, the full key path
	line   int    // in a PoolPolicy: the key's line
	addr   netip.Addr
	weight uint32
}

// readPolicy reads a pool table's policy keys into p. checkNamed finds a
// check by name; where says where a missing one could be defined.
func readPolicy(t *tomlfile.Table, p *Pool, checkNamed func(string) *Check, where string) policyRead {
	var r policyRead
	if s, ok := t.String("order"); ok {
		if r.order, ok = parseOrder(s); !ok {
			t.Errorf("order", "%q is not an order: use random, cyclic or fixed", s)
		}
	}
	if name, ok := t.String("check"); ok {
		if p.Check = checkNamed(name); p.Check == nil {
			t.Errorf("check", "no check named %q: define it under [checks.%s] %s", name, name, where)
		}
	}
	if v, ok := t.Get("min_healthy"); ok {
		switch v := v.(type) {
		case int64:
			if v < 1 {
				t.Errorf("min_healthy", "%d: a count is at least 1", v)
			}
			p.MinHealthy = int(v)
		case float64:
			if v <= 0 || v > 1 {
				t.Errorf("min_healthy", "%v: a fraction is above 0 and at most 1", v)
			}
			p.MinFraction = v
		default:
			t.Errorf("min_healthy", "must be a count (2) or a fraction (0.5)")
		}
	}
	if s, ok := t.String("on_all_down"); ok {
		found := false
		for i, n := range policyNames {
			if n == s {
				p.OnAllDown, found = Policy(i), true
			}
		}
		if !found {
			t.Errorf("on_all_down", "%q: use all (serve every member), none (NODATA) or servfail", s)
		}
	}
	if v, ok := t.Int("ttl_degraded", 1, maxTTL); ok {
		p.TTLDegraded = uint32(v)
	}
	if v, ok := t.Bool("ttl_degraded_drains"); ok {
		p.TTLDegradedDrains = v
	}
	if d, ok := t.Duration("slow_start", time.Second, time.Hour); ok {
		p.SlowStart = d
	}
	if p.Check == nil && (t.Has("min_healthy") || t.Has("on_all_down") || t.Has("ttl_degraded") || t.Has("slow_start")) {
		t.Errorf("", "min_healthy, on_all_down, ttl_degraded and slow_start need a check")
	}
	if v, ok := t.Int("max_answers", 1, MaxAnswersLimit); ok {
		p.MaxAnswers = int(v)
	}
	if v, ok := t.String("sticky"); ok {
		switch v {
		case "client":
			p.Sticky = true
		case "none":
		default:
			t.Errorf("sticky", "%q: use \"client\" (each client keeps its members) or \"none\"", v)
		}
	}
	wt, hasWeights := t.Table("weights")
	// Keys that would be read and then ignored are mistakes: say so.
	switch {
	case p.Sticky && r.order != OrderRandom:
		t.Errorf("order", "a sticky pool orders each client's answer by its own hash: leave order out")
	case hasWeights && r.order != OrderRandom:
		t.Errorf("weights", "weights act on order = \"random\" and sticky pools, not on %s order", r.order)
	case p.SlowStart > 0 && r.order != OrderRandom:
		t.Errorf("slow_start", "ramps weights, which act on order = \"random\" and sticky pools, not on %s order", r.order)
	}
	if p.TTLDegradedDrains && p.TTLDegraded == 0 {
		t.Errorf("ttl_degraded_drains", "needs ttl_degraded, the TTL it would lower during drains")
	}
	if hasWeights {
		r.weightsAt = wt
		for _, k := range wt.Keys() {
			w, ok := wt.Int(k, 1, MaxWeight)
			a, err := netip.ParseAddr(k)
			switch {
			case err != nil:
				wt.Errorf(k, "%q is not an IP address: weights maps member addresses to weights", k)
			case ok:
				r.weights = append(r.weights, poolWeight{key: k, addr: a.Unmap(), weight: uint32(w)})
			}
		}
	}
	return r
}

// weightsOf is the weights of p's members among ws; notMember is told of
// each weight whose address is none of them.
func weightsOf(p *Pool, ws []poolWeight, notMember func(poolWeight)) map[netip.Addr]uint32 {
	var out map[netip.Addr]uint32
	for _, w := range ws {
		if !p.HasMember(w.addr) {
			notMember(w)
			continue
		}
		if out == nil {
			out = map[netip.Addr]uint32{}
		}
		out[w.addr] = w.weight
	}
	return out
}

// PoolPolicy is a pool's policy given in the configuration
// ([pools."NAME."]) for a pool of a master file, whose records carry only
// addresses and TTLs. Loader applies it to the pool of that name, and
// reports the mistakes it can only see then (a name that is no pool, a
// weight for an address the pool lacks) at the configuration's lines.
type PoolPolicy struct {
	Name string // lower-case, fully qualified
	File string // the configuration, for errors found at load
	Line int
	key  string // the table's key path
	// settings are given to the pool whole, weights included once each
	// is found to name a member (weightList, with their lines).
	settings        poolSettings
	order           Order
	weightList      []poolWeight
	ttlDegradedLine int
}

// ParsePoolPolicy reads a configuration's [pools."NAME."] table; checks
// are the configuration's. Problems are recorded in the table's file; it
// returns nil when the name itself is wrong.
func ParsePoolPolicy(t *tomlfile.Table, name string, checks map[string]*Check) *PoolPolicy {
	pol := &PoolPolicy{File: t.File().Name, Line: t.Line(""), key: t.Path()}
	nameOK := validName(name) && dns.IsFqdn(name)
	if !nameOK {
		t.Errorf("", "%q is not a fully qualified name: write the pool's whole name with the final dot, e.g. [pools.\"www.example.com.\"]", name)
	}
	for _, k := range []string{"addresses", "ttl"} {
		if t.Has(k) {
			t.Get(k)
			t.Errorf(k, "comes from the master file; the configuration gives a pool's policy only")
		}
	}
	var p Pool
	r := readPolicy(t, &p, func(name string) *Check { return checks[name] }, "in the configuration")
	t.Done()
	pol.settings, pol.order = p.poolSettings, r.order
	if pol.settings.TTLDegraded > 0 {
		pol.ttlDegradedLine = t.Line("ttl_degraded")
	}
	for _, w := range r.weights {
		w.key, w.line = r.weightsAt.KeyPath(w.key), r.weightsAt.Line(w.key)
		pol.weightList = append(pol.weightList, w)
		if pol.settings.weights == nil {
			pol.settings.weights = map[netip.Addr]uint32{}
		}
		// Shared by the pools of every load: nothing writes to it.
		pol.settings.weights[w.addr] = w.weight
	}
	if !nameOK {
		return nil
	}
	pol.Name = canonicalName(name)
	return pol
}

// errorf records a problem with the policy's table, or with key in it.
func (pol *PoolPolicy) errorf(errs *tomlfile.List, line int, key, format string, args ...any) {
	if line == 0 {
		line = pol.Line
	}
	errs.Add(pol.File, line, key, format, args...)
}

// applyPolicies gives the pools of z, just built from its file, the
// configuration's policies for them, and returns the names of the
// policies it found a pool for. Problems go to errs, at the
// configuration's lines: the zone then fails as if its file were wrong,
// so a reload keeps the version served.
func (l Loader) applyPolicies(z *Zone, errs *tomlfile.List) (found []string) {
	for name, pol := range l.Pools {
		p := z.poolAt(name)
		if p == nil {
			continue // reported by unmatchedPolicies, against the zone that should hold it
		}
		found = append(found, name)
		if IsTOML(z.File) {
			pol.errorf(errs, 0, pol.key, "%s is a pool of the TOML zone %s: give its policy in that file, under [pools] (a pool's settings are in one place)", name, z.File)
			continue
		}
		pol.apply(p, z.File, errs)
	}
	return found
}

// poolAt is the pool at the lower-case name, or nil.
func (z *Zone) poolAt(name string) *Pool {
	if !inZone(z.Origin, name) {
		return nil
	}
	n := z.nodes[name]
	if n == nil {
		return nil
	}
	for _, s := range [...]*RRset{n.Get(dns.TypeA), n.Get(dns.TypeAAAA)} {
		if s != nil && s.Pool != nil {
			return s.Pool
		}
	}
	return nil
}

// apply gives p, a pool of the master file, the policy, once it fits.
func (pol *PoolPolicy) apply(p *Pool, file string, errs *tomlfile.List) {
	before := errs.Len()
	for _, w := range pol.weightList {
		if !p.HasMember(w.addr) {
			pol.errorf(errs, w.line, w.key, "%s is not one of the addresses of %s in %s", w.addr, p.Name, file)
		}
	}
	for _, s := range p.sets {
		if d := pol.settings.TTLDegraded; s != nil && d > 0 && d >= s.TTL {
			pol.errorf(errs, pol.ttlDegradedLine, pol.key+".ttl_degraded", "%d is not below the TTL of the %s records of %s in %s (%d)",
				d, dns.TypeToString[s.Type], p.Name, file, s.TTL)
			break
		}
	}
	if errs.Len() > before {
		return
	}
	p.poolSettings = pol.settings
	for _, s := range p.sets {
		if s == nil {
			continue
		}
		s.Order = pol.order
		if s.Order == OrderCyclic && s.rotation == nil {
			s.rotation = new(atomic.Uint32)
		}
	}
	p.setAddresses(p.sets[0], p.sets[1])
}

// unmatchedPolicies reports the configuration's pools that no file of the
// load has a pool for (a typo must not silently do nothing): against the
// file whose zone holds the name, which then fails like a bad file, or,
// when no zone holds it, on its own.
func (l Loader) unmatchedPolicies(loaded []loadedFile, errs *tomlfile.List) {
	if len(l.Pools) == 0 {
		return
	}
	found := map[string]bool{}
	unparsed := false
	for _, lf := range loaded {
		for _, name := range lf.pools {
			found[name] = true
		}
		unparsed = unparsed || lf.origin == ""
	}
	names := make([]string, 0, len(l.Pools))
	for name := range l.Pools {
		if !found[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		pol := l.Pools[name]
		// The zone that holds the name is the one of the longest origin
		// above it (a child zone, not its parent's glue).
		var home *loadedFile
		for i := range loaded {
			lf := &loaded[i]
			if lf.origin != "" && inZone(lf.origin, name) && (home == nil || len(lf.origin) > len(home.origin)) {
				home = lf
			}
		}
		switch {
		case home == nil && unparsed:
			// The file that does not parse may be the one that holds it;
			// its own errors fail the load already.
		case home == nil:
			pol.errorf(errs, 0, pol.key, "no zone loaded holds %s", name)
		case home.zone == nil:
			// A zone that failed to build: its errors say why, and whether
			// it has the pool cannot be told. (Other policies' mistakes
			// leave it built, and this one is reported beside them.)
		default:
			pol.errorf(home.built, 0, pol.key, "%s", notAPool(home.zone, name))
		}
	}
}

// notAPool says why the lower-case name is not a pool of z.
func notAPool(z *Zone, name string) string {
	n := z.nodes[name]
	switch {
	case n == nil || len(n.Sets) == 0:
		return name + " has no records in zone " + z.Origin + " (" + z.File + ")"
	case IsTOML(z.File):
		return name + " is in the TOML zone " + z.File + ": a pool there is a [pools] table, which holds its policy"
	}
	for _, s := range [...]*RRset{n.Get(dns.TypeA), n.Get(dns.TypeAAAA)} {
		if s != nil && s.Len() > 1 {
			return name + " is glue below a delegation in " + z.File + ", not a pool"
		}
	}
	var types []string
	for _, s := range n.Sets {
		types = append(types, dns.TypeToString[s.Type])
	}
	return name + " is no pool in " + z.File + " (it has " + strings.Join(types, ", ") +
		"): a pool is a name with several A or AAAA records"
}
