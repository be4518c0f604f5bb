package notify

import (
	"context"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/nflog"
	amnotify "github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/alertmanager/types"
	"github.com/prometheus/common/model"
)

const testGroupKey = `{}:{alertname="HighLatency"}`

// loadIntegrations parses a complete alertmanager.yml with the upstream parser (so that the
// defaults and global settings apply exactly as in production) and builds the integrations
// of its receiver named "test".
func loadIntegrations(t *testing.T, yml string) []amnotify.Integration {
	t.Helper()
	return loadIntegrationsWith(t, yml, nil)
}

// loadIntegrationsWith is loadIntegrations with a change to the parsed config, for settings the
// parser only accepts with production URLs.
func loadIntegrationsWith(t *testing.T, yml string, mutate func(*config.Config)) []amnotify.Integration {
	t.Helper()
	conf, err := config.Load(yml)
	if err != nil {
		t.Fatalf("parsing config: %v", err)
	}
	if mutate != nil {
		mutate(conf)
	}
	tmpl, err := template.FromGlobs(nil)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.ExternalURL, _ = url.Parse("http://vigil.example:9090")
	for _, rcv := range conf.Receivers {
		if rcv.Name == "test" {
			ints, err := BuildReceiverIntegrations(rcv, tmpl, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatalf("building integrations: %v", err)
			}
			return ints
		}
	}
	t.Fatal(`no receiver "test" in config`)
	return nil
}

// groupCtx is the context the dispatcher hands to a notifier for the test group.
func groupCtx(t *testing.T) context.Context {
	ctx := amnotify.WithGroupKey(t.Context(), testGroupKey)
	ctx = amnotify.WithReceiverName(ctx, "test")
	ctx = amnotify.WithGroupLabels(ctx, model.LabelSet{"alertname": "HighLatency"})
	return ctx
}

func testAlert(resolved bool) *types.Alert {
	now := time.Now()
	a := &types.Alert{Alert: model.Alert{
		Labels:       model.LabelSet{"alertname": "HighLatency", "service": "api", "severity": "page"},
		Annotations:  model.LabelSet{"summary": "p99 latency above 1s"},
		StartsAt:     now.Add(-time.Minute),
		EndsAt:       now.Add(time.Hour),
		GeneratorURL: "http://vigil.example:9090/graph",
	}}
	if resolved {
		a.EndsAt = now.Add(-time.Second)
	}
	return a
}

func newStoreWith(kv map[string]string) *nflog.Store {
	s := nflog.NewStore(nil)
	for k, v := range kv {
		s.SetStr(k, v)
	}
	return s
}

func withStore(ctx context.Context, s *nflog.Store) context.Context {
	return amnotify.WithNflogStore(ctx, s)
}
