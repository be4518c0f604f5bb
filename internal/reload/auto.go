package reload

// Automatic reloads: what the Prometheus Operator's config-reloader sidecar does, and what
// Prometheus 3 calls --config.auto-reload (formerly --enable-feature=auto-reload-config). Every
// interval the coordinator hashes each file's content — the file and the files it references
// (rule files, templates) — and reloads a file whose hash changed since its last reload, through
// the same path as SIGHUP: a file that does not load or is rejected changes nothing.
//
// Content hashes, not modification times or inotify: a ConfigMap or Secret volume is updated by
// the kubelet as an atomic swap of the ..data symlink, which changes neither the mounted file's
// own inode nor its path, only what the path resolves to.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"time"
)

// FileChecksum hashes the content of path; the default Checksum of a file.
func FileChecksum(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// checksum hashes the file as it is now; "" for an embedded default, which never changes.
func (f *File[T]) checksum() (string, error) {
	if f.o.Path == "" {
		return "", nil
	}
	if f.o.Checksum != nil {
		return f.o.Checksum()
	}
	return FileChecksum(f.o.Path)
}

// changed reports whether the file's content differs from what its last reload saw. A file that
// cannot be hashed (missing while a ConfigMap is swapped, say) is not reported as changed: the
// next check sees it again.
func (f *File[T]) changed() (bool, error) {
	sum, err := f.checksum()
	if err != nil {
		return false, err
	}
	f.mtx.Lock()
	defer f.mtx.Unlock()
	return sum != f.sum, nil
}

// AutoReload checks every file every interval until ctx ends, and reloads the files whose
// content changed. A reload that fails is not retried until the content changes again (the
// error is logged once, and <prefix>_config_last_reload_successful stays 0); SIGHUP and
// /-/reload still retry at once. An interval <= 0 returns at once.
func (c *Coordinator) AutoReload(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.reloadChanged()
		}
	}
}

// reloadChanged reloads the files whose content changed, in the order they were added.
func (c *Coordinator) reloadChanged() {
	c.reloadMtx.Lock()
	defer c.reloadMtx.Unlock()
	c.mtx.Lock()
	files := append([]reloader(nil), c.files...)
	c.mtx.Unlock()
	for _, f := range files {
		changed, err := f.changed()
		if err != nil {
			c.logger.Debug("Cannot check configuration file for changes", "file", f.path(), "err", err)
			continue
		}
		if !changed {
			continue
		}
		c.logger.Info("Configuration file change detected, reloading the configuration.", "file", f.path())
		// Logged and reflected in the file's reload metrics.
		_ = f.Reload()
	}
}
