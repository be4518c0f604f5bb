//go:build !unix

package mmap

import (
	"io"
	"os"
)

// Without mmap the file is read into memory; readers behave the same, only costlier.
func mapFile(f *os.File, size int) ([]byte, error) {
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, err
	}
	return b, nil
}

func unmap([]byte) error { return nil }
