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
func checkLoad(t *testing.T, name string, data []byte) { checkLoadWith(t, Loader{}, name, data) }

// checkLoadWith is checkLoad with a loader's settings; it returns what
// the loader accepted (nil on error).
func checkLoadWith(t *testing.T, l Loader, name string, data []byte) *Snapshot {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	snap, err := l.Load([]string{p})
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
		return nil
	}
	if len(snap.Zones()) != 1 {
		t.Fatalf("%d zones from one file", len(snap.Zones()))
	}
	buf := make([]byte, 65535)
	for _, z := range snap.Zones() {
		if z.SOA == nil || len(z.SOA.Records()) != 1 || len(z.Negative) != 1 {
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
			if name != canonicalName(name) {
				t.Fatalf("node %q is not spelt as a query for it unpacks (%q)", name, canonicalName(name))
			}
			for _, s := range n.Sets {
				if msg := metaType(s.Type); msg != "" {
					t.Fatalf("%s: loaded a set of type %d: %s", name, s.Type, msg)
				}
				if len(s.Records()) == 0 {
					t.Fatalf("%s: empty %s set", name, dns.TypeToString[s.Type])
				}
				for _, rr := range append(append([]dns.RR(nil), s.Records()...), s.Additional...) {
					if _, err := dns.PackRR(rr, buf, 0, nil, false); err != nil {
						t.Fatalf("%s: loaded record %q does not pack: %v", name, rr, err)
					}
				}
				for _, rr := range s.Records() {
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
	return snap
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

// fuzzLimits are small, so that inputs the fuzzer finds can reach them.
var fuzzLimits = Limits{
	MaxZoneFileSize: 2048, MaxTOMLFileSize: 1024, MaxRecords: 40, MaxNames: 30, MaxRRsetRecords: 6,
	MaxGenerateRange: 16, MaxGenerateTotal: 24, MaxTOMLDepth: 6, MaxTOMLLineLength: 200,
}

// checkLimits holds a load with fuzzLimits to them: whatever it accepts is
// within every size and count limit, and a file over the size limit is
// never accepted.
func checkLimits(t *testing.T, name string, data []byte, maxSize int64) {
	snap := checkLoadWith(t, Loader{Limits: fuzzLimits}, name, data)
	if snap == nil {
		return
	}
	lim := fuzzLimits
	if int64(len(data)) > maxSize {
		t.Fatalf("a file of %d bytes loaded; the limit is %d", len(data), maxSize)
	}
	for _, z := range snap.Zones() {
		if z.Records > lim.MaxRecords {
			t.Fatalf("%d records loaded; the limit is %d", z.Records, lim.MaxRecords)
		}
		if len(z.nodes) > lim.MaxNames {
			t.Fatalf("%d names loaded; the limit is %d", len(z.nodes), lim.MaxNames)
		}
		for _, n := range z.nodes {
			for _, s := range n.Sets {
				if len(s.Records()) > lim.MaxRRsetRecords {
					t.Fatalf("%s: a set of %d records loaded; the limit is %d", n.Name, len(s.Records()), lim.MaxRRsetRecords)
				}
			}
		}
	}
}

// FuzzLoadTOMLLimits: go test -run=^$ -fuzz=FuzzLoadTOMLLimits ./zones/
func FuzzLoadTOMLLimits(f *testing.F) {
	addSeeds(f, "testdata/twins/*.toml", "testdata/bad/*.toml")
	f.Add([]byte("origin = \"x.\"\nns = [\"ns1\"]\n[soa]\nserial = 1\n[records.ns1]\na = \"192.0.2.1\"\n[pools.w]\naddresses = [\"192.0.2.1\", \"192.0.2.2\", \"192.0.2.3\", \"192.0.2.4\", \"192.0.2.5\", \"192.0.2.6\", \"192.0.2.7\"]\n"))
	f.Add([]byte("origin = \"x.\"\nns = [\"ns1\"]\n[soa]\nserial = 1\n[records.\"a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f\"]\na = \"192.0.2.1\"\n"))
	f.Add([]byte("x = {a={a={a={a={a={a={a=1}}}}}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLimits(t, "fuzz.toml", data, fuzzLimits.MaxTOMLFileSize)
	})
}

// FuzzLoadMasterLimits: go test -run=^$ -fuzz=FuzzLoadMasterLimits ./zones/
func FuzzLoadMasterLimits(f *testing.F) {
	addSeeds(f, "testdata/twins/*.zone", "testdata/bad/*.zone")
	head := "$ORIGIN x.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"
	f.Add([]byte(head + "$GENERATE 1-16 h$ A 192.0.2.$\n"))
	f.Add([]byte(head + "$GENERATE 1-10 a$ A 192.0.2.$\n$GENERATE 1-10 b$ A 192.0.2.$\n"))
	f.Add([]byte(head + "$GENERATE 0-100000000000 h$ A 192.0.2.1\n"))
	f.Add([]byte(head + "w A 192.0.2.1\nw A 192.0.2.2\nw A 192.0.2.3\nw A 192.0.2.4\nw A 192.0.2.5\nw A 192.0.2.6\n"))
	f.Add([]byte(head + "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d A 192.0.2.1\n"))
	f.Add([]byte(head + "www IN A "))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLimits(t, "fuzz.zone", data, fuzzLimits.MaxZoneFileSize)
	})
}
