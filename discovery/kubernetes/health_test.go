package kubernetes

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	vconfig "github.com/vigil-monitoring/vigil/config"
)

// syncBuffer is a log sink safe for the informers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Failures are logged at once, then at most once a minute with the number left out; a list
// that succeeds again ends them (logged once); a failure of one resource is not ended by
// another resource's success.
func TestHealthRateLimitsLogs(t *testing.T) {
	type step struct {
		at       time.Duration
		resource string
		err      string // "" means a successful list
		wantLogs int    // log lines so far
		wantErr  string // LastError after the step
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"persisting failure", []step{
			{0, "v1.Pod", "connection refused", 1, "connection refused"},
			{time.Second, "v1.Pod", "connection refused", 1, "connection refused"},
			{30 * time.Second, "v1.Service", "connection refused", 1, "connection refused"},
			{61 * time.Second, "v1.Pod", "Unauthorized", 2, "Unauthorized"},
			{62 * time.Second, "v1.Pod", "Unauthorized", 2, "Unauthorized"},
		}},
		{"recovery", []step{
			{0, "v1.Pod", "connection refused", 1, "connection refused"},
			{time.Second, "v1.Pod", "", 2, ""},
			{2 * time.Second, "v1.Pod", "forbidden", 3, "forbidden"},
		}},
		{"partial recovery", []step{
			{0, "v1.Pod", "forbidden", 1, "forbidden"},
			{time.Second, "v1.Service", "forbidden", 1, "forbidden"},
			{2 * time.Second, "v1.Pod", "", 1, "forbidden"},
			{3 * time.Second, "v1.Service", "", 2, ""},
		}},
		{"success without failure logs nothing", []step{
			{0, "v1.Pod", "", 0, ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf syncBuffer
			start := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
			now := start
			h := newHealth(slog.New(slog.NewTextHandler(&buf, nil)), nil)
			h.now = func() time.Time { return now }
			for i, s := range tc.steps {
				now = start.Add(s.at)
				if s.err == "" {
					h.listed(s.resource)
				} else {
					h.failed(s.resource, errors.New(s.err))
				}
				if n := strings.Count(buf.String(), "\n"); n != s.wantLogs {
					t.Fatalf("step %d: %d log lines, want %d:\n%s", i, n, s.wantLogs, buf.String())
				}
				got := ""
				if err := h.LastError(); err != nil {
					got = err.Error()
				}
				if got != s.wantErr {
					t.Fatalf("step %d: LastError %q, want %q", i, got, s.wantErr)
				}
			}
		})
	}
	// The line after suppressed ones says how many were left out.
	var buf syncBuffer
	now := time.Unix(0, 0)
	h := newHealth(slog.New(slog.NewTextHandler(&buf, nil)), nil)
	h.now = func() time.Time { return now }
	h.failed("v1.Pod", errors.New("a"))
	h.failed("v1.Pod", errors.New("b"))
	h.failed("v1.Pod", errors.New("c"))
	now = now.Add(time.Minute)
	h.failed("v1.Pod", errors.New("d"))
	if !strings.Contains(buf.String(), "failures_not_logged=2") {
		t.Fatalf("log: %s", buf.String())
	}
}

// A discovery whose API server refuses the credentials or cannot be reached logs why, counts it
// in prometheus_sd_kubernetes_failures_total and reports it by LastError; Run keeps going (and
// returns when its context ends).
func TestDiscoveryReportsAPIServerFailures(t *testing.T) {
	unauthorized := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`))
	}))
	defer unauthorized.Close()
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	for _, tc := range []struct {
		name, role, url, want string
	}{
		{"unauthorized", "pod", unauthorized.URL, "Unauthorized"},
		{"unreachable", "pod", closed, "connection refused"},
		{"unreachable endpointslice", "endpointslice", closed, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := vconfig.Load("scrape_configs:\n- job_name: k\n  kubernetes_sd_configs:\n  - role: " + tc.role + "\n    api_server: " + tc.url + "\n")
			if err != nil {
				t.Fatal(err)
			}
			var buf syncBuffer
			d, err := New(cfg.ScrapeConfigs[0].ServiceDiscoveryConfigs.KubernetesSDConfigs[0], slog.New(slog.NewTextHandler(&buf, nil)))
			if err != nil {
				t.Fatal(err)
			}
			before := testutil.ToFloat64(defaultMetrics.failuresCount)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); d.Run(ctx, make(chan []*vconfig.TargetGroup)) }()
			deadline := time.Now().Add(20 * time.Second)
			for d.LastError() == nil || testutil.ToFloat64(defaultMetrics.failuresCount) == before {
				if time.Now().After(deadline) {
					t.Fatalf("no failure reported; log: %s", buf.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if !strings.Contains(d.LastError().Error(), tc.want) {
				t.Errorf("LastError %q, want it to say %q", d.LastError(), tc.want)
			}
			if log := buf.String(); !strings.Contains(log, "Kubernetes API request failed") || !strings.Contains(log, tc.want) {
				t.Errorf("log does not say why: %s", log)
			}
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
		})
	}
}
