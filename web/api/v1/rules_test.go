package v1

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

type fakeRules []*RuleGroup

func (f fakeRules) RuleGroups() []*RuleGroup { return f }

func TestRulesAndAlerts(t *testing.T) {
	active := time.Date(2024, 1, 1, 0, 5, 0, 0, time.UTC)
	evald := time.Date(2024, 1, 1, 0, 10, 0, 0, time.UTC)
	alert := &Alert{
		Labels:      labels.FromStrings("alertname", "High", "severity", "page"),
		Annotations: labels.FromStrings("summary", "too high"),
		State:       "firing",
		ActiveAt:    &active,
		Value:       "1.2e+03",
	}
	rules := fakeRules{
		{Name: "g1", File: "/rules/a.yml", Interval: 15, LastEvaluation: evald, Rules: []Rule{
			&AlertingRule{State: "firing", Name: "High", Query: "x > 1", Duration: 60, Labels: labels.FromStrings("severity", "page"),
				Annotations: labels.FromStrings("summary", "too high"), Alerts: []*Alert{alert}, Health: "ok", LastEvaluation: evald},
			&RecordingRule{Name: "job:x:sum", Query: "sum by (job) (x)", Labels: labels.EmptyLabels(), Health: "ok", LastEvaluation: evald},
		}},
		{Name: "g2", File: "/rules/b.yml", Interval: 30, Rules: []Rule{
			&RecordingRule{Name: "y", Query: "vector(1)", Labels: labels.FromStrings("team", "b"), Health: "unknown"},
		}},
	}
	env := newTestEnv(t, func(o *Options) { o.Rules = rules })
	const (
		alertJSON     = `{"labels":{"alertname":"High","severity":"page"},"annotations":{"summary":"too high"},"state":"firing","activeAt":"2024-01-01T00:05:00Z","value":"1.2e+03"}`
		alertingRule  = `{"state":"firing","name":"High","query":"x \u003e 1","duration":60,"keepFiringFor":0,"labels":{"severity":"page"},"annotations":{"summary":"too high"},"alerts":[` + alertJSON + `],"health":"ok","evaluationTime":0,"lastEvaluation":"2024-01-01T00:10:00Z","type":"alerting"}`
		recordingRule = `{"name":"job:x:sum","query":"sum by (job) (x)","labels":{},"health":"ok","evaluationTime":0,"lastEvaluation":"2024-01-01T00:10:00Z","type":"recording"}`
		g2            = `{"name":"g2","file":"/rules/b.yml","rules":[{"name":"y","query":"vector(1)","labels":{"team":"b"},"health":"unknown","evaluationTime":0,"lastEvaluation":"0001-01-01T00:00:00Z","type":"recording"}],"interval":30,"limit":0,"evaluationTime":0,"lastEvaluation":"0001-01-01T00:00:00Z"}`
	)
	runCases(t, env, []apiCase{
		{name: "alerts", path: "/api/v1/alerts", code: 200, body: `{"status":"success","data":{"alerts":[` + alertJSON + `]}}`},
		{name: "all rules", path: "/api/v1/rules", code: 200,
			body: `{"status":"success","data":{"groups":[{"name":"g1","file":"/rules/a.yml","rules":[` + alertingRule + `,` + recordingRule + `],"interval":15,"limit":0,"evaluationTime":0,"lastEvaluation":"2024-01-01T00:10:00Z"},` + g2 + `]}}`},
		{name: "recording only", path: "/api/v1/rules", params: url.Values{"type": {"record"}, "rule_group[]": {"g2"}}, code: 200,
			body: `{"status":"success","data":{"groups":[` + g2 + `]}}`},
		{name: "alerts excluded", path: "/api/v1/rules", params: url.Values{"type": {"alert"}, "exclude_alerts": {"true"}}, code: 200,
			body: `{"status":"success","data":{"groups":[{"name":"g1","file":"/rules/a.yml","rules":[` +
				`{"state":"firing","name":"High","query":"x \u003e 1","duration":60,"keepFiringFor":0,"labels":{"severity":"page"},"annotations":{"summary":"too high"},"alerts":[],"health":"ok","evaluationTime":0,"lastEvaluation":"2024-01-01T00:10:00Z","type":"alerting"}` +
				`],"interval":15,"limit":0,"evaluationTime":0,"lastEvaluation":"2024-01-01T00:10:00Z"}]}}`},
		{name: "by label matcher", path: "/api/v1/rules", params: url.Values{"match[]": {`{team="b"}`}}, code: 200,
			body: `{"status":"success","data":{"groups":[` + g2 + `]}}`},
		{name: "by file", path: "/api/v1/rules", params: url.Values{"file[]": {"/rules/none.yml"}}, code: 200, body: `{"status":"success","data":{"groups":[]}}`},
		{name: "bad type", path: "/api/v1/rules", params: url.Values{"type": {"both"}}, code: 400, errType: "bad_data", errText: `invalid parameter "type"`},
		{name: "bad exclude_alerts", path: "/api/v1/rules", params: url.Values{"exclude_alerts": {"yes"}}, code: 400, errType: "bad_data", errText: `invalid parameter "exclude_alerts"`},
	})
	// The API must not modify what the retriever handed out (it is the ruler's state).
	if rules[0].Rules[0].(*AlertingRule).Type != "" || len(rules[0].Rules[0].(*AlertingRule).Alerts) != 1 {
		t.Fatalf("retriever's rules modified: %+v", rules[0].Rules[0])
	}
	if res := env.do(t, http.MethodPost, "/api/v1/rules", nil); res.code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /rules: %d", res.code)
	}
}
