// Package ui serves Vigil's web UI: the bundle built from src/ by esbuild (`make ui`) and
// committed in static/, embedded in the binary, so that no node and no network are needed to
// run it.
//
// As Prometheus serves its UI: GET / redirects to <external path>/query; every page of the
// single-page app (/query, /graph, /targets, …) answers index.html, with the external URL's
// path (the prefix the browser sees, e.g. behind an ingress) injected so that every link and
// request the page makes carries it; assets are under /static/.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
)

//go:embed static
var static embed.FS

// Pages are the paths of the app's pages; each answers index.html. /graph is Prometheus's old
// query page: the app turns its g0.* parameters into /query's.
var Pages = []string{
	"/query", "/graph", "/targets", "/service-discovery", "/rules", "/alerts", "/alertmanager",
	"/silences", "/explain", "/try-rule", "/status", "/tsdb-status", "/flags", "/config",
}

// Serves reports whether path (without the route prefix) is the UI's: its root, a page or an
// asset. The server answers these before it is ready, as Prometheus serves its UI during start-up:
// the page then shows that Vigil is starting and waits for /-/ready.
func Serves(path string) bool {
	if path == "/" || strings.HasPrefix(path, "/static/") {
		return true
	}
	p := strings.TrimSuffix(path, "/")
	for _, page := range Pages {
		if p == page {
			return true
		}
	}
	return false
}

// prefixPlaceholder is replaced in index.html by the external URL's path ("" for "/").
const prefixPlaceholder = "{{PREFIX}}"

// Handler serves the UI. externalPath is the path of --web.external-url ("/" or "/vigil"):
// the prefix of every URL the browser uses, which the server strips (--web.route-prefix).
func Handler(externalPath string) http.Handler {
	prefix := strings.TrimRight(externalPath, "/")
	if _, err := fs.Stat(static, "static/index.html"); err != nil {
		panic("ui: static/index.html missing from the embedded bundle: " + err.Error())
	}
	// The assets (copies of the embedded files and their gzipped forms, ~2 MB) are built on
	// the first request for the UI: a server nobody opens the UI of does not hold them.
	load := sync.OnceValues(func() (asset, map[string]asset) { return loadAssets(prefix) })
	pages := map[string]bool{}
	for _, p := range Pages {
		pages[p] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		p := r.URL.Path
		switch {
		case p == "/":
			http.Redirect(w, r, prefix+"/query", http.StatusFound)
		case pages[strings.TrimSuffix(p, "/")]:
			indexAsset, _ := load()
			serve(w, r, indexAsset)
		default:
			_, assets := load()
			a, ok := assets[p]
			if !ok {
				http.NotFound(w, r)
				return
			}
			serve(w, r, a)
		}
	})
}

// loadAssets reads the embedded bundle: index.html with the prefix injected, and every other
// file under its /static/ path.
func loadAssets(prefix string) (asset, map[string]asset) {
	idx, err := static.ReadFile("static/index.html")
	if err != nil {
		panic("ui: static/index.html missing from the embedded bundle: " + err.Error())
	}
	index := bytes.ReplaceAll(idx, []byte(prefixPlaceholder), []byte(html.EscapeString(prefix)))
	indexAsset := asset{body: index, gzipped: compress(index), contentType: "text/html; charset=utf-8", etag: etag(index)}
	sub, _ := fs.Sub(static, "static")
	assets := map[string]asset{}
	_ = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == "index.html" {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		assets["/static/"+p] = asset{body: b, gzipped: compress(b), contentType: ct, etag: etag(b)}
		return nil
	})
	return indexAsset, assets
}

type asset struct {
	body        []byte
	gzipped     []byte // body compressed once, on the first request, for clients that accept gzip
	contentType string
	etag        string
}

func compress(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" {
			return strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0"
		}
	}
	return false
}

func etag(b []byte) string {
	s := sha256.Sum256(b)
	return `"` + hex.EncodeToString(s[:8]) + `"`
}

// serve answers with the asset; browsers revalidate (no-cache) and get 304 while it is unchanged.
func serve(w http.ResponseWriter, r *http.Request, a asset) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		body = a.gzipped
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}
