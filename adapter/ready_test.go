package adapter

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// downAPI fails every series call while down is set, as a PromQL backend that is not up yet.
type downAPI struct {
	PromAPI
	down atomic.Bool
}

func (a *downAPI) Series(ctx context.Context, match string, start, end time.Time, fn func(string, []string)) (Warnings, error) {
	if a.down.Load() {
		return nil, errors.New("dial tcp 10.0.0.1:9090: connect: connection refused")
	}
	return a.PromAPI.Series(ctx, match, start, end, fn)
}

// The adapter is ready once metric discovery has completed against the backend: not before the
// first relist, not while the backend is down, and from the first full relist on, even if a
// later one fails (the metrics of the last good relist are served).
func TestDiscovererSynced(t *testing.T) {
	f := newFakeProm(t)
	f.setSeries(model.LabelSet{"__name__": "orders_pending", "namespace": "shop", "pod": "w1"})
	api := &downAPI{PromAPI: f.api(t)}
	api.down.Store(true)
	d := &Discoverer{API: api, Mapper: testMapper(), MaxAge: time.Minute, Timeout: 5 * time.Second}
	d.SetRules(mustRules(t, `rules:
- seriesQuery: '{__name__="orders_pending",namespace!=""}'
  resources: {template: <<.Resource>>}
  metricsQuery: 'max(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)'
`))
	if err := d.Synced(); err == nil {
		t.Fatal("ready before any discovery")
	}
	if err := d.Relist(context.Background()); err == nil {
		t.Fatal("relist against a down backend succeeded")
	}
	if err := d.Synced(); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("backend down: Synced() = %v, want the relist's error", err)
	}
	api.down.Store(false)
	if err := d.Relist(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Synced(); err != nil {
		t.Fatalf("after a full relist: %v", err)
	}
	api.down.Store(true)
	_ = d.Relist(context.Background())
	if err := d.Synced(); err != nil {
		t.Fatalf("a later failed relist made the adapter unready: %v", err)
	}
}
