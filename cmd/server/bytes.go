package main

import (
	"fmt"
	"strconv"
	"strings"
)

// bytesFlag parses sizes the way Prometheus's units.Base2Bytes does ("512MB", "1GB", "0").
type bytesFlag int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"PiB", 1 << 50}, {"EiB", 1 << 60},
	{"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"TB", 1 << 40}, {"PB", 1 << 50}, {"EB", 1 << 60},
	{"B", 1},
}

func (b *bytesFlag) Set(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return fmt.Errorf("empty size")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return fmt.Errorf("negative size %q", s)
		}
		*b = bytesFlag(n)
		return nil
	}
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			n, err := strconv.ParseFloat(strings.TrimSuffix(s, u.suffix), 64)
			if err != nil || n < 0 {
				return fmt.Errorf("invalid size %q", s)
			}
			*b = bytesFlag(n * float64(u.mult))
			return nil
		}
	}
	return fmt.Errorf("invalid size %q (want e.g. 512MB)", s)
}

func (b *bytesFlag) String() string { return strconv.FormatInt(int64(*b), 10) }
