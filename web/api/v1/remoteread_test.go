package v1

import (
	"net/http"
	"testing"
)

// POST /api/v1/read goes to Options.RemoteRead; other methods are 405, and without a handler
// the path is 404.
func TestRemoteReadRoute(t *testing.T) {
	served := 0
	e := newTestEnv(t, func(o *Options) {
		o.RemoteRead = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			served++
			w.WriteHeader(http.StatusTeapot)
		})
	})
	if res := e.do(t, http.MethodPost, "/api/v1/read", nil); res.code != http.StatusTeapot || served != 1 {
		t.Errorf("POST: %d, served %d", res.code, served)
	}
	if res := e.do(t, http.MethodGet, "/api/v1/read", nil); res.code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d %s", res.code, res.body)
	}
	none := newTestEnv(t, nil)
	if res := none.do(t, http.MethodPost, "/api/v1/read", nil); res.code != http.StatusNotFound {
		t.Errorf("no handler: %d", res.code)
	}
}
