// Copyright The Prometheus Authors
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

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/grafana/regexp"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
)

// Flags are the web flags of Prometheus that shape the HTTP server, with Prometheus's names,
// help texts and defaults. Call Resolve after parsing.
type Flags struct {
	// WebConfigFile is --web.config.file: TLS, client certificates, basic auth, HTTP/2 and
	// response headers, in the format of github.com/prometheus/exporter-toolkit.
	WebConfigFile  string
	readTimeout    model.Duration
	MaxConnections int
	corsRaw        string
	externalRaw    string
	routePrefixRaw string

	// Set by Resolve.
	ReadTimeout time.Duration
	CORSOrigin  *regexp.Regexp
	ExternalURL *url.URL
	// RoutePrefix is "/" or a path without a trailing slash ("/vigil"): every route is served
	// under it.
	RoutePrefix string
}

// RegisterFlags adds the web flags to app.
func RegisterFlags(app *kingpin.Application) *Flags {
	f := &Flags{}
	app.Flag("web.config.file", "[EXPERIMENTAL] Path to configuration file that can enable TLS or authentication.").Default("").StringVar(&f.WebConfigFile)
	app.Flag("web.read-timeout", "Maximum duration before timing out read of the request, and closing idle connections.").Default("5m").SetValue(&f.readTimeout)
	app.Flag("web.max-connections", "Maximum number of simultaneous connections across all listeners.").Default("512").IntVar(&f.MaxConnections)
	app.Flag("web.external-url", "The URL under which Vigil is externally reachable (for example, if Vigil is served via a reverse proxy). Used for generating relative and absolute links back to Vigil itself. If the URL has a path portion, it will be used to prefix all HTTP endpoints served by Vigil. If omitted, relevant URL components will be derived automatically.").PlaceHolder("<URL>").StringVar(&f.externalRaw)
	app.Flag("web.route-prefix", "Prefix for the internal routes of web endpoints. Defaults to path of --web.external-url.").PlaceHolder("<path>").StringVar(&f.routePrefixRaw)
	app.Flag("web.cors.origin", `Regex for CORS origin. It is fully anchored. Example: 'https?://(domain1|domain2)\.com'`).Default(".*").StringVar(&f.corsRaw)
	return f
}

// Resolve derives the external URL, route prefix and CORS regexp from the flags, as Prometheus
// does, for a server listening on listenAddress.
func (f *Flags) Resolve(listenAddress string) error {
	if f.MaxConnections < 1 {
		return fmt.Errorf("--web.max-connections must be at least 1, got %d", f.MaxConnections)
	}
	if f.readTimeout < 0 {
		return fmt.Errorf("--web.read-timeout must not be negative, got %s", f.readTimeout)
	}
	f.ReadTimeout = time.Duration(f.readTimeout)
	u, err := ComputeExternalURL(f.externalRaw, listenAddress)
	if err != nil {
		return fmt.Errorf("parse external URL %q: %w", f.externalRaw, err)
	}
	f.ExternalURL = u
	cors, err := relabel.NewRegexp(f.corsRaw) // anchored, as Prometheus's compileCORSRegexString
	if err != nil {
		return fmt.Errorf("could not compile CORS regex string %q: %w", f.corsRaw, err)
	}
	f.CORSOrigin = cors.Regexp
	// Default --web.route-prefix to the path of --web.external-url; it is always at least "/".
	prefix := f.routePrefixRaw
	if prefix == "" {
		prefix = u.Path
	}
	f.RoutePrefix = "/" + strings.Trim(prefix, "/")
	return nil
}

// ComputeExternalURL computes a sanitized external URL from a raw input. It infers unset URL
// parts from the OS and the given listen address. (Prometheus's computeExternalURL.)
func ComputeExternalURL(u, listenAddr string) (*url.URL, error) {
	if u == "" {
		hostname, err := os.Hostname()
		if err != nil {
			return nil, err
		}
		_, port, err := net.SplitHostPort(listenAddr)
		if err != nil {
			return nil, err
		}
		u = fmt.Sprintf("http://%s:%s/", hostname, port)
	}
	if startsOrEndsWithQuote(u) {
		return nil, errors.New("URL must not begin or end with quotes")
	}
	eu, err := url.Parse(u)
	if err != nil {
		return nil, err
	}
	ppref := strings.TrimRight(eu.Path, "/")
	if ppref != "" && !strings.HasPrefix(ppref, "/") {
		ppref = "/" + ppref
	}
	eu.Path = ppref
	return eu, nil
}

func startsOrEndsWithQuote(s string) bool {
	return strings.HasPrefix(s, "\"") || strings.HasPrefix(s, "'") ||
		strings.HasSuffix(s, "\"") || strings.HasSuffix(s, "'")
}
