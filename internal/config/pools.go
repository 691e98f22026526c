package config

import (
	"slices"

	"github.com/dnsrr/dnsrr/zones"
	"github.com/dnsrr/dnsrr/zones/tomlfile"
)

// readPools reads the [pools] table: the policies of pools that master
// files define by their addresses alone, by fully qualified name. checks
// are the configuration's, the only ones such a pool may name.
func readPools(t *tomlfile.Table, checks map[string]*zones.Check) map[string]*zones.PoolPolicy {
	out := map[string]*zones.PoolPolicy{}
	// In file order, so that of two spellings of a name the later one is
	// reported.
	names := t.Keys()
	slices.SortStableFunc(names, func(a, b string) int { return t.Line(a) - t.Line(b) })
	for _, name := range names {
		pt, ok := t.Table(name)
		if !ok || pt.UnquotedDots(zones.IsPoolPolicyKey) {
			continue
		}
		p := zones.ParsePoolPolicy(pt, name, checks)
		if p == nil {
			continue
		}
		// Names are case-insensitive: two spellings of one name would
		// otherwise leave one of them silently unused.
		if prev, dup := out[p.Name]; dup {
			pt.Errorf("", "the same pool as the table at line %d (names are case-insensitive)", prev.Line)
			continue
		}
		out[p.Name] = p
	}
	t.Done()
	return out
}
