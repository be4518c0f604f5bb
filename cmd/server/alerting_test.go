package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/vigil-monitoring/vigil/routing"
)

// TestAlertingWiringAndExplainCommand mounts alerting as main does and runs
// `vigil explain alert` against it.
func TestAlertingWiringAndExplainCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "am.yml")
	if err := os.WriteFile(cfg, []byte("route: {receiver: void, group_by: [alertname]}\nreceivers: [{name: void}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	r, err := setupAlerting(&alertingFlags{configFile: cfg, retention: model.Duration(routingRetention)}, dir, &url.URL{Scheme: "http", Host: "127.0.0.1:0"}, mux, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	if _, err := os.Stat(filepath.Join(dir, "alertmanager")); err != nil {
		t.Errorf("alerting state directory: %v", err)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	if err := r.Send(context.Background(), routingAlert("alertname", "Wired")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{[]string{"explain", "alert", "--url=" + srv.URL, "alertname=Wired"}, 0, `the root route sends to "void"`},
		{[]string{"explain", "alert", "--url=" + srv.URL, "--json", "alertname=Wired"}, 0, `"groupKey": "{}:{alertname=\"Wired\"}"`},
		{[]string{"explain", "alert", "--url=" + srv.URL, "notapair"}, 2, `"notapair" is not label=value`},
		{[]string{"explain", "alert"}, 2, "required argument"},
	}
	for _, tc := range tests {
		var out, errOut strings.Builder
		handled, code := runAlertingCommand(tc.args, &out, &errOut)
		if !handled || code != tc.wantCode || !strings.Contains(out.String()+errOut.String(), tc.wantOut) {
			t.Errorf("%v: handled=%v code=%d out=%q err=%q, want code %d and %q", tc.args, handled, code, out.String(), errOut.String(), tc.wantCode, tc.wantOut)
		}
	}
	if handled, _ := runAlertingCommand([]string{"--web.listen-address=:9090"}, nil, nil); handled {
		t.Error("server flags taken for the explain command")
	}
}

const routingRetention = routing.DefaultRetention

func routingAlert(kv ...string) routing.Alert {
	ls := model.LabelSet{}
	for i := 0; i+1 < len(kv); i += 2 {
		ls[model.LabelName(kv[i])] = model.LabelValue(kv[i+1])
	}
	return routing.Alert{Labels: ls}
}

// TestSilenceLimitFlags checks --silences.max-silences and --silences.max-silence-size-bytes
// end to end: parsed as Alertmanager's flags and enforced by the API with Alertmanager's 400
// answers.
func TestSilenceLimitFlags(t *testing.T) {
	app := kingpin.New("vigil", "")
	f := registerAlertingFlags(app)
	if _, err := app.Parse([]string{"--silences.max-silences=2", "--silences.max-silence-size-bytes=400"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mux := http.NewServeMux()
	r, err := setupAlerting(f, dir, &url.URL{Scheme: "http", Host: "127.0.0.1:0"}, mux, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	srv := httptest.NewServer(mux)
	defer srv.Close()

	post := func(comment string) (int, string) {
		t.Helper()
		body := fmt.Sprintf(`{"matchers":[{"name":"alertname","value":"X","isRegex":false}],"startsAt":%q,"endsAt":%q,"createdBy":"test","comment":%q}`,
			time.Now().Format(time.RFC3339), time.Now().Add(time.Hour).Format(time.RFC3339), comment)
		resp, err := http.Post(srv.URL+"/api/v2/silences", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	tests := []struct {
		comment  string
		wantCode int
		wantBody string
	}{
		{strings.Repeat("x", 500), http.StatusBadRequest, "silence exceeded maximum size"},
		{"first", http.StatusOK, "silenceID"},
		{"second", http.StatusOK, "silenceID"},
		{"third", http.StatusBadRequest, `"exceeded maximum number of silences: 2 (limit: 2)"`},
	}
	for _, tc := range tests {
		code, body := post(tc.comment)
		if code != tc.wantCode || !strings.Contains(body, tc.wantBody) {
			t.Errorf("comment %.10q: %d %s, want %d with %s", tc.comment, code, body, tc.wantCode, tc.wantBody)
		}
	}
}
