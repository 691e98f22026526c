package zones

import (
	"fmt"
	"path/filepath"
	"testing"
)

func TestScratchDump(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*")
	for _, f := range files {
		_, err := Load([]string{f})
		for _, s := range errorStrings(err) {
			fmt.Println(s)
		}
		if err == nil {
			fmt.Println(f, "LOADED")
		}
	}
	_, err := Load([]string{"testdata/bad/dup_origin_a.toml", "testdata/bad/dup_origin_b.toml", "testdata/bad/dup_origin.zone"})
	for _, s := range errorStrings(err) {
		fmt.Println(s)
	}
}
