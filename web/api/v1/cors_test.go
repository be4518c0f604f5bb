package v1

import (
	"net/http"
	"testing"

	"github.com/grafana/regexp"
)

// CORS headers follow --web.cors.origin as in Prometheus: the default '.*' allows every origin
// with "*", a narrower regexp echoes only the origins it matches.
func TestCORSOrigin(t *testing.T) {
	for _, tc := range []struct {
		name, origin string
		cors         *regexp.Regexp
		want         string
	}{
		{"default", "https://grafana.example", nil, "*"},
		{"matching", "https://a.com", regexp.MustCompile(`^(?:https?://(a|b)\.com)$`), "https://a.com"},
		{"not matching", "https://evil.com", regexp.MustCompile(`^(?:https?://(a|b)\.com)$`), ""},
		{"no origin", "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, func(o *Options) { o.CORSOrigin = tc.cors })
			for _, method := range []string{http.MethodGet, http.MethodOptions} {
				req, _ := http.NewRequest(method, env.srv.URL+"/api/v1/query?query=1", nil)
				if tc.origin != "" {
					req.Header.Set("Origin", tc.origin)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.want {
					t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", method, got, tc.want)
				}
				if resp.Header.Get("Vary") != "Origin" {
					t.Errorf("%s: Vary %q", method, resp.Header.Get("Vary"))
				}
			}
		})
	}
}
