package zones

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dnsrr/dnsrr/zones/tomlfile"
	"github.com/miekg/dns"
)

// configLoader is a Loader with the [checks] and [pools] of a
// configuration file holding text (as internal/config reads them); the
// file must be free of mistakes.
func configLoader(t *testing.T, text string) Loader {
	t.Helper()
	root, err := tomlfile.Parse("dnsrr.toml", text)
	if err != nil {
		t.Fatal(err)
	}
	l := Loader{Checks: map[string]*Check{}, Pools: map[string]*PoolPolicy{}}
	if checks, ok := root.Table("checks"); ok {
		for _, name := range checks.Keys() {
			ct, _ := checks.Table(name)
			l.Checks[name] = ParseCheck(ct, name, ".")
		}
	}
	if pools, ok := root.Table("pools"); ok {
		for _, name := range pools.Keys() {
			pt, _ := pools.Table(name)
			if p := ParsePoolPolicy(pt, name, l.Checks); p != nil {
				l.Pools[p.Name] = p
			}
		}
	}
	if err := root.File().Errs.Err(); err != nil {
		t.Fatalf("configuration: %v", err)
	}
	return l
}

// TestConfigPoolPolicies: the configuration's policy reaches the master
// file's pool of that name (spelt in any case) whole, its address sets
// included; the other pools keep the defaults.
func TestConfigPoolPolicies(t *testing.T) {
	l := configLoader(t, `
[checks.web]
type = "tcp"
port = 8080

[pools."WWW.lb.example.test."]
check       = "web"
max_answers = 2
weights     = { "192.0.2.10" = 4, "2001:db8::11" = 3 }
min_healthy = 0.5
on_all_down = "servfail"
ttl_degraded = 5
ttl_degraded_drains = true
slow_start  = "20s"

[pools."api.lb.example.test."]
sticky = "client"

[pools."cdn.lb.example.test."]
order = "cyclic"

[pools."static.lb.example.test."]
order = "fixed"

[pools."*.apps.lb.example.test."]
max_answers = 1
`)
	snap, err := l.Load([]string{exampleMaster})
	if err != nil {
		t.Fatalf("load:\n%s", strings.Join(errorStrings(err), "\n"))
	}
	z := zoneOf(t, snap, exampleOrigin)
	www := z.poolAt("www.lb.example.test.")
	if www == nil || !slices.Contains(z.PoolDefs, www) {
		t.Fatal("www is not a pool of the zone")
	}
	want := poolSettings{Check: l.Checks["web"], MinFraction: 0.5, OnAllDown: PolicyServfail, MaxAnswers: 2,
		TTLDegraded: 5, TTLDegradedDrains: true, SlowStart: 20 * time.Second}
	got := www.poolSettings
	got.weights = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("www's settings\n%+v, want\n%+v", got, want)
	}
	for addr, w := range map[string]uint32{"192.0.2.10": 4, "192.0.2.11": 1, "2001:db8::11": 3, "2001:db8::10": 1} {
		if got := www.Weight(netip.MustParseAddr(addr)); got != w {
			t.Errorf("weight of %s = %d, want %d", addr, got, w)
		}
	}
	a, aaaa := rrset(t, z, "www.lb.example.test.", dns.TypeA), rrset(t, z, "www.lb.example.test.", dns.TypeAAAA)
	for _, s := range []*RRset{a, aaaa} {
		if s.Pool != www || s.Order != OrderRandom || s.MaxAnswers != 2 || s.Answers() != 2 {
			t.Errorf("www %s: pool %p (want %p), order %v, max_answers %d", dns.TypeToString[s.Type], s.Pool, www, s.Order, s.MaxAnswers)
		}
	}
	if !slices.Equal(a.Weights, []uint32{4, 1, 1}) || !slices.Equal(aaaa.Weights, []uint32{1, 3}) {
		t.Errorf("set weights A %v, AAAA %v; want [4 1 1] and [1 3]", a.Weights, aaaa.Weights)
	}
	api := rrset(t, z, "api.lb.example.test.", dns.TypeA)
	if !api.Sticky || !api.Pool.Sticky || api.Pool.Check != nil {
		t.Errorf("api: sticky %v/%v, check %v", api.Sticky, api.Pool.Sticky, api.Pool.Check)
	}
	cdn := rrset(t, z, "cdn.lb.example.test.", dns.TypeA)
	if first, second := cdn.NextRotation(), cdn.NextRotation(); cdn.Order != OrderCyclic || second != first+1 {
		t.Errorf("cdn: order %v, rotates %d then %d", cdn.Order, first, second)
	}
	if static := rrset(t, z, "static.lb.example.test.", dns.TypeA); static.Order != OrderFixed {
		t.Errorf("static: order %v", static.Order)
	}
	if apps := rrset(t, z, "*.apps.lb.example.test.", dns.TypeA); apps.MaxAnswers != 1 || apps.Pool.MaxAnswers != 1 {
		t.Errorf("the wildcard pool: max_answers %d", apps.MaxAnswers)
	}
	if root := rrset(t, z, "lb.example.test.", dns.TypeA); root.Order != OrderRandom || root.Pool.Check != nil || root.MaxAnswers != 0 || root.Weights != nil {
		t.Errorf("the apex pool, not configured, changed: %+v", root)
	}

	// The Loader may load again: each load's pools are its own.
	again, err := l.Load([]string{exampleMaster})
	if err != nil {
		t.Fatal(err)
	}
	if p := zoneOf(t, again, exampleOrigin).poolAt("www.lb.example.test."); p == www || p.Check != www.Check || p.MaxAnswers != 2 {
		t.Errorf("second load: pool %p (first %p), check %v, max_answers %d", p, www, p.Check, p.MaxAnswers)
	}
}

// masterPools is a master file with a pool, glue of two addresses below
// a delegation, and a name of one address.
const masterPools = `$ORIGIN m.test.
$TTL 300
@      IN SOA ns1.other.test. hostmaster 1 3600 900 1209600 60
@      IN NS  ns1.other.test.
www 30 IN A   192.0.2.1
www 30 IN A   192.0.2.2
one    IN A   192.0.2.9
sub    IN NS  ns.sub
ns.sub IN A   192.0.2.53
ns.sub IN A   192.0.2.54
`

// TestConfigPoolErrors: every mistake a policy shows only at load is an
// error at the configuration's line, and fails the zone it concerns; a
// name no zone holds fails the load on its own.
func TestConfigPoolErrors(t *testing.T) {
	master := writeFile(t, "m.test.zone", masterPools)
	for _, tc := range []struct {
		name, pools string
		files       []string
		want        string
	}{
		{"no zone holds it", `[pools."www.nowhere.test."]
max_answers = 1`, nil, `dnsrr.toml:2: pools."www.nowhere.test.": no zone loaded holds www.nowhere.test.`},
		{"a typo", `[pools."wwww.m.test."]
max_answers = 1`, nil, `dnsrr.toml:2: pools."wwww.m.test.": wwww.m.test. has no records in zone m.test.`},
		{"one address", `[pools."one.m.test."]
max_answers = 1`, nil, `dnsrr.toml:2: pools."one.m.test.": one.m.test. is no pool in ` + master + ` (it has A): a pool is a name with several A or AAAA records`},
		{"glue", `[pools."ns.sub.m.test."]
max_answers = 1`, nil, `dnsrr.toml:2: pools."ns.sub.m.test.": ns.sub.m.test. is glue below a delegation in ` + master + `, not a pool`},
		{"weight of no member", `[pools."www.m.test."]
weights = { "192.0.2.1" = 2,
  "192.0.2.3" = 5 }`, nil, `dnsrr.toml:4: pools."www.m.test.".weights."192.0.2.3": 192.0.2.3 is not one of the addresses of www.m.test. in ` + master},
		{"ttl_degraded not below the TTL", `[checks.web]
type = "tcp"
port = 80
[pools."www.m.test."]
check = "web"
ttl_degraded = 30`, nil, `dnsrr.toml:7: pools."www.m.test.".ttl_degraded: 30 is not below the TTL of the A records of www.m.test. in ` + master + ` (30)`},
		{"a TOML pool", `[pools."www.lb.example.test."]
max_answers = 1`, []string{exampleTOML}, `dnsrr.toml:2: pools."www.lb.example.test.": www.lb.example.test. is a pool of the TOML zone ../examples/zones/lb.example.test.toml: give its policy in that file, under [pools]`},
		{"a TOML name", `[pools."mail.lb.example.test."]
max_answers = 1`, []string{exampleTOML}, `dnsrr.toml:2: pools."mail.lb.example.test.": mail.lb.example.test. is in the TOML zone ../examples/zones/lb.example.test.toml: a pool there is a [pools] table`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := configLoader(t, "\n"+tc.pools)
			files := tc.files
			if files == nil {
				files = []string{master}
			}
			snap, err := l.Load(files)
			got := errorStrings(err)
			if snap != nil || len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Errorf("errors\n%s\nwant one starting\n%s", strings.Join(got, "\n"), tc.want)
			}
		})
	}
}

// TestConfigPoolErrorsTogether: the mistakes of several policies in one
// zone are reported in one pass.
func TestConfigPoolErrorsTogether(t *testing.T) {
	master := writeFile(t, "m.test.zone", masterPools)
	_, err := configLoader(t, `[pools."www.m.test."]
weights = { "192.0.2.7" = 2 }
[pools."typo.m.test."]
order = "fixed"`).Load([]string{master})
	got := errorStrings(err)
	if len(got) != 2 || !strings.HasPrefix(got[0], "dnsrr.toml:2: ") || !strings.HasPrefix(got[1], "dnsrr.toml:3: ") {
		t.Errorf("errors\n%s\nwant the weight (line 2) and the typo (line 3)", strings.Join(got, "\n"))
	}
}

// TestConfigPoolReload: a reload whose policy does not fit a zone keeps
// that zone's served version, policy and all, and applies the others; a
// name no zone holds is reported, and every zone is applied.
func TestConfigPoolReload(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "m.test.zone")
	other := filepath.Join(dir, "o.test.zone")
	write := func(p, text string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(m, masterPools)
	write(other, strings.ReplaceAll(masterPools, "m.test.", "o.test."))
	files := []string{m, other}
	old, err := configLoader(t, `[pools."www.m.test."]
max_answers = 1
[pools."www.o.test."]
max_answers = 1`).Load(files)
	if err != nil {
		t.Fatal(err)
	}

	// m's edit replaces the address the new policy weighs: m stays as it was.
	write(m, strings.Replace(masterPools, "192.0.2.2", "192.0.2.3", 1))
	write(other, strings.ReplaceAll(masterPools, "m.test.", "o.test.")+"new IN A 192.0.2.77\n")
	snap, err := configLoader(t, `[pools."www.m.test."]
weights = { "192.0.2.2" = 3 }
[pools."www.o.test."]
max_answers = 2`).Reload(files, old)
	if got := errorStrings(err); len(got) != 1 || !strings.HasPrefix(got[0], `dnsrr.toml:2: pools."www.m.test.".weights."192.0.2.2": 192.0.2.2 is not one of the addresses`) {
		t.Errorf("errors %q, want one at dnsrr.toml:2", got)
	}
	if snap == nil || snap.Zone("m.test.") != old.Zone("m.test.") {
		t.Fatal("the zone the policy does not fit must be the old one, whole")
	}
	if p := snap.Zone("m.test.").poolAt("www.m.test."); p.MaxAnswers != 1 || p.weights != nil {
		t.Errorf("m's pool: max_answers %d, weights %v; want the old policy", p.MaxAnswers, p.weights)
	}
	o := zoneOf(t, snap, "o.test.")
	if o == old.Zone("o.test.") || o.Node("new.o.test.") == nil || o.poolAt("www.o.test.").MaxAnswers != 2 {
		t.Error("the other zone must be the new one, with its new policy")
	}

	// A name that no zone holds fails no zone.
	snap, err = configLoader(t, `[pools."www.gone.test."]
max_answers = 1`).Reload(files, snap)
	if got := errorStrings(err); len(got) != 1 || !strings.HasPrefix(got[0], `dnsrr.toml:1: pools."www.gone.test.": no zone loaded holds www.gone.test.`) {
		t.Errorf("errors %q, want one for the name no zone holds", got)
	}
	if snap == nil || snap.Zone("m.test.") == old.Zone("m.test.") || !rrset(t, snap.Zone("m.test."), "www.m.test.", dns.TypeA).Pool.HasMember(netip.MustParseAddr("192.0.2.3")) {
		t.Error("the zones must be applied: m's www has 192.0.2.3 now")
	}
}

// A pool whose records have TTL 0 takes a policy without ttl_degraded.
func TestConfigPoolTTLZero(t *testing.T) {
	master := writeFile(t, "m.test.zone", strings.ReplaceAll(masterPools, "www 30", "www 0"))
	snap, err := configLoader(t, `[pools."www.m.test."]
max_answers = 1`).Load([]string{master})
	if err != nil {
		t.Fatal(err)
	}
	if p := zoneOf(t, snap, "m.test.").poolAt("www.m.test."); p.MaxAnswers != 1 {
		t.Errorf("max_answers %d, want 1", p.MaxAnswers)
	}
}

// BenchmarkLoadConfigPools: what the configuration's policies add to a
// load: a master file of 10,000 pools of 4, loaded without policies and
// with one for every pool (max_answers and a weight).
func BenchmarkLoadConfigPools(b *testing.B) {
	const pools = 10000
	var zone, config strings.Builder
	zone.WriteString("$ORIGIN m.test.\n$TTL 300\n@ IN SOA ns.other.test. hostmaster 1 3600 900 1209600 60\n@ IN NS ns.other.test.\n")
	for i := range pools {
		for j := range 4 {
			fmt.Fprintf(&zone, "p%d IN A 10.%d.%d.%d\n", i, i>>8, i&255, j+1)
		}
		fmt.Fprintf(&config, "[pools.\"p%d.m.test.\"]\nmax_answers = 2\nweights = { \"10.%d.%d.1\" = 3 }\n", i, i>>8, i&255)
	}
	dir := b.TempDir()
	master := filepath.Join(dir, "m.test.zone")
	if err := os.WriteFile(master, []byte(zone.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	root, err := tomlfile.Parse("dnsrr.toml", config.String())
	if err != nil {
		b.Fatal(err)
	}
	all := Loader{Pools: map[string]*PoolPolicy{}}
	pt, _ := root.Table("pools")
	for _, name := range pt.Keys() {
		t, _ := pt.Table(name)
		p := ParsePoolPolicy(t, name, nil)
		all.Pools[p.Name] = p
	}
	for _, bc := range []struct {
		name string
		l    Loader
	}{{"none", Loader{}}, {"all", all}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bc.l.Load([]string{master}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
