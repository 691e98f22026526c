package zones

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const masterHead = `$ORIGIN limits.test.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 900 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.53
`

const tomlHead = `origin = "limits.test."
ns = ["ns1"]
[soa]
serial = 1
[records.ns1]
a = "192.0.2.53"
`

// loadErr loads the files with lim and returns the one problem reported,
// failing unless there is exactly one and it contains every part of want.
func loadErr(t *testing.T, lim Limits, path string, want ...string) string {
	t.Helper()
	snap, err := Loader{Limits: lim}.Load([]string{path})
	if snap != nil || err == nil {
		t.Fatalf("%s loaded", path)
	}
	errs := errorStrings(err)
	if len(errs) != 1 {
		t.Fatalf("%d problems, want 1:\n%s", len(errs), strings.Join(errs, "\n"))
	}
	for _, w := range want {
		if !strings.Contains(errs[0], w) {
			t.Fatalf("problem %q does not contain %q", errs[0], w)
		}
	}
	return errs[0]
}

func TestDefaultLimits(t *testing.T) {
	if (Limits{}).WithDefaults() != DefaultLimits() {
		t.Fatal("zero Limits do not take the defaults")
	}
	l := Limits{MaxRecords: 7}.WithDefaults()
	if l.MaxRecords != 7 || l.MaxNames != DefaultLimits().MaxNames {
		t.Fatalf("WithDefaults changed a set field or left a zero one: %+v", l)
	}
	// The README's large zones: 27 MB and 200 MB master files, of 1M and
	// about 7M records (27 bytes each).
	d := DefaultLimits()
	if d.MaxZoneFileSize < 200<<20 || d.MaxRecords < 200<<20/27 || d.MaxNames < 1_000_000 {
		t.Fatalf("defaults too small for the README's large zones: %+v", d)
	}
}

// TestGenerateLimits: a $GENERATE range is checked before it is expanded
// or counted; 143 bytes asking for 10^11 records fail at once.
func TestGenerateLimits(t *testing.T) {
	huge := writeFile(t, "huge.zone", masterHead+"$GENERATE 0-100000000000 h$ A 192.0.2.1\n")
	loadErr(t, Limits{}, huge, "huge.zone:6:", "$GENERATE 0-100000000000 yields 100000000001 records",
		"above the limit of 65536 ([limits] max_generate_range)")
	overflow := writeFile(t, "overflow.zone", masterHead+"$generate 0-99999999999999999999999/1 h$ A 192.0.2.1\n")
	loadErr(t, Limits{}, overflow, "overflow.zone:6:", "max_generate_range")
	paren := writeFile(t, "paren.zone", masterHead+"$GENERATE ( ; comment\n 0-70000 h$ A 192.0.2.1 )\n")
	loadErr(t, Limits{}, paren, "paren.zone:6:", "yields 70001 records")

	var b strings.Builder
	b.WriteString(masterHead)
	for i := range 200 {
		fmt.Fprintf(&b, "$GENERATE 0-65535 h%d-$ A 192.0.2.1\n", i)
	}
	many := writeFile(t, "many.zone", b.String())
	// 1,000,000 / 65,536: the 16th line goes over.
	loadErr(t, Limits{}, many, "many.zone:21:", "$GENERATE lines yield 1048576 records up to here",
		"above the limit of 1000000 ([limits] max_generate_total)")

	ok := writeFile(t, "ok.zone", masterHead+"$GENERATE 1-10 h$ A 192.0.2.$\n")
	if _, err := (Loader{Limits: Limits{MaxGenerateRange: 10, MaxGenerateTotal: 10}}).Load([]string{ok}); err != nil {
		t.Fatalf("a range at the limits: %v", err)
	}
	loadErr(t, Limits{MaxGenerateRange: 9}, ok, "ok.zone:6:", "yields 10 records", "limit of 9")
}

func TestRecordAndNameLimits(t *testing.T) {
	master := writeFile(t, "m.zone", masterHead+"a IN A 192.0.2.1\nb IN A 192.0.2.2\n")
	toml := writeFile(t, "t.toml", tomlHead+"[records.a]\na = \"192.0.2.1\"\n[records.b]\na = \"192.0.2.2\"\n")
	for _, f := range []string{master, toml} {
		// SOA, NS, three addresses.
		if _, err := (Loader{Limits: Limits{MaxRecords: 5}}).Load([]string{f}); err != nil {
			t.Fatalf("%s at the limit: %v", f, err)
		}
		loadErr(t, Limits{MaxRecords: 4}, f, filepath.Base(f)+": ", "more than 4 records", "([limits] max_records)")
		// Names: the apex, ns1, a, b.
		if _, err := (Loader{Limits: Limits{MaxNames: 4}}).Load([]string{f}); err != nil {
			t.Fatalf("%s at the limit: %v", f, err)
		}
		loadErr(t, Limits{MaxNames: 3}, f, "more than 3 names", "([limits] max_names)")
	}
	// A name deep below the apex makes a name of each label in between.
	deep := writeFile(t, "deep.zone", masterHead+"a.b.c.d.e.f IN A 192.0.2.1\n")
	loadErr(t, Limits{MaxNames: 6}, deep, "more than 6 names (counting empty non-terminals)")
	// Counted before parsing: a file far over the limit stops early.
	big := writeFile(t, "big.zone", masterHead+strings.Repeat("x IN TXT \"y\"\n", 1000))
	loadErr(t, Limits{MaxRecords: 10}, big, "more than 10 records")
}

func TestRRsetLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString(masterHead)
	for i := range 6 {
		fmt.Fprintf(&b, "www IN A 192.0.2.%d\n", i+1)
	}
	f := writeFile(t, "set.zone", b.String())
	if _, err := (Loader{Limits: Limits{MaxRRsetRecords: 6}}).Load([]string{f}); err != nil {
		t.Fatal(err)
	}
	loadErr(t, Limits{MaxRRsetRecords: 5}, f, "set.zone:11:", "the A set of www.limits.test. has more records",
		"above the limit of 5 ([limits] max_rrset_records)")
}

func TestFileSizeLimits(t *testing.T) {
	master := writeFile(t, "m.zone", masterHead)
	toml := writeFile(t, "t.toml", tomlHead)
	lim := Limits{MaxZoneFileSize: int64(len(masterHead)), MaxTOMLFileSize: int64(len(tomlHead))}
	for _, f := range []string{master, toml} {
		if _, err := (Loader{Limits: lim}).Load([]string{f}); err != nil {
			t.Fatal(err)
		}
	}
	loadErr(t, Limits{MaxZoneFileSize: 100}, master, "m.zone: the file is 109 bytes, above the limit of 100 ([limits] max_zone_file_size)")
	loadErr(t, Limits{MaxTOMLFileSize: 50}, toml, "t.toml: the file is", "above the limit of 50 ([limits] max_toml_file_size)")
}

func TestTOMLShapeLimits(t *testing.T) {
	deep := writeFile(t, "deep.toml", tomlHead+"[records.x]\ntxt = "+strings.Repeat("{a=", 8000)+"1"+strings.Repeat("}", 8000)+"\n")
	loadErr(t, Limits{}, deep, "deep.toml:8:", "nesting deeper than 32 levels ([limits] max_toml_depth)")
	arrays := writeFile(t, "arrays.toml", tomlHead+"x = "+strings.Repeat("[", 100000)+strings.Repeat("]", 100000)+"\n")
	loadErr(t, Limits{}, arrays, "arrays.toml:7:", "max_toml_depth")
	dotted := writeFile(t, "dotted.toml", strings.Repeat("a.", 50000)+"a = 1\n")
	loadErr(t, Limits{}, dotted, "dotted.toml:1:", "max_toml_depth")
	var keys strings.Builder
	keys.WriteString(tomlHead + "[\"" + strings.Repeat("n", 10000) + "\"]\n")
	for i := range 30 {
		fmt.Fprintf(&keys, "k%d = 1\n", i)
	}
	longName := writeFile(t, "name.toml", keys.String())
	loadErr(t, Limits{MaxTOMLFileSize: 200_000}, longName, "name.toml:", "the full paths of the keys add up to more than 200000 bytes",
		"([limits] max_toml_file_size)")
	long := writeFile(t, "long.toml", tomlHead+"[records.x]\ntxt = \""+strings.Repeat("x", 2000)+"\"\n")
	loadErr(t, Limits{MaxTOMLLineLength: 1000}, long, "long.toml:8:", "line is 2008 bytes long, above the limit of 1000 ([limits] max_toml_line_length)")
}

// TestSpecialFiles: a FIFO, a device or a directory as a zone file is
// refused without blocking; a symbolic link to a zone is followed.
func TestSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.zone")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{fifo, "/dev/zero", dir} {
		done := make(chan error, 1)
		go func() {
			_, err := Load([]string{f})
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), f) {
				t.Errorf("%s: %v, want not a regular file", f, err)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("Load(%s) blocked", f)
		}
	}
	link := filepath.Join(dir, "limits.test.zone")
	if err := os.Symlink(writeFile(t, "real.zone", masterHead), link); err != nil {
		t.Fatal(err)
	}
	mustLoad(t, link)
}

// TestSecretNotEchoed: a zone path that leads to a file that is no zone
// (a key, a password file) gets errors that do not quote it.
func TestSecretNotEchoed(t *testing.T) {
	secrets := map[string]string{
		"key":    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n",
		"shadow": "root:$6$s3cr3tSalt$hashhashhash:19000:0:99999:7:::\n",
		"env":    "PASSWORD=hunter2s3cr3t\n",
		"token":  "s3cr3t\n",
	}
	dir := t.TempDir()
	for name, content := range secrets {
		secret := filepath.Join(dir, name)
		if err := os.WriteFile(secret, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, ext := range []string{".zone", ".toml"} {
			link := filepath.Join(dir, name+ext)
			if err := os.Symlink(secret, link); err != nil {
				t.Fatal(err)
			}
			_, err := Load([]string{link})
			if err == nil {
				t.Fatalf("%s loaded", link)
			}
			for _, e := range errorStrings(err) {
				for _, word := range strings.FieldsFunc(content, func(r rune) bool { return strings.ContainsRune(" \n:$=-", r) }) {
					if len(word) >= 4 && strings.Contains(e, word) {
						t.Errorf("%s: problem %q quotes %q", link, e, word)
					}
				}
				if !strings.HasPrefix(e, link+":1: ") {
					t.Errorf("%s: problem %q is not located at line 1", link, e)
				}
			}
		}
	}
	// A zone file's own mistakes are still quoted.
	z := writeFile(t, "limits.test.zone", masterHead+"www IN A not-an-address\n")
	loadErr(t, Limits{}, z, "limits.test.zone:6:", "not-an-address")
	tz := writeFile(t, "t.toml", tomlHead+"[records.www]\na = 192.0.2.1\n")
	if _, err := Load([]string{tz}); err == nil || strings.Contains(err.Error(), "not a zone file") {
		t.Errorf("a TOML zone's syntax error: %v", err)
	}
}

// TestIncompleteRecords: a file cut mid-record parses (miekg/dns accepts
// records without data, for dynamic updates) but must not load.
func TestIncompleteRecords(t *testing.T) {
	tests := []struct{ line, want string }{
		{"www IN A ", "an A record needs an IPv4 address"}, // the file cut short, as in issue 9
		{"www IN AAAA ", "an AAAA record needs an IPv6 address"},
		{"www IN MX\n", "the record has no data"},
		{"www IN TXT\n", "the record has no data"},
		{"www IN CAA\n", "the record has no data"},
		{"www IN NS\n", "the record has no data"},
		{"www IN SRV\n", "the record has no data"},
		{"www IN TYPE1 \\# 0\n", "an A record needs an IPv4 address"},
		{"www IN TYPE15 \\# 2 000a\n", "the Mx name is missing"}, // an MX without its exchange
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			f := writeFile(t, "limits.test.zone", masterHead+tt.line)
			loadErr(t, Limits{}, f, "limits.test.zone:6: www.limits.test. ", tt.want, "is the file cut short?")
		})
	}
	f := writeFile(t, "t.toml", tomlHead+"[records.www]\nmx = [\"10\"]\n")
	if _, err := Load([]string{f}); err == nil {
		t.Error("TOML: an MX without its exchange loaded")
	}
}

// TestChangedWhileLoading: a file rewritten during its load (here, right
// after it is built: the worst moment) is loaded again; one that keeps
// changing fails, and is never applied half-written.
func TestChangedWhileLoading(t *testing.T) {
	defer func() { testHookLoaded = nil }()
	full := masterHead + "www IN A 192.0.2.80\n"
	f := writeFile(t, "limits.test.zone", masterHead)
	other := writeFile(t, "other.toml", strings.ReplaceAll(tomlHead, "limits.test.", "other.test."))

	// Rewritten once while the other file loads: the second read is whole.
	writes := 0
	testHookLoaded = func(path string) {
		if path == other && writes == 0 {
			writes++
			if err := os.WriteFile(f, []byte(full), 0o644); err != nil {
				t.Error(err)
			}
		}
	}
	snap := mustLoad(t, f, other)
	if zoneOf(t, snap, "limits.test.").Node("www.limits.test.") == nil {
		t.Fatal("the version read before the rewrite was applied")
	}

	// Rewritten after every read: it fails, and a reload keeps the old zone.
	n := 0
	testHookLoaded = func(path string) {
		if path == f {
			n++
			if err := os.WriteFile(f, []byte(fmt.Sprintf("%s; write %d\n", full, n)), 0o644); err != nil {
				t.Error(err)
			}
		}
	}
	_, err := Reload([]string{f, other}, snap)
	if n != 3 {
		t.Errorf("read %d times, want 3", n)
	}
	want := f + ": changed while being read; write zone files by rename (mv)"
	if got := errorStrings(err); len(got) != 1 || got[0] != want {
		t.Errorf("errors %q, want %q", got, want)
	}

	// Replaced by rename after every read: each version read was whole,
	// so the last one read is applied.
	n = 0
	testHookLoaded = func(path string) {
		if path == f {
			n++
			tmp := f + ".tmp"
			if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%swww IN A 192.0.2.%d\n", masterHead, n)), 0o644); err != nil {
				t.Error(err)
			}
			if err := os.Rename(tmp, f); err != nil {
				t.Error(err)
			}
		}
	}
	snap, err = Reload([]string{f, other}, snap)
	if err != nil || n != 3 {
		t.Fatalf("replaced after each of %d reads: %v", n, err)
	}
	if got := AddrOf(zoneOf(t, snap, "limits.test.").Node("www.limits.test.").Get(dns.TypeA).Records()[0]).String(); got != "192.0.2.2" {
		t.Errorf("applied www %s, want 192.0.2.2 (the version of the third read)", got)
	}
}

// TestDuplicatesInLargeSets: duplicates are found (folded in master files,
// reported in TOML) in sets large enough to be indexed, letter case of
// names aside.
func TestDuplicatesInLargeSets(t *testing.T) {
	var b strings.Builder
	b.WriteString(masterHead)
	for i := range 100 {
		fmt.Fprintf(&b, "www IN A 192.0.2.%d\nmx IN MX 10 Mail%d\n", i+1, i)
	}
	b.WriteString("www IN A 192.0.2.50\nmx IN MX 10 mail7\n")
	snap := mustLoad(t, writeFile(t, "limits.test.zone", b.String()))
	z := zoneOf(t, snap, "limits.test.")
	for _, tt := range []struct {
		name string
		typ  uint16
	}{{"www.limits.test.", dns.TypeA}, {"mx.limits.test.", dns.TypeMX}} {
		if n := len(z.Node(tt.name).Get(tt.typ).Records()); n != 100 {
			t.Errorf("%s: %d records, want 100 (duplicates folded)", tt.name, n)
		}
	}
	var addrs []string
	for i := range 100 {
		addrs = append(addrs, fmt.Sprintf("%q", fmt.Sprintf("192.0.2.%d", i+1)))
	}
	addrs = append(addrs, `"192.0.2.50"`)
	f := writeFile(t, "t.toml", tomlHead+"[pools.www]\naddresses = ["+strings.Join(addrs, ", ")+"]\n")
	loadErr(t, Limits{}, f, `duplicate record "192.0.2.50"`)
}

// TestSettle: with Settle set, a load does not finish before the newest
// file it read has been unchanged that long (then it looks again, as
// TestChangedWhileLoading shows); files unchanged for longer cost no wait.
func TestSettle(t *testing.T) {
	fresh := writeFile(t, "limits.test.zone", masterHead)
	old := writeFile(t, "other.toml", strings.ReplaceAll(tomlHead, "limits.test.", "other.test."))
	hourAgo := time.Now().Add(-time.Hour)
	if err := os.Chtimes(old, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(fresh)
	if err != nil {
		t.Fatal(err)
	}
	const settle = 200 * time.Millisecond
	if _, err := (Loader{Settle: settle}).Reload([]string{fresh, old}, nil); err != nil {
		t.Fatal(err)
	}
	if now := time.Now(); now.Before(fi.ModTime().Add(settle)) {
		t.Errorf("the load ended %v after the file was written, before the settle time of %v", now.Sub(fi.ModTime()), settle)
	}
	// Only a file unchanged for an hour: nothing to wait for (a wrong
	// wait would outlast the test's deadline).
	if _, err := (Loader{Settle: time.Hour}).Reload([]string{old}, nil); err != nil {
		t.Fatal(err)
	}
}
