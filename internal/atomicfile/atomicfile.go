// Package atomicfile writes a file so that it appears under its final name complete or not at all.
//
// Data goes to a hidden temporary file in the destination's folder (".NAME.tmp-RANDOM"); Commit syncs
// it, renames it over the final name and syncs the folder, so a crash at any point leaves either the
// old file or the new one, never a half-written one (the classic write-fsync-rename protocol, as in
// restic and litestream). Abort removes the temporary file; it is safe to defer after Commit.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// File is a file being written atomically.
type File struct {
	*os.File
	final   string
	done    bool
	through bool // written straight to a device, FIFO or socket
}

// Create starts writing path atomically, or straight through when path is not a regular file.
func Create(path string) (*File, error) {
	if through, err := special(path); err != nil {
		return nil, err
	} else if through {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		return &File{File: f, final: path, through: true}, nil
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &File{File: f, final: path}, nil
}

// special reports whether path exists and is neither a regular file nor a symbolic link to one.
func special(path string) (bool, error) {
	st, err := os.Stat(path) // follows links: /dev/stdout is one
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("create %s: %w", path, err)
	case st.IsDir():
		return false, fmt.Errorf("create %s: is a folder", path)
	}
	if !st.Mode().IsRegular() {
		return true, nil
	}
	// A regular file reached through /proc (/dev/stdout redirected to a file) is an open file
	// descriptor: write it in place.
	return viaProc(path), nil
}

// viaProc reports whether path is a chain of symbolic links that passes through /proc.
func viaProc(path string) bool {
	for p := path; ; {
		l, err := os.Readlink(p)
		if err != nil {
			return false
		}
		if !filepath.IsAbs(l) {
			l = filepath.Join(filepath.Dir(p), l)
		}
		if len(l) >= 6 && l[:6] == "/proc/" {
			return true
		}
		p = l
	}
}

// Special reports whether path names an existing device, FIFO or socket (or a link to one), which
// Create writes straight through; callers skip what only makes sense for files, such as sidecars.
func Special(path string) bool {
	through, _ := special(path)
	return through
}

// Name returns the final path, not the temporary one.
func (f *File) Name() string { return f.final }

// Commit flushes the data to disk and moves the file to its final name.
func (f *File) Commit() error {
	if f.done {
		return errors.New("atomicfile: commit after commit or abort")
	}
	f.done = true
	if f.through {
		if err := f.File.Close(); err != nil {
			return fmt.Errorf("close %s: %w", f.final, err)
		}
		return nil
	}
	tmp := f.File.Name()
	if err := f.File.Sync(); err != nil {
		f.File.Close()
		os.Remove(tmp)
		return fmt.Errorf("sync %s: %w", f.final, err)
	}
	if err := f.File.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close %s: %w", f.final, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("chmod %s: %w", f.final, err)
	}
	if err := os.Rename(tmp, f.final); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename to %s: %w", f.final, err)
	}
	if d, err := os.Open(filepath.Dir(f.final)); err == nil {
		d.Sync() // best effort: some filesystems refuse to sync folders
		d.Close()
	}
	return nil
}

// Abort discards what was written. It does nothing after Commit.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.File.Close()
	if !f.through {
		os.Remove(f.File.Name())
	}
}

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Commit()
}
