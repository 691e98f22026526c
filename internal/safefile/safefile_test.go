//go:build unix

package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadRegularAndSymlink(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "zone")
	if err := os.WriteFile(p, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{p, link} {
		b, id, err := ReadStable(path, 6)
		if err != nil || string(b) != "hello\n" || id.Size != 6 {
			t.Fatalf("%s: %q %+v %v", path, b, id, err)
		}
		if !Unchanged(path, id) {
			t.Fatalf("%s: changed without a write", path)
		}
	}
}

func TestReadRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link-to-fifo")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	for path, kind := range map[string]string{fifo: "FIFO", link: "FIFO", dir: "directory", "/dev/zero": "device", "/dev/null": "device"} {
		done := make(chan error, 1)
		go func() {
			_, _, err := Read(path, 1<<20)
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), kind) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s: error %v, want not a regular file (%s)", path, err, kind)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: Read blocked", path)
		}
	}
}

func TestReadLimit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(p, make([]byte, 1001), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := Read(p, 1000)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Limit != 1000 || tl.Size != 1001 || !strings.Contains(err.Error(), "above the limit of 1000") {
		t.Fatalf("error %v, want too large", err)
	}
	if b, _, err := Read(p, 1001); err != nil || len(b) != 1001 {
		t.Fatalf("at the limit: %d bytes, %v", len(b), err)
	}
}

func TestUnchangedSeesRewriteAndRename(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "zone")
	if err := os.WriteFile(p, []byte("one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, id, err := Read(p, 100)
	if err != nil {
		t.Fatal(err)
	}
	// Same size, same mtime (set back), another inode: replaced by rename.
	fi, _ := os.Stat(p)
	tmp := filepath.Join(dir, "tmp")
	if err := os.WriteFile(tmp, []byte("two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	if Unchanged(p, id) {
		t.Fatal("a file replaced by rename counts as unchanged")
	}
	_, id, _ = Read(p, 100)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("more\n")
	f.Close()
	if Unchanged(p, id) {
		t.Fatal("a file appended to counts as unchanged")
	}
}
