package main

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The whole server starts on a free port, answers /-/healthy and /-/ready, and POST /-/quit
// (with --web.enable-lifecycle) stops it cleanly.
func TestServerStartsAndQuits(t *testing.T) {
	addr := freeAddr(t)
	f, err := parseFlags([]string{"--storage.tsdb.path=" + t.TempDir(), "--web.listen-address=" + addr, "--web.enable-lifecycle"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- run(f, slog.New(slog.DiscardHandler)) }()
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil && resp.StatusCode == http.StatusOK {
			resp.Body.Close()
			break
		}
		if err == nil {
			resp.Body.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// An alert posted as Prometheus posts it (the fast decoder) is listed by the API
	// asked on the same keep-alive connection (net/http).
	client := &http.Client{}
	resp, err := client.Post(base+"/api/v2/alerts", "application/json", strings.NewReader(`[{"labels":{"alertname":"Up","instance":"a"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("POST /api/v2/alerts: %d %v", resp.StatusCode, resp.Header)
	}
	resp, err = client.Get(base + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"alertname":"Up"`) {
		t.Fatalf("GET /api/v2/alerts: %d %s", resp.StatusCode, body)
	}
	// A keep-alive connection left idle does not hold up the shutdown below.
	if resp, err = client.Post(base+"/api/v2/alerts", "application/json", strings.NewReader(`[{"labels":{"alertname":"Up","instance":"b"}}]`)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	resp, err = http.Get(base + "/-/quit")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET /-/quit: %d", resp.StatusCode)
	}
	resp, err = http.Post(base+"/-/quit", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Goodbye") {
		t.Fatalf("POST /-/quit: %d %s", resp.StatusCode, body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop after /-/quit")
	}
}
