package zones

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// addSeeds adds the files matching each pattern to the fuzz corpus.
func addSeeds(f *testing.F, patterns ...string) {
	f.Helper()
	for _, p := range patterns {
		files, err := filepath.Glob(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

// checkLoad is the property both fuzzers hold Load to: it never panics,
// returns exactly one of a snapshot and an error, reports every problem
// as a located *Error for the file, and whatever it accepts can be served:
// each zone has its SOA and apex NS, each record packs into a message and
// lies inside its zone with its RRset's TTL.
func checkLoad(t *testing.T, name string, data []byte) {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	snap, err := Load([]string{p})
	if (snap == nil) == (err == nil) {
		t.Fatalf("Load returned snapshot %v and error %v", snap, err)
	}
	if err != nil {
		for _, e := range Errors(err) {
			var ze *Error
			if !errors.As(e, &ze) || ze.File != p {
				t.Fatalf("problem %q (%T) is not an *Error for %s", e, e, p)
			}
		}
		return
	}
	if len(snap.Zones()) != 1 {
		t.Fatalf("%d zones from one file", len(snap.Zones()))
	}
	buf := make([]byte, 65535)
	for _, z := range snap.Zones() {
		if z.SOA == nil || len(z.SOA.RRs) != 1 || len(z.Negative) != 1 {
			t.Fatalf("zone %s has no single SOA", z.Origin)
		}
		if z.Apex == nil || z.Apex.Get(dns.TypeNS) == nil || z.Apex.Name != z.Origin {
			t.Fatalf("zone %s has no apex NS", z.Origin)
		}
		if snap.Find(z.Origin) != z {
			t.Fatalf("Find(%s) is not the zone", z.Origin)
		}
		for name, n := range z.nodes {
			if n.Name != name || name != strings.ToLower(name) || !dns.IsSubDomain(z.Origin, name) {
				t.Fatalf("node %q named %q in zone %s", name, n.Name, z.Origin)
			}
			for _, s := range n.Sets {
				if len(s.RRs) == 0 {
					t.Fatalf("%s: empty %s set", name, dns.TypeToString[s.Type])
				}
				for _, rr := range append(append([]dns.RR(nil), s.RRs...), s.Additional...) {
					if _, err := dns.PackRR(rr, buf, 0, nil, false); err != nil {
						t.Fatalf("%s: loaded record %q does not pack: %v", name, rr, err)
					}
				}
				for _, rr := range s.RRs {
					h := rr.Header()
					if h.Rrtype != s.Type || h.Ttl != s.TTL || h.Name != name {
						t.Fatalf("%s: record %q in the %s set with TTL %d", name, rr, dns.TypeToString[s.Type], s.TTL)
					}
				}
			}
		}
		for _, rr := range z.Negative {
			if _, err := dns.PackRR(rr, buf, 0, nil, false); err != nil {
				t.Fatalf("negative SOA %q does not pack: %v", rr, err)
			}
		}
	}
}

// FuzzLoadTOML: go test -run=^$ -fuzz=FuzzLoadTOML ./zones/
func FuzzLoadTOML(f *testing.F) {
	addSeeds(f, exampleTOML, "testdata/twins/*.toml", "testdata/bad/*.toml")
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLoad(t, "fuzz.toml", data)
	})
}

// FuzzLoadMaster: go test -run=^$ -fuzz=FuzzLoadMaster ./zones/
func FuzzLoadMaster(f *testing.F) {
	addSeeds(f, exampleMaster, "testdata/twins/*.zone", "testdata/bad/*.zone")
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLoad(t, "fuzz.zone", data)
	})
}
