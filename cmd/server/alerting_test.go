package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	r, err := setupAlerting(&alertingFlags{configFile: cfg, retention: model.Duration(routingRetention)}, dir, &url.URL{Scheme: "http", Host: "127.0.0.1:0"}, mux, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
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
