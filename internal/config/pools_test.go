package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/dnsrr/dnsrr/zones"
)

// loadWith loads a configuration of a web check and the given tables.
func loadWith(t *testing.T, tables string) (*Config, error) {
	t.Helper()
	return loadConfigText(t, "zones = [\"z.zone\"]\n[checks.web]\ntype = \"tcp\"\nport = 80\n"+tables)
}

// TestPoolsTable: [pools."NAME."] tables become the zone loader's
// policies, by name in lower case, naming the configuration's checks.
func TestPoolsTable(t *testing.T) {
	c, err := loadWith(t, `
[pools."WWW.Example.COM."]
check       = "web"
max_answers = 2
weights     = { "192.0.2.1" = 3 }
on_all_down = "none"
slow_start  = "30s"

[pools."api.example.com."]
sticky = "client"
`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name, p := range c.Pools {
		names = append(names, name)
		if p.Name != name || p.File == "" || p.Line == 0 {
			t.Errorf("%s: name %q, at %s:%d", name, p.Name, p.File, p.Line)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"api.example.com.", "www.example.com."}) {
		t.Errorf("pools %q", names)
	}
	if l := c.loader(nil); len(l.Pools) != 2 || l.Checks["web"] == nil {
		t.Errorf("the zone loader gets %d pools and checks %v", len(l.Pools), l.Checks)
	}
	if c, err := loadWith(t, ""); err != nil || len(c.Pools) != 0 {
		t.Errorf("no [pools]: %v, %d pools", err, len(c.Pools))
	}
}

// TestPoolsTableErrors: each mistake in a pool's policy is reported at
// its line in the configuration.
func TestPoolsTableErrors(t *testing.T) {
	for _, tc := range []struct{ table, want string }{
		{"[pools.\"www.example.com\"]\nmax_answers = 2\n", `dnsrr.toml:5: pools."www.example.com": "www.example.com" is not a fully qualified name: write the pool's whole name with the final dot`},
		{"[pools.www.example.com]\nmax_answers = 2\n", `dnsrr.toml:5: pools.www.example.com: unknown key: if you meant the name "www.example.com", quote it`},
		{"[pools.\"www.example.com.\"]\ncheck = \"db\"\n", `dnsrr.toml:6: pools."www.example.com.".check: no check named "db": define it under [checks.db] in the configuration`},
		{"[pools.\"www.example.com.\"]\nmax_answers = 0\n", `dnsrr.toml:6: pools."www.example.com.".max_answers: 0 is out of range 1..64`},
		{"[pools.\"www.example.com.\"]\norder = \"round\"\n", `dnsrr.toml:6: pools."www.example.com.".order: "round" is not an order`},
		{"[pools.\"www.example.com.\"]\nsticky = \"yes\"\n", `dnsrr.toml:6: pools."www.example.com.".sticky: "yes": use "client"`},
		{"[pools.\"www.example.com.\"]\nmin_healthy = 2\n", `dnsrr.toml:5: pools."www.example.com.": min_healthy, on_all_down, ttl_degraded and slow_start need a check`},
		{"[pools.\"www.example.com.\"]\ncheck = \"web\"\non_all_down = \"never\"\n", `dnsrr.toml:7: pools."www.example.com.".on_all_down: "never": use all`},
		{"[pools.\"www.example.com.\"]\ncheck = \"web\"\nslow_start = \"2h\"\n", `dnsrr.toml:7: pools."www.example.com.".slow_start: 2h0m0s is out of range`},
		{"[pools.\"www.example.com.\"]\nweights = { \"web1\" = 2 }\n", `dnsrr.toml:6: pools."www.example.com.".weights.web1: "web1" is not an IP address`},
		{"[pools.\"www.example.com.\"]\nweights = { \"192.0.2.1\" = 0 }\n", `dnsrr.toml:6: pools."www.example.com.".weights."192.0.2.1": 0 is out of range 1..1000`},
		{"[pools.\"www.example.com.\"]\naddresses = [\"192.0.2.1\"]\n", `dnsrr.toml:6: pools."www.example.com.".addresses: comes from the master file`},
		{"[pools.\"www.example.com.\"]\nttl = 30\n", `dnsrr.toml:6: pools."www.example.com.".ttl: comes from the master file`},
		{"[pools.\"www.example.com.\"]\norder = \"fixed\"\nweights = { \"192.0.2.1\" = 2 }\n", `dnsrr.toml:7: pools."www.example.com.".weights: weights act on order = "random" and sticky pools, not on fixed order`},
		{"[pools.\"www.example.com.\"]\nmax_anwsers = 2\n", `dnsrr.toml:6: pools."www.example.com.".max_anwsers: unknown key`},
		{"[pools.\"www.example.com.\"]\nmax_answers = 2\n[pools.\"WWW.example.com.\"]\nmax_answers = 3\n", `dnsrr.toml:7: pools."WWW.example.com.": the same pool as the table at line 5 (names are case-insensitive)`},
	} {
		_, err := loadWith(t, tc.table)
		if err == nil || !slices.ContainsFunc(zones.Errors(err), func(e error) bool { return strings.Contains(e.Error(), "/"+tc.want) }) {
			t.Errorf("%q: error\n%v\nwant one starting\n%s", tc.table, err, tc.want)
		}
	}
}
