package zones

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
)

// TestLoaderStop: a Stop that says stop ends the load in every phase
// (parsing a master file in pieces, building), at the file being read,
// and nothing of it is kept; a reload returns no snapshot at all (a
// failed file would give one without that file's zone).
func TestLoaderStop(t *testing.T) {
	tomlPath, masterPath := writeBigZone(t, 12000) // 48k records: a master file of over 1 MB, parsed in pieces
	for _, file := range []string{tomlPath, masterPath} {
		for _, after := range []int64{1, 200} { // master: parsing, building; TOML: building its nodes, its sets
			var calls atomic.Int64
			budget := errors.New("over budget")
			l := Loader{Stop: func(f string) error {
				if f != file {
					t.Errorf("Stop asked about %q, loading %q", f, file)
				}
				if calls.Add(1) > after {
					return budget
				}
				return nil
			}}
			snap, err := l.Load([]string{file})
			if snap != nil || err == nil || !strings.Contains(err.Error(), file+": over budget") {
				t.Errorf("%s, stop after %d calls: Load = %v, %v; want nil and %q", file, after, snap, err, file+": over budget")
			}
			calls.Store(0)
			if snap, err := l.Reload([]string{file}, nil); snap != nil || err == nil {
				t.Errorf("%s, stop after %d calls: Reload = %v, %v; want no snapshot and the error", file, after, snap, err)
			}
		}
	}
}
