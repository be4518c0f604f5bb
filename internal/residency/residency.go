// Package residency gives back the executable's pages that only start-up touched.
//
// Vigil's binary carries code it needs rarely or only once: package init functions of the
// Kubernetes client, the cloud SDKs behind sigv4 / azuread / google_iam auth and the SNS
// notifier, the Alertmanager API's OpenAPI machinery. Running those init functions at start
// faults their text, rodata and pclntab pages in (the kernel maps up to fault_around_bytes
// around each fault), and a mapped page stays in the process's RSS until the process exits,
// although it is never used again. Release drops the mappings of the executable's read-only
// segments (madvise MADV_DONTNEED, which for a private, unmodified file mapping only removes
// the page table entries: the pages stay in the page cache and the next access maps them
// again with a minor fault). What the server keeps using comes back within a few seconds;
// what only start-up used does not count against the process any more.
//
// Writable segments (.data, .bss, the heap) and read-only ones with copied-on-write pages (the
// RELRO segment of a PIE build) are never touched: MADV_DONTNEED would zero or un-relocate them.
package residency

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Mapping is one mapping of /proc/self/smaps that Release may drop.
type Mapping struct {
	Start, End uintptr
	Perms      string
	Path       string
}

// ParseSmaps returns the mappings of path in a /proc/PID/smaps listing whose pages are all
// identical to the file's bytes: read-only, private, and without a page of their own
// ("Anonymous: 0 kB"). The last condition excludes the RELRO segment of a position-independent
// or dynamically linked build, which the loader relocated (wrote) before making it read-only:
// dropping those pages would bring back the file's unrelocated bytes. A /proc/PID/maps listing
// (no Anonymous lines) is read the same way, every read-only private mapping taken.
func ParseSmaps(r io.Reader, path string) ([]Mapping, error) {
	var (
		out  []Mapping
		cur  *Mapping // mapping of path being read, nil for others
		anon bool     // cur has copied-on-write pages
	)
	flush := func() {
		if cur != nil && !anon {
			out = append(out, *cur)
		}
		cur, anon = nil, false
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if strings.HasSuffix(f[0], ":") {
			// A field of the current mapping ("Anonymous:   12 kB").
			if f[0] == "Anonymous:" && cur != nil && (len(f) < 2 || f[1] != "0") {
				anon = true
			}
			continue
		}
		// A mapping: address perms offset dev inode [path]
		flush()
		if len(f) < 6 || strings.Join(f[5:], " ") != path {
			continue
		}
		perms := f[1]
		// Only r--p and r-xp: readable, never writable, private.
		if len(perms) != 4 || perms[0] != 'r' || perms[1] != '-' || perms[3] != 'p' {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			return nil, fmt.Errorf("smaps: bad address range %q", f[0])
		}
		start, err := strconv.ParseUint(lo, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("smaps: start %q: %w", lo, err)
		}
		end, err := strconv.ParseUint(hi, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("smaps: end %q: %w", hi, err)
		}
		if end <= start {
			return nil, fmt.Errorf("smaps: empty range %q", f[0])
		}
		cur = &Mapping{Start: uintptr(start), End: uintptr(end), Perms: perms, Path: path}
	}
	flush()
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("smaps: %w", err)
	}
	return out, nil
}

// ErrUnsupported is returned where the platform has no /proc/self/maps or madvise.
var ErrUnsupported = errors.New("residency: not supported on this platform")

// Release drops the executable's read-only mappings from the process's resident set and
// returns how many bytes of address space it advised. It is safe to call at any time.
func Release() (int64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("residency: executable: %w", err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("residency: %w", err)
	}
	defer f.Close()
	ms, err := ParseSmaps(f, exe)
	if err != nil {
		return 0, fmt.Errorf("residency: %w", err)
	}
	var n int64
	for _, m := range ms {
		if err := dontNeed(m.Start, m.End-m.Start); err != nil {
			return n, fmt.Errorf("residency: madvise %x-%x: %w", m.Start, m.End, err)
		}
		n += int64(m.End - m.Start)
	}
	return n, nil
}
