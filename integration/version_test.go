package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// versionJSON is `dnsrr version -json`.
type versionJSON struct {
	Version, Module, Revision, Time, Go, Platform string
	Modified                                      bool
}

func versionOf(t *testing.T, bin string) (text string, v versionJSON) {
	t.Helper()
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("%s version: %v", bin, err)
	}
	js, err := exec.Command(bin, "version", "-json").Output()
	if err != nil {
		t.Fatalf("%s version -json: %v", bin, err)
	}
	if err := json.Unmarshal(js, &v); err != nil {
		t.Fatalf("version -json printed %q: %v", js, err)
	}
	t.Logf("%s version:\n%s%s", bin, out, js)
	return string(out), v
}

// TestVersion: the suite's binary names its module, Go and platform; the
// first line is "dnsrr VERSION", as scripts read it.
func TestVersion(t *testing.T) {
	t.Parallel()
	text, v := versionOf(t, binPath)
	if !regexp.MustCompile(`^dnsrr \S+\n`).MatchString(text) {
		t.Errorf("first line of %q, want \"dnsrr <version>\"", text)
	}
	if v.Version == "" || !strings.HasPrefix(text, "dnsrr "+v.Version+"\n") {
		t.Errorf("version %q in JSON, text says %q", v.Version, text)
	}
	if v.Module != "github.com/dnsrr/dnsrr" || v.Go != runtime.Version() || v.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("version -json = %+v, want module github.com/dnsrr/dnsrr, %s, %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
	for _, bad := range [][]string{{"version", "extra"}, {"version", "-no-such-flag"}} {
		if _, _, code := runDNSRR(t, bad...); code != 2 {
			t.Errorf("dnsrr %s: exit %d, want 2", strings.Join(bad, " "), code)
		}
	}
}

// TestVersionRevision: a binary built from a git checkout reports the
// commit it was built from, and says so when the tree had changes. The
// source under test is committed to a repository of its own, so that the
// commit is known (the tree under test may be a git worktree, where go
// does not stamp, or hold edits).
func TestVersionRevision(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	// Every file the build may read (sources, embedded templates).
	files, err := exec.Command("git", "-C", repoRoot, "ls-files", "--cached", "--others", "--exclude-standard", "-z").Output()
	if err != nil {
		t.Skipf("%s is not a git checkout: %v", repoRoot, err)
	}
	src := t.TempDir()
	for _, f := range strings.Split(strings.TrimRight(string(files), "\x00"), "\x00") {
		if strings.HasPrefix(f, "integration/") {
			continue // the tests, not the server (they hold large files)
		}
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if os.IsNotExist(err) {
			continue // deleted, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, src, f, string(b))
	}
	run := func(argv ...string) string {
		t.Helper()
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.org",
			"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.org", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("git", "init", "--quiet")
	run("git", "add", "-A")
	run("git", "commit", "--quiet", "-m", "source under test")
	rev := run("git", "rev-parse", "HEAD")
	bin := filepath.Join(t.TempDir(), "dnsrr")
	// -buildvcs=true: the stamping is what is under test, whatever GOFLAGS
	// says. -trimpath: as release builds (and the container image) are.
	build := func() { run("go", "build", "-buildvcs=true", "-trimpath", "-o", bin, "./cmd/dnsrr") }

	build()
	text, v := versionOf(t, bin)
	if v.Revision != rev || v.Modified || v.Time == "" {
		t.Errorf("clean build: revision %q modified %v time %q, want %s, false, the commit's time", v.Revision, v.Modified, v.Time, rev)
	}
	// A pseudo-version naming the commit (there is no tag).
	if !strings.Contains(v.Version, rev[:12]) || !strings.HasPrefix(text, "dnsrr "+v.Version+"\n") {
		t.Errorf("version %q does not name the commit %s", v.Version, rev[:12])
	}
	if !strings.Contains(text, rev) {
		t.Errorf("version text does not show the revision %s:\n%s", rev, text)
	}

	writeFile(t, src, "cmd/dnsrr/local_edit.go", "package main\n")
	build()
	text, v = versionOf(t, bin)
	if v.Revision != rev || !v.Modified || !strings.Contains(text, "(modified)") || !strings.HasSuffix(v.Version, "+dirty") {
		t.Errorf("build with a local change: version %q revision %q modified %v, want +dirty, %s, true, and \"(modified)\" in:\n%s", v.Version, v.Revision, v.Modified, rev, text)
	}
}
