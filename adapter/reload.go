package adapter

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"k8s.io/klog/v2"
)

// DefaultConfig is the rule set used without --config (prometheus-adapter's default rules).
//
//go:embed default-config.yaml
var DefaultConfig []byte

// Reloader loads the config file into a Discoverer and reloads it when it changes. A file that
// fails to parse or compile leaves the running rules in place; the error is logged and kept in
// LastError.
type Reloader struct {
	Path       string // empty: DefaultConfig
	Discoverer *Discoverer

	mu       sync.Mutex
	loaded   []byte
	rejected []byte // last content that failed, so polling does not repeat the same error
	lastErr  error
	OnLoad   func(err error) // called after every load attempt (metrics, tests)
}

// Load reads and installs the config if its content changed, then relists.
func (r *Reloader) Load(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	data := DefaultConfig
	if r.Path != "" {
		var err error
		if data, err = os.ReadFile(r.Path); err != nil {
			return r.done(fmt.Errorf("reading adapter config %s: %w", r.Path, err))
		}
	}
	if (r.loaded != nil && bytes.Equal(data, r.loaded)) || (r.rejected != nil && bytes.Equal(data, r.rejected)) {
		return nil
	}
	rs, warnings, err := LoadRules(data)
	for _, w := range warnings {
		klog.Warningf("adapter config %s: %s", r.name(), w)
	}
	if err != nil {
		r.rejected = data
		if r.loaded != nil {
			return r.done(fmt.Errorf("adapter config %s rejected, keeping the previous rules: %w", r.name(), err))
		}
		return r.done(fmt.Errorf("adapter config %s: %w", r.name(), err))
	}
	r.Discoverer.SetRules(rs)
	r.loaded, r.rejected = data, nil
	klog.InfoS("loaded adapter config", "file", r.name(), "rules", len(rs.Rules), "externalRules", len(rs.ExternalRules))
	if err := r.Discoverer.Relist(ctx); err != nil {
		klog.ErrorS(err, "relist after config load failed; will retry")
	}
	return r.done(nil)
}

func (r *Reloader) name() string {
	if r.Path == "" {
		return "(built-in default rules)"
	}
	return r.Path
}

func (r *Reloader) done(err error) error {
	r.lastErr = err
	configReloads.WithLabelValues(result(err)).Inc()
	if err != nil {
		configLastSuccess.Set(0)
	} else {
		configLastSuccess.Set(1)
	}
	if r.OnLoad != nil {
		r.OnLoad(err)
	}
	return err
}

// LastError is the result of the last load attempt.
func (r *Reloader) LastError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// Watch reloads on file-system events in the file's directory (a mounted ConfigMap is updated
// by swapping a symlink, so watching the file itself would miss updates) and, in case events
// are lost, every poll interval.
func (r *Reloader) Watch(ctx context.Context, poll time.Duration) {
	if r.Path == "" {
		return
	}
	var events chan fsnotify.Event
	w, err := fsnotify.NewWatcher()
	if err == nil {
		if err = w.Add(filepath.Dir(r.Path)); err == nil {
			events = w.Events
			defer w.Close()
		} else {
			w.Close()
		}
	}
	if err != nil {
		klog.ErrorS(err, "cannot watch adapter config; polling only", "file", r.Path, "interval", poll)
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-events:
			// Editors and kubelet write in several steps; load once things settle.
			debounce = time.After(100 * time.Millisecond)
			continue
		case <-debounce:
		case <-t.C:
		}
		debounce = nil
		if err := r.Load(ctx); err != nil {
			klog.ErrorS(err, "adapter config reload failed")
		}
	}
}
