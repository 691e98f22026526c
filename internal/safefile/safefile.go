// Package safefile reads the files dnsrr is told to read (its
// configuration, zones, CA bundles) so that no path can hang, exhaust or
// trick the process: only regular files are read (a FIFO would block the
// reader for good, a device such as /dev/zero never ends), never more than
// a limit, and a file that changes while it is read is read again.
// Symbolic links are followed: Kubernetes mounts ConfigMaps through them.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// ID identifies one version of a file: if any of it differs between two
// looks, the file was rewritten or replaced in between.
type ID struct {
	Size  int64
	mtime int64  // nanoseconds since the epoch
	dev   uint64 // device and inode, where the system has them
	ino   uint64
}

// SameFile reports whether id and other are versions of one file (the same
// inode), rather than two files one of which replaced the other by rename.
// Where the system has no inodes, every file is the same file.
func (id ID) SameFile(other ID) bool { return id.dev == other.dev && id.ino == other.ino }

// ModTime is the version's modification time (zero for the zero ID).
func (id ID) ModTime() time.Time {
	if id == (ID{}) {
		return time.Time{}
	}
	return time.Unix(0, id.mtime)
}

func idOf(fi fs.FileInfo) ID {
	id := ID{Size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	id.dev, id.ino = devIno(fi)
	return id
}

// TooLargeError is returned for a file above the size limit.
type TooLargeError struct {
	Path  string
	Size  int64 // as far as known: at least Limit+1
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is %d bytes, above the limit of %d", e.Path, e.Size, e.Limit)
}

// ChangedError is returned when a file kept changing while it was read.
type ChangedError struct{ Path string }

func (e *ChangedError) Error() string {
	return e.Path + " changed while being read; write zone files by rename (mv)"
}

// ErrNotRegular is wrapped by the error for a path that is not a regular
// file (after following symbolic links).
var ErrNotRegular = errors.New("not a regular file")

// Reads is how many times ReadStable reads a file that changes under it
// before giving up.
const Reads = 3

// Stat returns the ID of the file at path now, following symbolic links,
// or an error if it is not a regular file.
func Stat(path string) (ID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return ID{}, err
	}
	if err := checkRegular(path, fi); err != nil {
		return ID{}, err
	}
	return idOf(fi), nil
}

func checkRegular(path string, fi fs.FileInfo) error {
	if fi.Mode().IsRegular() {
		return nil
	}
	kind := "a special file"
	switch m := fi.Mode(); {
	case m.IsDir():
		kind = "a directory"
	case m&fs.ModeNamedPipe != 0:
		kind = "a FIFO"
	case m&fs.ModeSocket != 0:
		kind = "a socket"
	case m&fs.ModeDevice != 0:
		kind = "a device"
	}
	return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w (%s)", ErrNotRegular, kind)}
}

// Read returns the content of the regular file at path, at most limit
// bytes, and the ID of the version read. It never blocks on a special file:
// the path is checked before it is opened, opened non-blocking, and checked
// again on the open file (the path may have been swapped in between).
func Read(path string, limit int64) ([]byte, ID, error) {
	f, err := Open(path, limit)
	if err != nil {
		return nil, ID{}, err
	}
	f.Close()
	return f.Data, f.ID, nil
}

// File is a file read whole by Open and kept open, so that later looks at
// it are exact: while it is open its inode cannot be freed and reused by
// another file, so "written to since" and "replaced by another file" are
// told apart.
type File struct {
	Data []byte
	ID   ID // of the version read
	path string
	f    *os.File
}

// Open is Read that keeps the file open; Close it.
func Open(path string, limit int64) (*File, error) {
	// Looked at first, so that a device is never opened (opening some has
	// effects); a missing file reads as it would from open.
	fi, err := os.Stat(path)
	if pe, ok := err.(*fs.PathError); ok {
		pe.Op = "open"
	}
	if err == nil {
		err = checkRegular(path, fi)
	}
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	data, id, err := readOpen(f, path, limit)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &File{Data: data, ID: id, path: path, f: f}, nil
}

func readOpen(f *os.File, path string, limit int64) ([]byte, ID, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, ID{}, err
	}
	if err := checkRegular(path, fi); err != nil {
		return nil, ID{}, err
	}
	if fi.Size() > limit {
		return nil, ID{}, &TooLargeError{Path: path, Size: fi.Size(), Limit: limit}
	}
	// Room for what fstat said, and one byte more to see a file that grew.
	buf := make([]byte, 0, fi.Size()+1)
	for {
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, ID{}, &TooLargeError{Path: path, Size: int64(len(buf)), Limit: limit}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, ID{}, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
	after, err := f.Stat()
	if err != nil {
		return nil, ID{}, err
	}
	id := idOf(fi)
	if idOf(after) != id || int64(len(buf)) != fi.Size() {
		return nil, ID{}, &ChangedError{Path: path}
	}
	return buf, id, nil
}

// WrittenTo reports whether the file read was written to since (its size
// or modification time changed), which means what was read may be any
// part of what is being written.
func (f *File) WrittenTo() bool {
	fi, err := f.f.Stat()
	return err != nil || idOf(fi) != f.ID
}

// Replaced reports whether the path names another file now (or none): a
// new version renamed into place, say.
func (f *File) Replaced() bool {
	now, err := Stat(f.path)
	return err != nil || !now.SameFile(f.ID)
}

// Close closes the file; Data stays.
func (f *File) Close() error { return f.f.Close() }

// ReadStable is Read that reads a file again (up to Reads times in all)
// when it changed while being read, and also when the path names another
// file at the end (replaced by rename meanwhile: the new one is wanted).
func ReadStable(path string, limit int64) ([]byte, ID, error) {
	for i := 1; ; i++ {
		b, id, err := Read(path, limit)
		var changed *ChangedError
		if err == nil {
			if now, serr := Stat(path); serr == nil && now == id {
				return b, id, nil
			}
			err = &ChangedError{Path: path}
		} else if !errors.As(err, &changed) {
			return nil, ID{}, err
		}
		if i == Reads {
			return nil, ID{}, err
		}
	}
}

// Unchanged reports whether the file at path is still the version id.
func Unchanged(path string, id ID) bool {
	now, err := Stat(path)
	return err == nil && now == id
}
