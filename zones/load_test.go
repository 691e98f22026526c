package zones

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.toml", "b.toml", "c.zone", "sub/d.toml"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	j := func(f string) string { return filepath.Join(dir, f) }
	tests := []struct {
		name     string
		dir      string
		patterns []string
		want     []string
		err      string
	}{
		{"glob relative to dir, sorted", dir, []string{"*.toml"}, []string{j("a.toml"), j("b.toml")}, ""},
		{"plain names and globs", dir, []string{"c.zone", "sub/*.toml"}, []string{j("c.zone"), j("sub/d.toml")}, ""},
		{"absolute patterns ignore dir", "/nonexistent", []string{j("*.zone")}, []string{j("c.zone")}, ""},
		{"duplicates removed, first position kept", dir, []string{"b.toml", "*.toml", "b.toml"}, []string{j("b.toml"), j("a.toml")}, ""},
		{"empty dir means the working directory", "", []string{j("a.toml")}, []string{j("a.toml")}, ""},
		{"no patterns", dir, nil, nil, ""},
		// A typo must not silently serve no zones.
		{"no match", dir, []string{"*.toml", "*.txt"}, nil, "matches no file"},
		{"missing file", dir, []string{"nope.toml"}, nil, "matches no file"},
		{"bad pattern", dir, []string{"[.toml"}, nil, "syntax error in pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Expand(tt.dir, tt.patterns)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Expand = %q, %v; want error containing %q", got, err, tt.err)
				}
				if !strings.Contains(err.Error(), tt.patterns[len(tt.patterns)-1]) {
					t.Errorf("error %q does not name the pattern", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !equalStrings(got, tt.want) {
				t.Errorf("Expand = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestExamplesLoad: every shipped zone loads, alone and all together per
// format (the two formats hold the same zone, so they cannot be loaded
// together).
func TestExamplesLoad(t *testing.T) {
	for _, pattern := range []string{"../examples/zones/*.toml", "../examples/master/*.zone"} {
		files, err := Expand("", []string{pattern})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			t.Run(filepath.Base(f), func(t *testing.T) {
				snap := mustLoad(t, f)
				for _, z := range snap.Zones() {
					if z.SOA == nil || z.Apex.Get(dns.TypeNS) == nil || z.Names == 0 {
						t.Errorf("%s: zone %s incomplete", f, z.Origin)
					}
				}
			})
		}
		mustLoad(t, files...)
	}
}

// TestReload: a running server keeps serving the last good version of a
// zone whose file has become broken, and picks up the others' changes.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.toml")
	b := filepath.Join(dir, "b.toml")
	write := func(p, origin, addr string) {
		t.Helper()
		src := "origin = \"" + origin + "\"\nns = [\"ns.other.test.\"]\n[soa]\nserial = 1\n[records.www]\na = \"" + addr + "\"\n"
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(a, "a.test.", "192.0.2.1")
	write(b, "b.test.", "192.0.2.2")
	old := mustLoad(t, a, b)

	write(a, "a.test.", "not-an-address")
	write(b, "b.test.", "192.0.2.3")
	snap, err := Reload([]string{a, b}, old)
	if got := errorStrings(err); len(got) != 1 || !strings.HasPrefix(got[0], a+":6: ") {
		t.Errorf("errors %q, want one for %s:6", got, a)
	}
	if snap == nil {
		t.Fatal("Reload returned no snapshot")
	}
	if za := snap.Zone("a.test."); za != old.Zone("a.test.") {
		t.Error("the broken file's zone must be the old one, whole")
	}
	wantSet(t, zoneOf(t, snap, "b.test."), "www.b.test.", dns.TypeA, 3600, "192.0.2.3")

	// A broken file that was never served is left out.
	c := filepath.Join(dir, "c.toml")
	write(c, "c.test.", "bad")
	snap, err = Reload([]string{b, c}, old)
	if err == nil || snap == nil || snap.Zone("c.test.") != nil || snap.Zone("a.test.") != nil || snap.Zone("b.test.") == nil {
		t.Errorf("Reload with a new broken file: err %v, zones %v", err, snap.Zones())
	}

	// Load itself never returns anything partial.
	if snap, err := Load([]string{a, b}); snap != nil || err == nil {
		t.Error("Load returned a snapshot for a broken file")
	}
}

// TestSerialsMustRise: with SerialsMustRise, a reload that changes a
// zone's content without raising its serial (RFC 1982) keeps the old
// version and names the file; a raised serial, an unchanged file and a
// new zone load; without it, the change loads.
func TestSerialsMustRise(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "s.test.toml")
	write := func(serial uint32, addr string) {
		t.Helper()
		src := "origin = \"s.test.\"\nns = [\"ns1\"]\n[soa]\nserial = " + strconv.FormatUint(uint64(serial), 10) +
			"\n[records.ns1]\na = [\"192.0.2.53\"]\n[pools.www]\naddresses = [\"192.0.2.1\", \"" + addr + "\"]\n"
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l := Loader{SerialsMustRise: true}
	write(10, "192.0.2.2")
	old, err := l.Load([]string{file})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		serial uint32
		addr   string
		err    string
	}{
		{"unchanged", 10, "192.0.2.2", ""},
		{"content changed, serial not", 10, "192.0.2.3", "changed but its serial 10 did not rise (was 10)"},
		{"serial lowered", 9, "192.0.2.2", "changed but its serial 9 did not rise (was 10)"},
		{"serial 2³¹ ahead: not a rise in RFC 1982", 10 + 1<<31, "192.0.2.2", "did not rise"},
		{"serial raised", 11, "192.0.2.3", ""},
		{"serial raised across the wrap", 10 + 1<<31 - 1, "192.0.2.2", ""},
	} {
		write(c.serial, c.addr)
		snap, err := l.Reload([]string{file}, old)
		if c.err == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			} else if z := snap.Zone("s.test."); z.Serial != c.serial {
				t.Errorf("%s: serial %d served, want %d", c.name, z.Serial, c.serial)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "s.test.toml:") {
			t.Errorf("%s: error %v, want %q at the file", c.name, err, c.err)
		}
		if snap.Zone("s.test.") != old.Zone("s.test.") {
			t.Errorf("%s: the old zone is not kept", c.name)
		}
	}
	write(10, "192.0.2.3")
	if _, err := (Loader{}).Reload([]string{file}, old); err != nil {
		t.Errorf("without SerialsMustRise, a change under the same serial: %v", err)
	}
}

// TestSummaryCounts: dnsrr check prints "1 pool", not "1 pools" (the
// health example has one pool).
func TestSummaryCounts(t *testing.T) {
	for _, c := range []struct {
		names, pools, records int
		want                  string
	}{
		{3, 1, 5, "app.example.test.: serial 7, 3 names, 1 pool, 5 records"},
		{1, 0, 1, "app.example.test.: serial 7, 1 name, 0 pools, 1 record"},
		{13, 6, 35, "app.example.test.: serial 7, 13 names, 6 pools, 35 records"},
	} {
		z := &Zone{Origin: "app.example.test.", Serial: 7, Names: c.names, Pools: c.pools, Records: c.records}
		if got := z.Summary(); got != c.want {
			t.Errorf("Summary = %q, want %q", got, c.want)
		}
	}
}
