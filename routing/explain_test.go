package routing

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// TestExplain asks "why?" for a delivered, a silenced, an inhibited and an unknown alert.
func TestExplain(t *testing.T) {
	hook := newSink(t)
	r := newTestRouter(t, t.TempDir(), testConfig(hook.srv.URL), ClusterOptions{})
	defer r.Stop()
	silID := addSilence(t, r, "alertname", "Silenced")
	ctx := context.Background()
	if err := r.Send(ctx,
		firing("alertname", "Plain", "service", "api"),
		firing("alertname", "Silenced", "service", "api"),
		firing("alertname", "DBDown", "service", "db", "severity", "critical", "team", "db"),
		firing("alertname", "DBSlow", "service", "db", "severity", "warning", "team", "db"),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "two notifications", func() bool { return len(hook.notifications()) >= 2 })
	// The notification log entry is written after the receiver answered: wait for it too.
	waitFor(t, 5*time.Second, "the delivered alert in the notification log", func() bool {
		ex, err := r.Explain(ctx, model.LabelSet{"alertname": "Plain", "service": "api"})
		return err == nil && len(ex.Routes) == 1 && len(ex.Routes[0].Notifications) == 1 && ex.Routes[0].Notifications[0].LastSent != nil
	})

	ls := func(kv ...string) model.LabelSet {
		out := model.LabelSet{}
		for i := 0; i+1 < len(kv); i += 2 {
			out[model.LabelName(kv[i])] = model.LabelValue(kv[i+1])
		}
		return out
	}
	tests := []struct {
		name         string
		labels       model.LabelSet
		wantGroupKey string
		wantSent     bool
		wantSilence  string
		wantInhibit  bool
		wantStored   bool
	}{
		{"delivered", ls("alertname", "Plain", "service", "api"), `{}:{alertname="Plain"}`, true, "", false, true},
		{"silenced", ls("alertname", "Silenced", "service", "api"), `{}:{alertname="Silenced"}`, false, silID, false, true},
		{"inhibited", ls("alertname", "DBSlow", "service", "db", "severity", "warning", "team", "db"), `{}/{team="db"}:{alertname="DBSlow", service="db"}`, false, "", true, true},
		{"unknown", ls("alertname", "Nope"), `{}:{alertname="Nope"}`, false, "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := r.Explain(ctx, tc.labels)
			if err != nil {
				t.Fatal(err)
			}
			if len(ex.Routes) != 1 || ex.Routes[0].GroupKey != tc.wantGroupKey || ex.Routes[0].Receiver != "hook" {
				t.Fatalf("routes = %+v", ex.Routes)
			}
			n := ex.Routes[0].Notifications
			if len(n) != 1 || n[0].Integration != "webhook" || (n[0].LastSent != nil) != tc.wantSent || n[0].IncludedFiring != tc.wantSent {
				t.Errorf("notifications = %+v, want sent=%v", n, tc.wantSent)
			}
			if (len(ex.SilencedBy) == 1 && ex.SilencedBy[0].ID == tc.wantSilence) != (tc.wantSilence != "") || (tc.wantSilence == "" && len(ex.SilencedBy) != 0) {
				t.Errorf("silencedBy = %+v, want %q", ex.SilencedBy, tc.wantSilence)
			}
			if tc.wantInhibit {
				if len(ex.InhibitedBy) != 1 || ex.InhibitedBy[0].Rule != 0 || ex.InhibitedBy[0].SourceLabels["alertname"] != "DBDown" || strings.Join(ex.InhibitedBy[0].Equal, ",") != "service" {
					t.Errorf("inhibitedBy = %+v", ex.InhibitedBy)
				}
			} else if len(ex.InhibitedBy) != 0 {
				t.Errorf("inhibitedBy = %+v, want none", ex.InhibitedBy)
			}
			if (ex.Alert != nil) != tc.wantStored {
				t.Errorf("alert = %+v, want stored=%v", ex.Alert, tc.wantStored)
			}
			if len(ex.Summary) == 0 {
				t.Error("empty summary")
			}
		})
	}
	if _, err := r.Explain(ctx, model.LabelSet{}); err == nil {
		t.Error("Explain of an empty label set succeeded")
	}
}

func TestMaskSecrets(t *testing.T) {
	in := `# comment kept
global:
  slack_api_url: https://hooks.slack.com/services/T/B/SECRET1
  smtp_auth_password: SECRET2
receivers:
- name: a
  webhook_configs:
  - url: https://hooks.example.com/path/SECRET3?token=SECRET4
  - url: http://plain.example:8080/
  slack_configs:
  - api_url: https://hooks.slack.com/services/T/B/SECRET5
    channel: '#x'
  pagerduty_configs:
  - routing_key: SECRET6
    url: https://events.pagerduty.com/v2/enqueue
  email_configs:
  - auth_password: &pw SECRET7
    to: a@example.org
  - auth_password: *pw
    to: b@example.org
`
	out, err := MaskSecrets(in)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "SECRET") {
		t.Errorf("secret left in:\n%s", out)
	}
	for _, want := range []string{"# comment kept", "url: https://hooks.example.com/<secret>", "url: http://plain.example:8080/",
		"url: https://events.pagerduty.com/v2/enqueue", "channel: '#x'", "routing_key: <secret>", "to: a@example.org"} {
		if !strings.Contains(out, want) {
			t.Errorf("masked config lacks %q:\n%s", want, out)
		}
	}
	if _, err := MaskSecrets("a: [\n"); err == nil {
		t.Error("MaskSecrets accepted broken YAML")
	}
}
