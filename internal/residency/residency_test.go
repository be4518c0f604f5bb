package residency

import (
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

const maps = `00400000-02997000 r-xp 00000000 fe:00 10872109                           /work/bin/vigil
02997000-0568d000 r--p 02597000 fe:00 10872109                           /work/bin/vigil
0568d000-05765000 rw-p 0528d000 fe:00 10872109                           /work/bin/vigil
05765000-077be000 rw-p 00000000 00:00 0 
1926d2000000-1926d3000000 rw-p 00000000 00:00 0 
7f979b205000-7f979b2bb000 r--p 00000000 fe:00 42                         /work/bin/vigil-other
7f979b300000-7f979b301000 r--s 00000000 fe:00 10872109                   /work/bin/vigil
7f979b400000-7f979b401000 r-xp 00000000 fe:00 77                         /opt/my dir/vigil
7ffd1a3c4000-7ffd1a3e5000 rw-p 00000000 00:00 0                          [stack]
`

// smaps of a PIE build: the RELRO segment (r--p after relocation) has pages of its own.
const smaps = `555555554000-555555c00000 r--p 00000000 fe:00 99                         /usr/bin/vigil
Size:               6832 kB
Rss:                4000 kB
Anonymous:             0 kB
VmFlags: rd mr mw me dw sd
555555c00000-557000000000 r-xp 006ac000 fe:00 99                         /usr/bin/vigil
Size:              20480 kB
Anonymous:             0 kB
557000000000-557000400000 r--p 01aac000 fe:00 99                         /usr/bin/vigil
Size:               4096 kB
Anonymous:          4096 kB
VmFlags: rd mr mw me dw ac sd
557000400000-557000500000 rw-p 01eac000 fe:00 99                         /usr/bin/vigil
Anonymous:           120 kB
`

func TestParseSmapsRelro(t *testing.T) {
	got, err := ParseSmaps(strings.NewReader(smaps), "/usr/bin/vigil")
	if err != nil {
		t.Fatal(err)
	}
	want := []Mapping{
		{Start: 0x555555554000, End: 0x555555c00000, Perms: "r--p", Path: "/usr/bin/vigil"},
		{Start: 0x555555c00000, End: 0x557000000000, Perms: "r-xp", Path: "/usr/bin/vigil"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestParseSmaps(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		want       []Mapping
	}{
		{"read-only private segments only", "/work/bin/vigil", []Mapping{
			{Start: 0x400000, End: 0x2997000, Perms: "r-xp", Path: "/work/bin/vigil"},
			{Start: 0x2997000, End: 0x568d000, Perms: "r--p", Path: "/work/bin/vigil"},
		}},
		{"path with a space", "/opt/my dir/vigil", []Mapping{
			{Start: 0x7f979b400000, End: 0x7f979b401000, Perms: "r-xp", Path: "/opt/my dir/vigil"},
		}},
		{"not mapped", "/nowhere", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSmaps(strings.NewReader(maps), tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseSmapsErrors(t *testing.T) {
	for _, in := range []string{
		"zz-02997000 r-xp 00000000 fe:00 1 /x\n",
		"00400000-zz r-xp 00000000 fe:00 1 /x\n",
		"02997000-00400000 r-xp 00000000 fe:00 1 /x\n",
		"00400000 r-xp 00000000 fe:00 1 /x\n",
	} {
		if _, err := ParseSmaps(strings.NewReader(in), "/x"); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func FuzzParseSmaps(f *testing.F) {
	f.Add(maps, "/work/bin/vigil")
	f.Add(smaps, "/usr/bin/vigil")
	f.Fuzz(func(t *testing.T, in, path string) {
		ms, err := ParseSmaps(strings.NewReader(in), path)
		if err != nil {
			return
		}
		for _, m := range ms {
			if m.End <= m.Start || m.Path != path || m.Perms[1] == 'w' {
				t.Fatalf("bad mapping %+v", m)
			}
		}
	})
}

func rssFile(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// TestRelease drops this test binary's read-only pages and checks that the resident set
// shrank and that the code still runs (the pages come back from the page cache).
func TestRelease(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("madvise of the executable is Linux-only")
	}
	before := rssFile(t)
	n, err := Release()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFile(t)
	if n == 0 {
		t.Fatal("released nothing: the executable's mappings were not found")
	}
	if after >= before {
		t.Errorf("RssFile %d kB after release, %d kB before", after, before)
	}
	// The released code and data are still there.
	// (interfaces, reflection and type descriptors included: a PIE build's relocated RELRO
	// pages must not have been dropped, `go test -buildmode=pie` runs this too).
	if got := fmt.Sprintf("%v %s", map[string]any{"a": []int{1}}, strings.Repeat("ab", 3)+strconv.Itoa(42)); got != "map[a:[1]] ababab42" {
		t.Errorf("got %q", got)
	}
	t.Logf("RssFile %d kB → %d kB (%d bytes advised)", before, after, n)
}
