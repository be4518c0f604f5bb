package ui

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/vigil-monitoring/vigil/web/server"
)

func TestHandler(t *testing.T) {
	for _, tc := range []struct {
		name         string
		externalPath string
		routePrefix  string
		method, path string
		wantCode     int
		wantLocation string
		wantType     string
		wantBody     []string
		notBody      []string
	}{
		{name: "root redirects to query", externalPath: "/", routePrefix: "/", method: "GET", path: "/", wantCode: 302, wantLocation: "/query"},
		{name: "query page", externalPath: "/", routePrefix: "/", method: "GET", path: "/query", wantCode: 200, wantType: "text/html; charset=utf-8",
			wantBody: []string{`src="/static/app.js"`, `content=""`}, notBody: []string{"{{PREFIX}}"}},
		{name: "old graph link", externalPath: "/", routePrefix: "/", method: "GET", path: "/graph?g0.expr=up&g0.tab=0", wantCode: 200, wantBody: []string{`/static/app.js`}},
		{name: "trailing slash", externalPath: "/", routePrefix: "/", method: "GET", path: "/targets/", wantCode: 200},
		{name: "asset", externalPath: "/", routePrefix: "/", method: "GET", path: "/static/app.js", wantCode: 200, wantType: "text/javascript; charset=utf-8"},
		{name: "css", externalPath: "/", routePrefix: "/", method: "GET", path: "/static/app.css", wantCode: 200, wantType: "text/css; charset=utf-8"},
		{name: "unknown page", externalPath: "/", routePrefix: "/", method: "GET", path: "/nope", wantCode: 404},
		{name: "index only through pages", externalPath: "/", routePrefix: "/", method: "GET", path: "/static/index.html", wantCode: 404},
		{name: "post", externalPath: "/", routePrefix: "/", method: "POST", path: "/query", wantCode: 405},
		{name: "head", externalPath: "/", routePrefix: "/", method: "HEAD", path: "/alerts", wantCode: 200},
		// Behind a prefix the server serves itself (--web.external-url=http://h/vigil/).
		{name: "prefix root", externalPath: "/vigil", routePrefix: "/vigil", method: "GET", path: "/vigil", wantCode: 302, wantLocation: "/vigil/query"},
		{name: "prefix root slash", externalPath: "/vigil", routePrefix: "/vigil", method: "GET", path: "/vigil/", wantCode: 302, wantLocation: "/vigil/query"},
		{name: "outside prefix", externalPath: "/vigil", routePrefix: "/vigil", method: "GET", path: "/", wantCode: 302, wantLocation: "/vigil"},
		{name: "prefix page", externalPath: "/vigil", routePrefix: "/vigil", method: "GET", path: "/vigil/silences", wantCode: 200,
			wantBody: []string{`src="/vigil/static/app.js"`, `href="/vigil/static/app.css"`, `content="/vigil"`}},
		{name: "prefix asset", externalPath: "/vigil", routePrefix: "/vigil", method: "GET", path: "/vigil/static/app.js", wantCode: 200},
		{name: "page outside prefix", externalPath: "/vigil", routePrefix: "/vigil", method: "GET", path: "/query", wantCode: 404},
		// An ingress strips /proxy: served at /, links carry /proxy.
		{name: "ingress strips prefix", externalPath: "/proxy/", routePrefix: "/", method: "GET", path: "/explain?alertname=x", wantCode: 200,
			wantBody: []string{`src="/proxy/static/app.js"`}},
		{name: "ingress root", externalPath: "/proxy/", routePrefix: "/", method: "GET", path: "/", wantCode: 302, wantLocation: "/proxy/query"},
		{name: "escaped prefix", externalPath: `/a"b`, routePrefix: "/", method: "GET", path: "/query", wantCode: 200, wantBody: []string{`content="/a&#34;b"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := server.WithPrefix(tc.routePrefix, Handler(tc.externalPath))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.wantCode {
				t.Fatalf("%s %s: %d, want %d: %s", tc.method, tc.path, res.StatusCode, tc.wantCode, body)
			}
			if tc.wantLocation != "" && res.Header.Get("Location") != tc.wantLocation {
				t.Errorf("Location %q, want %q", res.Header.Get("Location"), tc.wantLocation)
			}
			if tc.wantType != "" && res.Header.Get("Content-Type") != tc.wantType {
				t.Errorf("Content-Type %q, want %q", res.Header.Get("Content-Type"), tc.wantType)
			}
			for _, w := range tc.wantBody {
				if !strings.Contains(string(body), w) {
					t.Errorf("body lacks %q:\n%s", w, body)
				}
			}
			for _, w := range tc.notBody {
				if strings.Contains(string(body), w) {
					t.Errorf("body has %q", w)
				}
			}
			if tc.method == "HEAD" && len(body) != 0 {
				t.Errorf("HEAD answered a body of %d bytes", len(body))
			}
		})
	}
}

// Unchanged assets answer 304 to a revalidation with their ETag.
func TestHandlerRevalidation(t *testing.T) {
	h := Handler("/")
	for _, p := range []string{"/static/app.js", "/query"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		tag := rec.Header().Get("ETag")
		if tag == "" || rec.Header().Get("Cache-Control") != "no-cache" {
			t.Fatalf("%s: ETag %q, Cache-Control %q", p, tag, rec.Header().Get("Cache-Control"))
		}
		req := httptest.NewRequest("GET", p, nil)
		req.Header.Set("If-None-Match", tag)
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Fatalf("%s revalidated: %d with %d bytes", p, rec.Code, rec.Body.Len())
		}
	}
}

// Every page of the app answers the index (the list is the app's routes).
func TestPagesAnswerIndex(t *testing.T) {
	h := Handler("/")
	for _, p := range Pages {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `<div id="app">`) {
			t.Errorf("%s: %d", p, rec.Code)
		}
	}
}

// The server's page list and the app's routes (src/main.tsx) are the same.
func TestPagesMatchApp(t *testing.T) {
	src, err := os.ReadFile("src/main.tsx")
	if err != nil {
		t.Fatal(err)
	}
	app := map[string]bool{"/graph": true} // redirected by the app to /query
	for _, m := range regexp.MustCompile(`path: '(/[a-z-]*)'`).FindAllStringSubmatch(string(src), -1) {
		app[m[1]] = true
	}
	served := map[string]bool{}
	for _, p := range Pages {
		served[p] = true
		if !app[p] {
			t.Errorf("%s is served but the app has no page for it", p)
		}
	}
	for p := range app {
		if !served[p] {
			t.Errorf("the app has %s but the server does not answer it", p)
		}
	}
}

// Assets and pages are gzipped for clients that accept it, and only for them.
func TestHandlerGzip(t *testing.T) {
	h := Handler("/vigil")
	for _, tc := range []struct {
		accept string
		gzip   bool
	}{{"gzip, deflate, br", true}, {"", false}, {"br", false}, {"gzip;q=0", false}, {"identity, gzip;q=0.5", true}} {
		for _, p := range []string{"/static/app.js", "/query"} {
			req := httptest.NewRequest("GET", p, nil)
			if tc.accept != "" {
				req.Header.Set("Accept-Encoding", tc.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.Bytes()
			if got := rec.Header().Get("Content-Encoding") == "gzip"; got != tc.gzip {
				t.Fatalf("%s with Accept-Encoding %q: gzip %v, want %v", p, tc.accept, got, tc.gzip)
			}
			if tc.gzip {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if p == "/query" && !strings.Contains(string(body), `src="/vigil/static/app.js"`) {
				t.Fatalf("%s (%q): %.200s", p, tc.accept, body)
			}
			if p == "/static/app.js" && len(body) < 1000 {
				t.Fatalf("%s: %d bytes", p, len(body))
			}
		}
	}
}

func TestServes(t *testing.T) {
	for p, want := range map[string]bool{
		"/": true, "/query": true, "/graph": true, "/targets/": true, "/static/app.js": true,
		"/api/v1/query": false, "/metrics": false, "/staticx": false, "/querys": false, "/-/ready": false,
	} {
		if got := Serves(p); got != want {
			t.Errorf("Serves(%q) = %v, want %v", p, got, want)
		}
	}
}
