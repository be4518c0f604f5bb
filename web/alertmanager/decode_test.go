package alertmanager

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-openapi/strfmt"
	apiv2 "github.com/prometheus/alertmanager/api/v2"
	"github.com/prometheus/alertmanager/api/v2/models"

	"github.com/vigil-monitoring/vigil/routing"
)

var decodeSeeds = []string{
	`[{"labels":{"alertname":"A"}}]`,
	`[{"labels":{"alertname":"BenchAlert","instance":"host-1:9100","job":"node","severity":"warning"},"annotations":{"summary":"load is high on host-1"},"generatorURL":"http://prom:9090/graph"}]`,
	` [ {"annotations":{"d":"line1\nline2 \"q\" \u00e9"},"endsAt":"2026-01-02T03:04:05.123456789Z","startsAt":"2026-01-02T02:04:05Z","generatorURL":"http://p/graph?g0.expr=up%3D%3D0#x","labels":{"alertname":"A","ü":"ß","e":""}} , {"labels":{"alertname":"B"}} ] `,
	`[{"labels":{"alertname":"A"},"startsAt":"2026-01-02T03:04:05.000+02:00","endsAt":"2026-01-02T03:04:05.000000+0200"}]`,
	`[{"labels":{"alertname":"A"},"startsAt":""}]`,
	`[{"labels":{"alertname":"A"},"startsAt":"0001-01-01T00:00:00Z"}]`,
	`[{"labels":{"alertname":"A"},"startsAt":"2026-01-02"}]`,
	`[{"labels":{"alertname":"A"},"startsAt":"yesterday"}]`,
	`[{"labels":{"alertname":"A"},"generatorURL":"::bad"}]`,
	`[{"labels":{"a":"1","a":"2"}}]`,
	`[{"labels":{"a":"1"},"labels":{"b":"2"}}]`,
	`[{"Labels":{"a":"1"}}]`,
	`[{"labels":{"a":"1"},"status":"firing"}]`,
	`[{"labels":{"a":null}}]`,
	`[{"labels":{"":"x"}}]`,
	`[{"labels":{"a\u0000":"x"}}]`,
	"[{\"labels\":{\"a\":\"\xff\xfe\"}}]",
	`[{"labels":{"a":"1"}}] x`,
	`[{"labels":{"a":"1"}},]`,
	`[{"labels":{}}]`,
	`[]`,
}

// FuzzDecodeMatchesUpstream checks the fast intake path against upstream's: whatever the
// decoder and validation accept, upstream's decoder, model validation, conversion, defaults and
// alert validation must accept too, with identical alerts; and whatever upstream rejects, the
// fast path must not take.
func FuzzDecodeMatchesUpstream(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		checkAgainstUpstream(t, body)
	})
}

func TestDecodeSeedsMatchUpstream(t *testing.T) {
	fast := 0
	for _, s := range decodeSeeds {
		if checkAgainstUpstream(t, s) {
			fast++
		}
	}
	if fast < 5 {
		t.Errorf("fast path took %d seeds, want the plain ones", fast)
	}
}

// checkAgainstUpstream reports whether the fast path took body.
func checkAgainstUpstream(t *testing.T, body string) bool {
	t.Helper()
	const resolveTimeout = 5 * time.Minute
	now := time.Now()
	var st intakeState
	ours, ok := []routing.Incoming(nil), st.dec.decode(body)
	if ok {
		ours, _, ok = st.convert(now, resolveTimeout)
	}

	var pa models.PostableAlerts
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	upOK := dec.Decode(&pa) == nil && len(pa) > 0
	for _, a := range pa {
		if a == nil || a.Validate(strfmt.Default) != nil {
			upOK = false
		}
	}
	var theirs []routing.Incoming
	if upOK {
		for _, a := range apiv2.OpenAPIAlertsToAlerts(context.Background(), pa) {
			a.UpdatedAt = now
			if a.StartsAt.IsZero() {
				if a.EndsAt.IsZero() {
					a.StartsAt = now
				} else {
					a.StartsAt = a.EndsAt
				}
			}
			if a.EndsAt.IsZero() {
				a.Timeout = true
				a.EndsAt = now.Add(resolveTimeout)
			}
			for k, v := range a.Labels {
				if v == "" {
					delete(a.Labels, k)
				}
			}
			if a.Validate() != nil {
				upOK = false
				break
			}
			theirs = append(theirs, routing.Incoming{
				Labels: routing.PackLabels(a.Labels), Annotations: routing.PackLabels(a.Annotations),
				NilAnnotations: a.Annotations == nil, GeneratorURL: a.GeneratorURL,
				StartsAt: a.StartsAt, EndsAt: a.EndsAt, UpdatedAt: a.UpdatedAt, Timeout: a.Timeout,
			})
		}
	}
	if !ok {
		return false
	}
	if !upOK {
		t.Fatalf("fast path accepted %q, upstream rejects it", body)
	}
	if len(ours) != len(theirs) {
		t.Fatalf("%q: %d alerts, upstream %d", body, len(ours), len(theirs))
	}
	for i := range ours {
		o, u := ours[i], theirs[i]
		if o.Labels != u.Labels || o.Annotations != u.Annotations || o.NilAnnotations != u.NilAnnotations ||
			o.GeneratorURL != u.GeneratorURL || o.StartsAt != u.StartsAt || o.EndsAt != u.EndsAt ||
			o.UpdatedAt != u.UpdatedAt || o.Timeout != u.Timeout {
			t.Fatalf("%q alert %d:\n ours %+v\n upstream %+v", body, i, o, u)
		}
	}
	return true
}
