// Package mmap maps read-only files into memory, so that block readers can hand out slices of
// the file without copying and let the kernel page data in and out.
package mmap

import (
	"fmt"
	"os"
)

// File is a read-only file mapped into memory.
type File struct {
	f *os.File
	b []byte
}

// Open maps the whole file at path. An empty file yields an empty, valid mapping.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	size := st.Size()
	if size != int64(int(size)) {
		f.Close()
		return nil, fmt.Errorf("mmap %s: file too large (%d bytes)", path, size)
	}
	b, err := mapFile(f, int(size))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return &File{f: f, b: b}, nil
}

// Bytes returns the mapped content. It must not be written to, nor used after Close.
func (m *File) Bytes() []byte { return m.b }

// Close unmaps the file and closes it.
func (m *File) Close() error {
	var err error
	if m.b != nil {
		err = unmap(m.b)
		m.b = nil
	}
	if cerr := m.f.Close(); err == nil {
		err = cerr
	}
	return err
}
