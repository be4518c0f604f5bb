package main

import (
	"archive/tar"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The image is built from the real vigil binary and opened again from the OCI layout and from
// the tarball: entrypoint, user, files and the binary itself (it runs, alone in the image's
// file system when the test may chroot).
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the vigil binary")
	}
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err != nil {
		t.Skip("needs Debian's ca-certificates (/etc/ssl/certs/ca-certificates.crt)")
	}
	if _, err := os.Stat("/usr/share/zoneinfo/UTC"); err != nil {
		t.Skip("needs Debian's tzdata (/usr/share/zoneinfo)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "vigil")
	gobuild := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -X github.com/prometheus/common/version.Version=9.8.7", "-o", bin, "../../../cmd/server")
	gobuild.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := gobuild.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	o := options{
		Binaries:  map[string]string{"vigil": bin},
		CACerts:   "/etc/ssl/certs/ca-certificates.crt",
		ZoneInfo:  "/usr/share/zoneinfo",
		Registry:  "ghcr.io/vigil-monitoring",
		Version:   "9.8.7",
		Created:   time.Unix(0, 0).UTC(),
		LayoutDir: filepath.Join(dir, "layout"),
		Tarball:   filepath.Join(dir, "images.tar"),
	}
	imgs, err := build(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := write(o, imgs); err != nil {
		t.Fatal(err)
	}
	// Same inputs, same digest.
	again, err := build(o)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := imgs["vigil"].Digest()
	d2, _ := again["vigil"].Digest()
	if d1 != d2 {
		t.Errorf("not reproducible: %s then %s", d1, d2)
	}

	// From the OCI layout, as a registry client would find it.
	p, err := layout.FromPath(o.LayoutDir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "ghcr.io/vigil-monitoring/vigil:9.8.7" {
		t.Fatalf("index: %+v", im.Manifests)
	}
	img, err := p.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cf.Config.Entrypoint, " "); got != "/bin/vigil" {
		t.Errorf("entrypoint %q", got)
	}
	if cf.Config.User != "65534:65534" {
		t.Errorf("user %q, want the non-root 65534:65534", cf.Config.User)
	}
	if _, ok := cf.Config.ExposedPorts["9090/tcp"]; !ok || cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("config: %+v", cf)
	}

	// The files, read from the flattened image.
	root := filepath.Join(dir, "rootfs")
	files := map[string]*tar.Header{}
	rc := mutate.Extract(img)
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimSuffix(h.Name, "/")] = h
		target := filepath.Join(root, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(target, 0o755)
		case tar.TypeSymlink:
			os.MkdirAll(filepath.Dir(target), 0o755)
			if err := os.Symlink(h.Linkname, target); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(target), 0o755)
			b, _ := io.ReadAll(tr)
			if err := os.WriteFile(target, b, os.FileMode(h.Mode)&0o777); err != nil {
				t.Fatal(err)
			}
		}
	}
	rc.Close()
	for name, check := range map[string]func(*tar.Header) bool{
		"bin/vigil":                         func(h *tar.Header) bool { return h.Mode&0o111 != 0 && h.Uid == 0 },
		"etc/passwd":                        func(h *tar.Header) bool { return true },
		"etc/group":                         func(h *tar.Header) bool { return true },
		"etc/ssl/certs/ca-certificates.crt": func(h *tar.Header) bool { return h.Size > 1000 },
		"usr/share/zoneinfo/Etc/UTC":        func(h *tar.Header) bool { return h.Size > 0 },
		"usr/share/zoneinfo/UTC":            func(h *tar.Header) bool { return h.Size > 0 || h.Linkname != "" },
		"usr/share/zoneinfo/Europe/Berlin":  func(h *tar.Header) bool { return h.Size > 0 },
		"tmp":                               func(h *tar.Header) bool { return h.Mode&0o1777 == 0o1777 },
		"data":                              func(h *tar.Header) bool { return h.Uid == 65534 && h.Gid == 65534 },
	} {
		h, ok := files[name]
		if !ok || !check(h) {
			t.Errorf("%s: %+v", name, h)
		}
	}
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if !strings.Contains(string(passwd), ":65534:65534:") {
		t.Errorf("/etc/passwd has no user 65534: %s", passwd)
	}
	if len(files) > 2000 {
		t.Errorf("%d files: not a minimal image", len(files))
	}

	// The binary runs: inside the image's own file system (nothing from the host) when the test
	// runs as root, else from the extracted copy.
	var run *exec.Cmd
	if os.Geteuid() == 0 && runtime.GOOS == "linux" {
		run = exec.Command("chroot", "--userspec=65534:65534", root, "/bin/vigil", "--version")
	} else {
		run = exec.Command(filepath.Join(root, "bin/vigil"), "--version")
	}
	out, err := run.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "vigil, version 9.8.7") {
		t.Fatalf("%v: %v\n%s", run.Args, err, out)
	}

	// The tarball loads as `docker load` reads it.
	timg, err := tarball.ImageFromPath(o.Tarball, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Its manifest is rewritten in Docker's format; config and layers are the same.
	tc, _ := timg.ConfigName()
	lc, _ := img.ConfigName()
	if tc != lc {
		t.Errorf("tarball image config %s, layout image config %s", tc, lc)
	}
}
