package v1

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

func TestReplayRule(t *testing.T) {
	u, _ := url.Parse("https://vigil.example/prefix")
	e := newTestEnv(t, func(o *Options) {
		o.ExternalLabels = func() labels.Labels { return labels.FromStrings("cluster", "eu1") }
		o.ExternalURL = u
	})
	sec := func(d time.Duration) float64 { return float64(testStart.Add(d).Unix()) }
	rule := `alert: Busy
expr: rate(http_requests_total[1m]) > 1
for: 1m
labels: {severity: page}
annotations:
  summary: '{{ $labels.instance }} at {{ $value }}/s in {{ $externalLabels.cluster }}'
  link: '{{ $externalURL }}'
`
	params := url.Values{
		"rule":  {rule},
		"start": {testStart.Add(time.Minute).Format(time.RFC3339)},
		"end":   {strconv.FormatInt(testStart.Add(10*time.Minute).Unix(), 10)},
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		res := e.do(t, method, "/api/v1/rules/replay", params)
		if res.code != http.StatusOK {
			t.Fatalf("%s: %d %s", method, res.code, res.body)
		}
		var got struct {
			Status string `json:"status"`
			Data   struct {
				Alerts []struct {
					Labels      map[string]string `json:"labels"`
					Annotations map[string]string `json:"annotations"`
					Intervals   []struct {
						State string  `json:"state"`
						Start float64 `json:"start"`
						End   float64 `json:"end"`
					} `json:"intervals"`
				} `json:"alerts"`
				Evaluations int `json:"evaluations"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(res.body), &got); err != nil {
			t.Fatal(err)
		}
		// Instances b (20/15s) and c (30/15s) are above 1/s at every evaluation; a (10/15s) never.
		if got.Status != "success" || got.Data.Evaluations != 10 || len(got.Data.Alerts) != 2 {
			t.Fatalf("%s: %s", method, res.body)
		}
		for i, inst := range []string{"b", "c"} {
			a := got.Data.Alerts[i]
			if a.Labels["instance"] != inst || a.Labels["alertname"] != "Busy" || a.Labels["severity"] != "page" || a.Labels["__name__"] != "" {
				t.Errorf("alert %d labels %v", i, a.Labels)
			}
			if !strings.HasPrefix(a.Annotations["summary"], inst+" at ") || !strings.HasSuffix(a.Annotations["summary"], "/s in eu1") || a.Annotations["link"] != u.String() {
				t.Errorf("alert %d annotations %v", i, a.Annotations)
			}
			if len(a.Intervals) != 2 ||
				a.Intervals[0].State != "pending" || a.Intervals[0].Start != sec(time.Minute) || a.Intervals[0].End != sec(2*time.Minute) ||
				a.Intervals[1].State != "firing" || a.Intervals[1].Start != sec(2*time.Minute) || a.Intervals[1].End != sec(11*time.Minute) {
				t.Errorf("alert %d intervals %+v", i, a.Intervals)
			}
		}
	}

	// query_offset: each evaluation reads the data one minute earlier, so the evaluation at
	// 10m still sees the rate, and the one at 1m sees too little data to have a rate.
	p0 := url.Values{"rule": {rule}, "start": params["start"], "end": params["end"], "query_offset": {"1m"}}
	if res := e.do(t, http.MethodPost, "/api/v1/rules/replay", p0); res.code != http.StatusOK ||
		!strings.Contains(res.body, `{"state":"pending","start":`+strconv.FormatFloat(sec(2*time.Minute), 'f', -1, 64)) {
		t.Errorf("query_offset: %d %s", res.code, res.body)
	}

	// No alert: an empty list, not null.
	p := url.Values{"rule": {"alert: Never\nexpr: up == 42"}, "start": {"1704067200"}, "end": {"1704067800"}, "step": {"30s"}}
	if res := e.do(t, http.MethodPost, "/api/v1/rules/replay", p); res.code != http.StatusOK || !strings.Contains(res.body, `"alerts":[],"evaluations":21`) {
		t.Errorf("no alert: %d %s", res.code, res.body)
	}
}

func TestReplayRuleErrors(t *testing.T) {
	e := newTestEnv(t, nil)
	ok := url.Values{"rule": {"alert: A\nexpr: up"}, "start": {"1704067200"}, "end": {"1704067800"}}
	with := func(k, v string) url.Values {
		p := url.Values{}
		for kk, vv := range ok {
			p[kk] = vv
		}
		if v == "" {
			p.Del(k)
		} else {
			p.Set(k, v)
		}
		return p
	}
	for _, tc := range []struct {
		name   string
		params url.Values
		want   string
	}{
		{"no rule", with("rule", ""), `invalid parameter \"rule\": no rule given`},
		{"yaml", with("rule", "alert: [A"), `invalid parameter \"rule\": yaml`},
		{"expr", with("rule", "alert: A\nexpr: up +"), "could not parse expression"},
		{"unknown field", with("rule", "alert: A\nexpr: up\nfoo: 1"), "field foo not found"},
		{"recording rule", with("rule", "record: r\nexpr: up"), "only alerting rules"},
		{"expr too long", with("rule", "alert: A\nexpr: "+strings.Repeat("1+", 20_000)+"1"), "too many operators"},
		{"start", with("start", "yesterday"), `invalid parameter \"start\"`},
		{"no end", with("end", ""), `invalid parameter \"end\"`},
		{"end before start", with("end", "1704067000"), "end timestamp must not be before start time"},
		{"step", with("step", "0"), "zero or negative evaluation steps"},
		{"step syntax", with("step", "1x"), `invalid parameter \"step\"`},
		{"too many steps", with("step", "0.01"), "exceeded maximum resolution of 11,000 evaluations"},
		{"timeout", with("timeout", "soon"), `invalid parameter \"timeout\"`},
		{"query_offset", with("query_offset", "-1m"), `invalid parameter \"query_offset\"`},
	} {
		res := e.do(t, http.MethodPost, "/api/v1/rules/replay", tc.params)
		if res.code != http.StatusBadRequest || res.resp["errorType"] != "bad_data" || !strings.Contains(res.body, tc.want) {
			t.Errorf("%s: %d %s, want 400 bad_data with %q", tc.name, res.code, res.body, tc.want)
		}
	}
	// An evaluation failing (two series become the same alert) is an execution error.
	res := e.do(t, http.MethodPost, "/api/v1/rules/replay", with("rule", "alert: A\nexpr: label_replace(http_requests_total, \"instance\", \"x\", \"\", \"\")"))
	if res.code != http.StatusUnprocessableEntity || res.resp["errorType"] != "execution" {
		t.Errorf("duplicate alerts: %d %s", res.code, res.body)
	}
}
