package alertmanager

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/vigil-monitoring/vigil/routing"
)

// TestFetchExplanation goes through HTTP as `vigil explain alert` does.
func TestFetchExplanation(t *testing.T) {
	srv, sink, r := server(t)
	ctx := context.Background()
	if err := r.Send(ctx, routing.Alert{Labels: model.LabelSet{"alertname": "Explained", "team": "db"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(sink.delivered()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// The notification log entry is written after the receiver answered: poll for it.
	var ex *routing.Explanation
	for {
		var err error
		ex, err = FetchExplanation(ctx, http.DefaultClient, srv.URL+"/", model.LabelSet{"alertname": "Explained", "team": "db"})
		if err != nil {
			t.Fatal(err)
		}
		if len(ex.Routes) != 2 || len(ex.Routes[1].Notifications) != 1 || ex.Routes[1].Notifications[0].LastSent != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ex.Alert == nil || len(ex.Routes) != 2 || ex.Routes[0].Receiver != "db-pager" || ex.Routes[1].Receiver != "hook" {
		t.Fatalf("explanation = %+v", ex)
	}
	if n := ex.Routes[1].Notifications; len(n) != 1 || n[0].LastSent == nil || !n[0].IncludedFiring {
		t.Errorf("webhook route notifications = %+v, want the delivered notification", n)
	}
	if _, err := FetchExplanation(ctx, http.DefaultClient, srv.URL, model.LabelSet{}); err == nil || !strings.Contains(err.Error(), "at least one label is required") {
		t.Errorf("empty label set: err = %v", err)
	}
}
