package main

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startServer runs the whole server with args (plus a data dir, a free listen address and
// --web.enable-lifecycle) until the test ends, and returns its base URL once it is ready.
func startServer(t *testing.T, args ...string) string {
	t.Helper()
	addr := freeAddr(t)
	f, err := parseFlags(append([]string{"--storage.tsdb.path=" + t.TempDir(), "--web.listen-address=" + addr, "--web.enable-lifecycle"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- run(f, slog.New(slog.DiscardHandler)) }()
	base := "http://" + addr
	t.Cleanup(func() {
		if resp, err := http.Post(base+"/-/quit", "", nil); err == nil {
			resp.Body.Close()
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("server did not stop after /-/quit")
		}
	})
	waitUntil(t, "server ready", func() bool {
		select {
		case err := <-done:
			t.Fatalf("server stopped: %v", err)
		default:
		}
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base
}

// /debug/pprof is served, as in Prometheus.
func TestPprof(t *testing.T) {
	base := startServer(t)
	resp, err := http.Get(base + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "heap profile") {
		t.Fatalf("GET /debug/pprof/heap: %d %.200s", resp.StatusCode, body)
	}
}
