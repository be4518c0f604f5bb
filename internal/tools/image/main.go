// Command image assembles Vigil's container images without a Docker daemon (make image): the
// recipe of deploy/Dockerfile, built with go-containerregistry from binaries built here.
//
// Every image is a base layer this program writes — /etc/passwd and /etc/group with the
// non-root user 65534 (nobody), the CA certificates of Debian's ca-certificates
// (/etc/ssl/certs/ca-certificates.crt), the time zone database of Debian's tzdata
// (/usr/share/zoneinfo), an empty /tmp and /data — and one layer with the static binary. The
// result is an OCI image layout (one manifest per image, named by the
// org.opencontainers.image.ref.name annotation) and, optionally, a tarball that `docker load`
// and `podman load` take. Timestamps are fixed (SOURCE_DATE_EPOCH, else 0), so the same inputs
// give the same digests.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// UID and GID of the user the images run as (nobody, as in the chart's securityContext).
const uid, gid = 65534, 65534

// options say what to build.
type options struct {
	Binaries  map[string]string // image name (vigil, vigil-adapter) → binary path
	CACerts   string            // a PEM bundle
	ZoneInfo  string            // a zoneinfo directory
	Registry  string            // e.g. ghcr.io/vigil-monitoring
	Version   string            // the tag
	Revision  string
	Created   time.Time
	LayoutDir string // OCI image layout to write
	Tarball   string // docker-loadable tarball to write; empty: none
}

func main() {
	var o options
	vigil := flag.String("vigil", "bin/vigil", "the vigil binary (static, CGO_ENABLED=0); empty: no vigil image")
	adapter := flag.String("adapter", "bin/vigil-adapter", "the vigil-adapter binary; empty: no vigil-adapter image")
	flag.StringVar(&o.CACerts, "ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "CA certificate bundle (Debian package ca-certificates)")
	flag.StringVar(&o.ZoneInfo, "zoneinfo", "/usr/share/zoneinfo", "time zone database (Debian package tzdata)")
	flag.StringVar(&o.Registry, "registry", "ghcr.io/vigil-monitoring", "registry and namespace of the image names")
	flag.StringVar(&o.Version, "version", "latest", "image tag")
	flag.StringVar(&o.Revision, "revision", "", "source revision (org.opencontainers.image.revision)")
	flag.StringVar(&o.LayoutDir, "layout", "bin/image", "OCI image layout directory to write (replaced)")
	flag.StringVar(&o.Tarball, "tarball", "bin/vigil-images.tar", "tarball for docker/podman load; empty: none")
	flag.Parse()
	o.Binaries = map[string]string{}
	if *vigil != "" {
		o.Binaries["vigil"] = *vigil
	}
	if *adapter != "" {
		o.Binaries["vigil-adapter"] = *adapter
	}
	o.Created = time.Unix(0, 0).UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, "image: SOURCE_DATE_EPOCH:", err)
			os.Exit(2)
		}
		o.Created = time.Unix(n, 0).UTC()
	}
	imgs, err := build(o)
	if err == nil {
		err = write(o, imgs)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	for _, n := range sortedNames(imgs) {
		d, _ := imgs[n].Digest()
		fmt.Printf("%s/%s:%s %s\n", o.Registry, n, o.Version, d)
	}
	fmt.Printf("OCI layout: %s\n", o.LayoutDir)
	if o.Tarball != "" {
		fmt.Printf("tarball: %s (docker load -i %s)\n", o.Tarball, o.Tarball)
	}
}

func sortedNames(imgs map[string]v1.Image) []string {
	var names []string
	for n := range imgs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// build makes one image per binary on the shared base layer.
func build(o options) (map[string]v1.Image, error) {
	if len(o.Binaries) == 0 {
		return nil, fmt.Errorf("no binaries")
	}
	base, err := baseLayer(o)
	if err != nil {
		return nil, err
	}
	imgs := map[string]v1.Image{}
	for imgName, bin := range o.Binaries {
		b, err := os.ReadFile(bin)
		if err != nil {
			return nil, fmt.Errorf("binary of %s: %w", imgName, err)
		}
		binLayer, err := layer(o.Created, []entry{{name: "bin/", mode: 0o755, dir: true}, {name: "bin/" + imgName, mode: 0o755, data: b}})
		if err != nil {
			return nil, err
		}
		img, err := mutate.Append(empty.Image,
			mutate.Addendum{Layer: base, History: v1.History{Created: v1.Time{Time: o.Created}, CreatedBy: "vigil image: base (passwd, group, ca-certificates, tzdata, /tmp, /data)"}},
			mutate.Addendum{Layer: binLayer, History: v1.History{Created: v1.Time{Time: o.Created}, CreatedBy: "vigil image: COPY " + filepath.Base(bin) + " /bin/" + imgName}})
		if err != nil {
			return nil, err
		}
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		cfg := v1.Config{
			Entrypoint: []string{"/bin/" + imgName},
			User:       fmt.Sprintf("%d:%d", uid, gid),
			Env:        []string{"PATH=/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
			Labels: map[string]string{
				"org.opencontainers.image.title":    imgName,
				"org.opencontainers.image.source":   "https://github.com/vigil-monitoring/vigil",
				"org.opencontainers.image.version":  o.Version,
				"org.opencontainers.image.revision": o.Revision,
				"org.opencontainers.image.licenses": "Apache-2.0",
			},
		}
		switch imgName {
		case "vigil":
			// As Prometheus's image: data in a volume, the UI/API port.
			cfg.Cmd = []string{"--storage.tsdb.path=/data"}
			cfg.WorkingDir = "/data"
			cfg.Volumes = map[string]struct{}{"/data": {}}
			cfg.ExposedPorts = map[string]struct{}{"9090/tcp": {}}
		case "vigil-adapter":
			cfg.ExposedPorts = map[string]struct{}{"6443/tcp": {}}
		}
		if img, err = mutate.Config(img, cfg); err != nil {
			return nil, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		cf = cf.DeepCopy()
		cf.Created = v1.Time{Time: o.Created}
		cf.Architecture, cf.OS = "amd64", "linux"
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return nil, err
		}
		imgs[imgName] = img
	}
	return imgs, nil
}

// write writes the OCI layout (and the tarball).
func write(o options, imgs map[string]v1.Image) error {
	if err := os.RemoveAll(o.LayoutDir); err != nil {
		return err
	}
	p, err := layout.Write(o.LayoutDir, empty.Index)
	if err != nil {
		return err
	}
	refs := map[name.Reference]v1.Image{}
	for _, n := range sortedNames(imgs) {
		ref := fmt.Sprintf("%s/%s:%s", o.Registry, n, o.Version)
		if err := p.AppendImage(imgs[n], layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": ref,
		})); err != nil {
			return err
		}
		tag, err := name.NewTag(ref)
		if err != nil {
			return err
		}
		refs[tag] = imgs[n]
	}
	if o.Tarball != "" {
		return tarball.MultiRefWriteToFile(o.Tarball, refs)
	}
	return nil
}

// entry is a file or directory of a layer.
type entry struct {
	name     string // relative, "/"-separated; directories end in "/"
	mode     int64
	dir      bool
	data     []byte
	link     string // a symbolic link to this target
	uid, gid int
}

// layer makes a layer of entries, in the order given, with fixed timestamps.
func layer(created time.Time, entries []entry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, ModTime: created, Uid: e.uid, Gid: e.gid, Format: tar.FormatPAX}
		switch {
		case e.dir:
			h.Typeflag = tar.TypeDir
		case e.link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.link
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// baseLayer is what a distroless "static" base holds: users, CA certificates, time zones.
func baseLayer(o options) (v1.Layer, error) {
	certs, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, fmt.Errorf("CA certificates (Debian package ca-certificates): %w", err)
	}
	es := []entry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n")},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnogroup:x:65534:\n")},
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{name: "etc/ssl/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/", mode: 0o755, dir: true},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: certs},
		{name: "tmp/", mode: 0o1777, dir: true},
		{name: "data/", mode: 0o755, dir: true, uid: uid, gid: gid},
		{name: "usr/", mode: 0o755, dir: true},
		{name: "usr/share/", mode: 0o755, dir: true},
	}
	// The zoneinfo tree, sorted (WalkDir is lexical); symlinks (Debian's tzdata makes aliases
	// and posix/ of them) stay symlinks.
	root := filepath.Clean(o.ZoneInfo)
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		name := "usr/share/zoneinfo"
		if rel != "." {
			name += "/" + filepath.ToSlash(rel)
		}
		if d.IsDir() {
			es = append(es, entry{name: name + "/", mode: 0o755, dir: true})
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if filepath.IsAbs(target) {
				return nil // localtime -> /etc/localtime: the host's, not the database's
			}
			es = append(es, entry{name: name, mode: 0o777, link: filepath.ToSlash(target)})
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		es = append(es, entry{name: name, mode: 0o644, data: b})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("time zone database (Debian package tzdata): %w", err)
	}
	return layer(o.Created, es)
}
