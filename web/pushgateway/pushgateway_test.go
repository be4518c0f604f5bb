package pushgateway

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/vigil-monitoring/vigil/remote/pushgateway"
)

func newAPI(t testing.TB, maxBody int64) (*pushgateway.Store, *http.ServeMux) {
	t.Helper()
	s := pushgateway.New(nil)
	mux := http.NewServeMux()
	Register(mux, Options{Store: s, MaxBodySize: maxBody, SizeFlag: "--flag", EnableAdmin: true})
	return s, mux
}

// Grouping labels in every URL form the Pushgateway accepts (plain, label@base64, an empty
// value as "=", job@base64) reach the store as the same group.
func TestGroupingLabelForms(t *testing.T) {
	for _, tc := range []struct {
		path string
		want string
	}{
		{"/metrics/job/j/instance/i", `{instance="i", job="j"}`},
		{"/metrics/job/j/instance@base64/aQ", `{instance="i", job="j"}`},
		{"/metrics/job/j/path@base64/L3Zhci90bXA=", `{job="j", path="/var/tmp"}`},
		{"/metrics/job@base64/ag/a/b", `{a="b", job="j"}`},
		{"/metrics/job/j/instance@base64/=", `{instance="", job="j"}`},
		{"/metrics/job/j", `{job="j"}`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			s, mux := newAPI(t, 0)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, tc.path, strings.NewReader("x 1\n")))
			if rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			var got []string
			for _, g := range s.GetMetricFamiliesMap() {
				got = append(got, labelsString(g.Labels))
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("groups %v, want %s", got, tc.want)
			}
		})
	}
}

func labelsString(m map[string]string) string {
	var b strings.Builder
	b.WriteString("{")
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + `="` + m[k] + `"`)
	}
	b.WriteString("}")
	return b.String()
}

// A gzip-compressed push is decompressed; the size limit applies to what it decompresses to.
func TestGzipAndSizeLimit(t *testing.T) {
	s, mux := newAPI(t, 100)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("x 1\n"))
	zw.Close()
	req := httptest.NewRequest(http.MethodPut, "/metrics/job/j", &buf)
	req.Header.Set("Content-Encoding", "gzip")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("gzip push: %d %s", rec.Code, rec.Body)
	}
	buf.Reset()
	zw = gzip.NewWriter(&buf)
	zw.Write([]byte(strings.Repeat("y 1\n", 100)))
	zw.Close()
	req = httptest.NewRequest(http.MethodPut, "/metrics/job/k", &buf)
	req.Header.Set("Content-Encoding", "gzip")
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "size limit of 100 bytes (--flag)") {
		t.Fatalf("oversize gzip push: %d %s", rec.Code, rec.Body)
	}
	if g, _ := s.Stats(); g != 1 {
		t.Fatalf("%d groups, want 1", g)
	}
}

// client_golang's push package against the handler alone.
func TestPushClient(t *testing.T) {
	s, mux := newAPI(t, 0)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "c_total", Help: "h"})
	c.Add(2)
	if err := push.New(srv.URL, "j").Collector(c).Grouping("instance", "a/b").Push(); err != nil {
		t.Fatal(err)
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "c_total", Help: "h"})
	if err := push.New(srv.URL, "j").Collector(g).Grouping("instance", "other").Push(); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("type clash: %v", err)
	}
	if err := push.New(srv.URL, "j").Grouping("instance", "a/b").Delete(); err != nil {
		t.Fatal(err)
	}
	// The refused push left its group with the failure time only.
	if groups, _ := s.Stats(); groups != 1 {
		t.Fatalf("%d groups", groups)
	}
}

// FuzzPush sends arbitrary paths, content types and bodies: the API answers with a status the
// Pushgateway uses, never panics, and a refused push changes no pushed family.
func FuzzPush(f *testing.F) {
	f.Add("PUT", "/metrics/job/j/instance/i", "", []byte("x 1\n"))
	f.Add("POST", "/metrics/job@base64/ag/a@base64/=", "", []byte("# TYPE x counter\nx 1\n"))
	f.Add("DELETE", "/metrics/job/j/a/b/c", "", []byte{})
	f.Add("PUT", "/metrics/job/j", "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited", []byte("\x0b\x0a\x01x\x18\x01\x22\x04\x12\x02\x09\x00"))
	f.Fuzz(func(t *testing.T, method, path, contentType string, body []byte) {
		if method != "PUT" && method != "POST" && method != "DELETE" {
			return
		}
		if !strings.HasPrefix(path, "/metrics/job") || strings.ContainsAny(path, " ?#\x00\r\n\t") {
			return
		}
		s, mux := newAPI(t, 1<<16)
		// A group the fuzzed push may conflict with.
		pre := httptest.NewRecorder()
		mux.ServeHTTP(pre, httptest.NewRequest(http.MethodPut, "/metrics/job/j/instance/i", strings.NewReader("# TYPE x gauge\nx 1\n")))
		if pre.Code != http.StatusOK {
			t.Fatal(pre.Body)
		}
		req, err := http.NewRequest(method, "http://vigil"+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusAccepted, http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			t.Fatalf("%s %s: status %d %s", method, path, rec.Code, rec.Body)
		}
		if rec.Code == http.StatusBadRequest {
			for _, g := range s.GetMetricFamiliesMap() {
				if g.Labels["job"] == "j" && g.Labels["instance"] == "i" && len(g.Labels) == 2 {
					if _, ok := g.Metrics["x"]; !ok {
						t.Fatalf("a refused push removed family x: %s", rec.Body)
					}
				}
			}
		}
	})
}
