package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// The UI is mounted at / of the whole server: behind an ingress that strips /vigil
// (--web.external-url=…/vigil/ --web.route-prefix=/), pages are served at / and every link
// and asset URL in them carries /vigil; the APIs still answer beside them.
func TestUIMounted(t *testing.T) {
	base := startServer(t, "--web.external-url=http://proxy.example/vigil/", "--web.route-prefix=/")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		path     string
		code     int
		location string
		body     string
	}{
		{"/", http.StatusFound, "/vigil/query", ""},
		{"/query", http.StatusOK, "", `src="/vigil/static/app.js"`},
		{"/graph?g0.expr=up&g0.tab=0", http.StatusOK, "", `content="/vigil"`},
		{"/silences", http.StatusOK, "", `<div id="app">`},
		{"/static/app.css", http.StatusOK, "", "uplot"},
		{"/api/v1/query?query=1", http.StatusOK, "", `"resultType":"scalar"`},
		{"/no-such-page", http.StatusNotFound, "", ""},
	} {
		resp, err := noFollow.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || resp.Header.Get("Location") != tc.location || !strings.Contains(string(body), tc.body) {
			t.Errorf("GET %s: %d Location %q, want %d %q and a body with %q; got %.300s", tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.code, tc.location, tc.body, body)
		}
	}
}
