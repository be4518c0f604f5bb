// Copyright 2020 The Prometheus Authors
// This code is partly borrowed from Caddy:
//    Copyright 2015 Matthew Holt and The Caddy Authors
// Copyright The Vigil Authors
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
// http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package server

// The HTTP half of exporter-toolkit's web.Serve (web/handler.go, web/tls_config.go at v0.19.0),
// with the parsed web configuration cached. The toolkit's handler opens, reads and strictly
// unmarshals the file on every request (and every TLS handshake): in a profile of Vigil taking
// one-alert POSTs with basic auth that was 44% of the server's CPU. Here the file is parsed
// once per change, and whether it changed is checked with one stat(2) at most every
// checkInterval: a stat per request would still cost a few microseconds (a syscall; 3 µs on
// a loaded VM), a tenth of a one-alert request.

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	toolkitweb "github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/time/rate"
)

// racyWindow is how close to the moment the file was read its modification time must be for
// the stat to be distrusted. File systems stamp mtimes with a coarse clock (a kernel tick; one
// or two seconds on some), so a second write within the same tick that keeps the size and the
// inode leaves the stat unchanged. While the mtime is this recent, every check re-reads the
// file and compares the bytes (git's "racily clean" entries); it re-parses only if they differ.
const racyWindow = 2 * time.Second

// checkInterval is how often at most the file is checked for changes: an edit takes effect
// on the first request at least this long after the previous check.
const checkInterval = 100 * time.Millisecond

// webConfig is the web configuration file, parsed once per change of the file.
type webConfig struct {
	path   string
	logger *slog.Logger
	// checkEvery is checkInterval but in tests; now is time.Now but in tests.
	checkEvery atomic.Int64 // a time.Duration
	now        func() time.Time
	epoch      time.Time
	nextCheck  atomic.Int64 // when to stat the file next, in nanoseconds since epoch

	reloadMtx sync.Mutex // one reload at a time
	cur       atomic.Pointer[webConfigVersion]
	parses    atomic.Int64 // how often the file was parsed, for tests
}

// webConfigVersion is one reading of the file.
type webConfigVersion struct {
	info  os.FileInfo // the stat taken before reading raw; nil if it failed
	trust bool        // info identifies raw: its mtime is older than the read by racyWindow
	raw   []byte
	// cfg is the parsed file, nil if err is set. Requests are answered 500 while the file cannot
	// be read or parsed, as by exporter-toolkit.
	cfg *toolkitweb.Config
	err error
	// limiter is rate_limit's, nil if it is off. It is kept across versions with the same
	// rate_limit, so that a reload does not refill the bucket.
	limiter *rate.Limiter
}

func newWebConfig(path string, logger *slog.Logger) *webConfig {
	w := &webConfig{path: path, logger: logger, now: time.Now, epoch: time.Now()}
	w.checkEvery.Store(int64(checkInterval))
	return w
}

// current returns the configuration in the file: the cached one if it was checked less than
// checkEvery ago or a stat of the file shows it unchanged, else the file re-read.
func (w *webConfig) current() *webConfigVersion {
	v := w.cur.Load()
	if every := w.checkEvery.Load(); every > 0 {
		t := int64(w.now().Sub(w.epoch))
		if v != nil && t < w.nextCheck.Load() {
			return v
		}
		w.nextCheck.Store(t + every)
	}
	fi, err := os.Stat(w.path)
	if v != nil && err == nil && v.trust && sameFile(v.info, fi) {
		return v
	}
	return w.reload(fi, err)
}

// sameFile reports whether a and b are stats of the same, unmodified file: same inode and
// device, size and modification time. An atomic rename (as Kubernetes does with ConfigMaps)
// changes the inode.
func sameFile(a, b os.FileInfo) bool {
	return a != nil && b != nil && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && os.SameFile(a, b)
}

func (w *webConfig) reload(fi os.FileInfo, statErr error) *webConfigVersion {
	w.reloadMtx.Lock()
	defer w.reloadMtx.Unlock()
	old := w.cur.Load()
	if old != nil && statErr == nil && old.trust && sameFile(old.info, fi) {
		return old // reloaded by another request while this one waited
	}
	readAt := time.Now()
	var raw []byte
	err := statErr
	if err == nil {
		raw, err = os.ReadFile(w.path)
	}
	v := &webConfigVersion{info: fi, raw: raw}
	if err == nil {
		v.trust = fi.ModTime().Before(readAt.Add(-racyWindow))
	} else {
		v.info = nil
	}
	switch {
	case err != nil:
		v.err = err
		if old != nil && old.err != nil && old.err.Error() == err.Error() {
			v.raw = nil
			w.cur.Store(v)
			return v // logged already
		}
	case old != nil && old.raw != nil && bytes.Equal(raw, old.raw):
		// Touched, renamed over with the same content, or re-read in the racy window.
		v.cfg, v.err, v.limiter = old.cfg, old.err, old.limiter
		w.cur.Store(v)
		return v
	default:
		w.parses.Add(1)
		v.cfg, v.err = parseWebConfig(w.path, raw)
	}
	if v.err != nil {
		// As exporter-toolkit: every request is answered 500 and every TLS handshake fails
		// until the file is fixed. Keeping the last good file instead would keep a user the
		// edit removed able to log in.
		w.logger.Error("Unable to parse web configuration file; answering every request with 500 until it is fixed", "file", w.path, "err", v.err)
		w.cur.Store(v)
		return v
	}
	rl := v.cfg.RateLimiterConfig
	switch {
	case rl.Interval == 0:
	case old != nil && old.cfg != nil && old.cfg.RateLimiterConfig == rl && old.limiter != nil:
		v.limiter = old.limiter
	default:
		v.limiter = rate.NewLimiter(rate.Every(rl.Interval), rl.Burst)
	}
	if old != nil {
		w.logger.Info("Web configuration file reloaded", "file", w.path)
	}
	// What web.Validate checks beyond parsing does not stop requests, as in the toolkit's
	// handler (a user whose hash is not bcrypt cannot log in; TLS errors fail handshakes), but
	// it is worth a log line.
	if err := validateLoaded(v.cfg); err != nil {
		w.logger.Error("Web configuration file does not validate", "file", w.path, "err", err)
	}
	w.cur.Store(v)
	return v
}

// parseWebConfig parses a web configuration file as exporter-toolkit's getConfig does:
// the toolkit's defaults, strict YAML, the header check, paths relative to the file.
func parseWebConfig(path string, raw []byte) (*toolkitweb.Config, error) {
	c := &toolkitweb.Config{
		TLSConfig: toolkitweb.TLSConfig{
			MinVersion:               tls.VersionTLS12,
			MaxVersion:               tls.VersionTLS13,
			PreferServerCipherSuites: true,
		},
		HTTPConfig: toolkitweb.HTTPConfig{HTTP2: true},
	}
	if err := yaml.UnmarshalStrict(raw, c); err != nil {
		return nil, err
	}
	if err := validateHeaderConfig(c.HTTPConfig.Header); err != nil {
		return nil, err
	}
	c.TLSConfig.SetDirectory(filepath.Dir(path))
	return c, nil
}

// validateLoaded checks what web.Validate checks after parsing: the users' hashes are bcrypt,
// and the TLS configuration, if any, loads.
func validateLoaded(c *toolkitweb.Config) error {
	for user, p := range c.Users {
		if _, err := bcrypt.Cost([]byte(p)); err != nil {
			return fmt.Errorf("basic_auth_users %q: %w", user, err)
		}
	}
	if c.TLSConfig.IsEnabled() {
		if _, err := toolkitweb.ConfigToTLSConfig(&c.TLSConfig); err != nil {
			return fmt.Errorf("tls_server_config: %w", err)
		}
	}
	return nil
}

// extraHTTPHeaders are the headers http_server_config.headers may set, with their allowed
// values (any, if nil). (exporter-toolkit's, private there.)
var extraHTTPHeaders = map[string][]string{
	"Strict-Transport-Security": nil,
	"X-Content-Type-Options":    {"nosniff"},
	"X-Frame-Options":           {"deny", "sameorigin"},
	"X-XSS-Protection":          nil,
	"Content-Security-Policy":   nil,
}

// validateHeaderConfig checks that the provided header configuration is correct. It does not
// check the validity of all the values, only the ones which are well-defined enumerations.
func validateHeaderConfig(headers map[string]string) error {
HeadersLoop:
	for k, v := range headers {
		values, ok := extraHTTPHeaders[k]
		if !ok {
			return fmt.Errorf("HTTP header %q can not be configured", k)
		}
		for _, allowedValue := range values {
			if v == allowedValue {
				continue HeadersLoop
			}
		}
		if len(values) > 0 {
			return fmt.Errorf("invalid value for %s. Expected one of: %q, but got: %q", k, values, v)
		}
	}
	return nil
}

// tlsConfig returns the TLS configuration for a new connection from the current file, as
// exporter-toolkit's GetConfigForClient does: certificates, keys and the client CA are read
// from their files on every handshake, so that they can be replaced without a restart.
func (w *webConfig) tlsConfig() (*tls.Config, error) {
	v := w.current()
	if v.err != nil {
		return nil, v.err
	}
	return toolkitweb.ConfigToTLSConfig(&v.cfg.TLSConfig)
}

// fakeHash is a bcrypt hash of "fakepassword", compared against for unknown users so that
// the response time does not tell which users exist. (exporter-toolkit's.)
const fakeHash = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"

// authHandler is exporter-toolkit's webHandler over the cached configuration: rate limit,
// response headers, basic auth.
type authHandler struct {
	config  *webConfig
	handler http.Handler
	cache   authCache
	// bcryptMtx ensures that bcrypt.CompareHashAndPassword runs once at a time, as it is
	// CPU intensive.
	bcryptMtx sync.Mutex
}

func (u *authHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v := u.config.current()
	if v.err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	if v.limiter != nil && !v.limiter.Allow() {
		http.Error(w, http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests)
		return
	}
	for k, val := range v.cfg.HTTPConfig.Header {
		w.Header().Set(k, val)
	}
	if len(v.cfg.Users) == 0 {
		u.handler.ServeHTTP(w, r)
		return
	}
	if user, pass, ok := r.BasicAuth(); ok && u.authenticate(v.cfg, user, pass) {
		u.handler.ServeHTTP(w, r)
		return
	}
	w.Header().Set("WWW-Authenticate", "Basic")
	http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
}

func (u *authHandler) authenticate(c *toolkitweb.Config, user, pass string) bool {
	hashed, validUser := c.Users[user]
	if !validUser {
		// Compare with a fixed hash so that timing does not reveal which users exist.
		hashed = fakeHash
	}
	key := authKey{user: user, hash: string(hashed), pass: pass}
	ok, cached := u.cache.get(key)
	if !cached {
		u.bcryptMtx.Lock()
		err := bcrypt.CompareHashAndPassword([]byte(hashed), []byte(pass))
		u.bcryptMtx.Unlock()
		ok = validUser && err == nil
		u.cache.set(key, ok)
	}
	return ok && validUser
}

// authKey is what a cached bcrypt result depends on: the user, the hash in the file (so a
// changed hash is compared anew) and the password given.
type authKey struct{ user, hash, pass string }

// authCacheSize bounds the bcrypt results kept (exporter-toolkit's cacheSize).
const authCacheSize = 100

// authCache holds bcrypt results, with random eviction (exporter-toolkit's cache, keyed by a
// struct instead of a joined hex string, which cost allocations per request).
type authCache struct {
	mtx sync.Mutex
	m   map[authKey]bool
}

func (c *authCache) get(k authKey) (value, ok bool) {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	value, ok = c.m[k]
	return value, ok
}

func (c *authCache) set(k authKey, value bool) {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	if c.m == nil {
		c.m = make(map[authKey]bool)
	}
	if len(c.m) >= authCacheSize {
		// Delete a tenth at random, so that this does not happen on every miss.
		for range max(len(c.m)/10, 1) + 1 {
			n, i := rand.IntN(len(c.m)), 0
			for key := range c.m {
				if i == n {
					delete(c.m, key)
					break
				}
				i++
			}
		}
	}
	c.m[k] = value
}
