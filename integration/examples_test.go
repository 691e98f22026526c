package integration

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Every configuration under examples/ must pass `dnsrr check` exactly as a
// newcomer would run it, so the shipped examples never rot.
func TestExamplesCheck(t *testing.T) {
	configs, err := filepath.Glob(repoPath("examples", "*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob(repoPath("examples", "*", "dnsrr.toml"))
	configs = append(configs, more...)
	if len(configs) < 2 {
		t.Fatalf("found only %v", configs)
	}
	for _, c := range configs {
		t.Run(filepath.Base(filepath.Dir(c))+"/"+filepath.Base(c), func(t *testing.T) {
			out, err := exec.Command(binPath, "check", "-config", c).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "serial") {
				t.Fatalf("dnsrr check -config %s: %v\n%s", c, err, out)
			}
		})
	}
}
