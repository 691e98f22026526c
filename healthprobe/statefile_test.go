//go:build unix

package healthprobe

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStateFileNotRegular: a state_file that is a FIFO or a device is
// refused at once, not read until a writer comes or memory runs out.
func TestStateFileNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "state.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, "/dev/zero"} {
		done := make(chan error, 1)
		go func() {
			_, err := loadDrains(path, time.Now())
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("%s: %v, want not a regular file", path, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: loadDrains blocked", path)
		}
	}
}
