package adapter

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestMetricNamesDefaultRules(t *testing.T) {
	rs := mustRules(t, string(DefaultConfig))
	if len(rs.Rules) != 6 || len(rs.ExternalRules) != 0 {
		t.Fatalf("default config: %d rules, %d external, want 6, 0", len(rs.Rules), len(rs.ExternalRules))
	}
	// series name -> API names produced by all rules together (duplicates mean overlapping rules).
	cases := map[string][]string{
		"container_cpu_usage_seconds_total":     {"cpu_usage"},
		"container_network_receive_bytes_total": {"network_receive_bytes"},
		"container_memory_working_set_bytes":    {"memory_working_set_bytes"},
		"http_requests_total":                   {"http_requests"}, // counter -> rate
		"process_cpu_seconds_total":             {"process_cpu"},   // _seconds_total naming
		"queue_depth":                           {"queue_depth"},   // gauge as is
		"request_duration_seconds":              {"request_duration_seconds"},
		"build_info_total_x":                    {"build_info_total_x"},
	}
	for s, want := range cases {
		var got []string
		for _, r := range rs.Rules {
			if !seriesSelected(t, r.SeriesQuery, series(s, "namespace", "n", "pod", "p", "container", "c")) {
				continue
			}
			if n, ok := r.MetricName(s); ok {
				got = append(got, n)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", s, got, want)
		}
	}
}

func TestSampleConfigAndWalkthrough(t *testing.T) {
	for _, tc := range []struct {
		file          string
		rules, extern int
		warn          string
		series        string
		rule          int
		want          string
	}{
		{"testdata/prometheus-adapter-sample-config.yaml", 4, 2, "metricQuery", "container_fs_reads_total", 1, "fs_reads"},
		{"testdata/prometheus-adapter-sample-config.yaml", 4, 2, "metricQuery", "cheddar", 3, "cheesy_goodness"},
		{"testdata/walkthrough.yaml", 1, 0, "", "http_requests_total", 0, "http_requests_per_second"},
	} {
		data, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		rs, warnings, err := LoadRules(data)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if len(rs.Rules) != tc.rules || len(rs.ExternalRules) != tc.extern {
			t.Errorf("%s: %d/%d rules, want %d/%d", tc.file, len(rs.Rules), len(rs.ExternalRules), tc.rules, tc.extern)
		}
		if tc.warn != "" && !strings.Contains(strings.Join(warnings, "\n"), tc.warn) {
			t.Errorf("%s: warnings %q should mention %q", tc.file, warnings, tc.warn)
		}
		if tc.warn == "" && len(warnings) > 0 {
			t.Errorf("%s: unexpected warnings %q", tc.file, warnings)
		}
		if got, ok := rs.Rules[tc.rule].MetricName(tc.series); !ok || got != tc.want {
			t.Errorf("%s: %s -> %q, %v; want %q", tc.file, tc.series, got, ok, tc.want)
		}
	}
}

// The config the chart ships (deploy/helm/vigil/files, also in deploy/adapter) must load, and
// name metrics as its comments say.
func TestDeployConfig(t *testing.T) {
	data, err := os.ReadFile("../deploy/helm/vigil/files/adapter-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rs, warnings, err := LoadRules(data)
	if err != nil || len(warnings) > 0 {
		t.Fatalf("%v %q", err, warnings)
	}
	if n, ok := rs.Rules[0].MetricName("http_requests_total"); !ok || n != "http_requests_per_second" {
		t.Errorf("rules[0]: %q %v", n, ok)
	}
	if n, ok := rs.ExternalRules[0].MetricName("http_requests_total"); !ok || n != "http_requests_per_second" {
		t.Errorf("externalRules[0]: %q %v", n, ok)
	}
}

func TestInvalidConfigNamesTheRule(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"yaml", "rules: [", "parsing adapter config"},
		{"both filters", `rules:
- seriesQuery: up
  metricsQuery: up
- seriesQuery: 'foo{a!=""}'
  seriesFilters: [{is: a, isNot: b}]
  metricsQuery: x`, `rules[1] (seriesQuery "foo{a!=\"\"}"): series filter has both is`},
		{"empty filter", "rules:\n- seriesQuery: up\n  seriesFilters: [{}]\n  metricsQuery: up", "rules[0]"},
		{"bad regex", "rules:\n- seriesQuery: up\n  name: {matches: '(['}\n  metricsQuery: up", "rules[0] (seriesQuery \"up\"): name.matches"},
		{"two groups need as", "rules:\n- seriesQuery: up\n  name: {matches: '(a)(b)'}\n  metricsQuery: up", "name.as must say"},
		{"bad template", "rules:\n- seriesQuery: up\n  metricsQuery: 'sum(<<.Series>'", "rules[0] (seriesQuery \"up\"): metricsQuery template"},
		{"unknown field in template", "rules:\n- seriesQuery: up\n  metricsQuery: 'sum(<<.Serie>>)'", "can't evaluate field Serie"},
		{"empty metricsQuery", "externalRules:\n- seriesQuery: up", "externalRules[0] (seriesQuery \"up\"): metricsQuery is empty"},
		{"empty seriesQuery", "rules:\n- metricsQuery: up", "seriesQuery is empty"},
		{"bad seriesQuery", "rules:\n- seriesQuery: up\n  metricsQuery: up\n- seriesQuery: 'up{'\n  metricsQuery: up", "rules[1] (seriesQuery \"up{\"): seriesQuery is not a series selector"},
		{"resource template without resource", "rules:\n- seriesQuery: up\n  resources: {template: 'kube_<<.Group>>'}\n  metricsQuery: up", "must use <<.Resource>>"},
		{"override without resource", "rules:\n- seriesQuery: up\n  resources: {overrides: {pod: {group: x}}}\n  metricsQuery: up", "needs a resource"},
	} {
		_, _, err := LoadRules([]byte(tc.yaml))
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not contain %q", tc.name, err, tc.want)
		}
	}
}

func TestResourceLabels(t *testing.T) {
	rs := mustRules(t, `rules:
- seriesQuery: '{namespace!=""}'
  resources:
    template: 'kube_<<.Group>>_<<.Resource>>'
    overrides:
      ns: {resource: namespace}
      pod_name: {resource: pods}
  metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)'
`)
	r := rs.Rules[0]
	m := testMapper()
	grs, namespaced := r.resources.ResourcesForLabels(m, 1, []string{"ns", "pod_name", "kube_apps_deployment", "kube_networking_k8s_io_ingress", "kube__service", "kube_apps_unknown", "instance"})
	// As in prometheus-adapter, the template becomes ^kube_(?P<group>.+?)_(?P<resource>.+?)$:
	// the lazy group stops at the first underscore, so groups containing dots (sanitized to
	// underscores) do not map back, and the core group (empty) cannot match .+?.
	want := []schema.GroupResource{NamespaceResource, {Resource: "pods"}, {Group: "apps", Resource: "deployments"}}
	if !slices.Equal(grs, want) || !namespaced {
		t.Errorf("got %v %v, want %v true", grs, namespaced, want)
	}
	for gr, lbl := range map[schema.GroupResource]string{
		{Group: "apps", Resource: "statefulsets"}: "kube_apps_statefulset",
		{Resource: "pods"}:                        "pod_name",
		NamespaceResource:                         "ns",
	} {
		got, err := r.resources.LabelForResource(m, gr)
		if err != nil || got != lbl {
			t.Errorf("%s: got %q %v, want %q", gr, got, err, lbl)
		}
	}
}

func TestBuildQuery(t *testing.T) {
	rs := mustRules(t, string(DefaultConfig))
	m := testMapper()
	sel, _ := labels.Parse("verb in (GET,POST),code!=500,path")
	for _, tc := range []struct {
		rule      int
		series    string
		gr        schema.GroupResource
		ns        string
		sel       labels.Selector
		names     []string
		want, lbl string
	}{
		{4, "http_requests_total", schema.GroupResource{Resource: "pods"}, "web", labels.Everything(), []string{"a", "b"},
			`sum(rate(http_requests_total{namespace="web",pod=~"a|b"}[5m])) by (pod)`, "pod"},
		{3, "queue_depth", schema.GroupResource{Group: "apps", Resource: "deployments"}, "web", sel, []string{"api"},
			`sum(queue_depth{code!="500",path!="",verb=~"GET|POST",namespace="web",deployment="api"}) by (deployment)`, "deployment"},
		{3, "queue_depth", NamespaceResource, "", labels.Everything(), []string{"web"},
			`sum(queue_depth{namespace="web"}) by (namespace)`, "namespace"},
		{0, "container_cpu_usage_seconds_total", schema.GroupResource{Resource: "pods"}, "web", labels.Everything(), []string{"p-1"},
			`sum(rate(container_cpu_usage_seconds_total{namespace="web",pod="p-1",container!="POD"}[5m])) by (pod)`, "pod"},
	} {
		q, lbl, err := rs.Rules[tc.rule].BuildQuery(m, tc.series, tc.gr, tc.ns, tc.sel, tc.names)
		if err != nil {
			t.Errorf("%s: %v", tc.series, err)
			continue
		}
		if q != tc.want || lbl != tc.lbl {
			t.Errorf("got  %s (%s)\nwant %s (%s)", q, lbl, tc.want, tc.lbl)
		}
	}
}

func TestBuildExternalQuery(t *testing.T) {
	data, _ := os.ReadFile("testdata/prometheus-adapter-sample-config.yaml")
	rs, _, err := LoadRules(data)
	if err != nil {
		t.Fatal(err)
	}
	m := testMapper()
	sel, _ := labels.Parse("name=orders")
	q, err := rs.ExternalRules[0].BuildExternalQuery(m, "queue_consumer_lag", "shop", sel)
	if want := `sum(queue_consumer_lag{name="orders",namespace="shop"}) by (name)`; err != nil || q != want {
		t.Errorf("namespaced: got %q %v, want %q", q, err, want)
	}
	q, err = rs.ExternalRules[1].BuildExternalQuery(m, "queue_depth", "shop", sel)
	if want := `sum(queue_depth{name="orders"}) by (name)`; err != nil || q != want {
		t.Errorf("namespaced: false: got %q %v, want %q", q, err, want)
	}
	// Label value replacements and LabelValuesByName.
	rs2 := mustRules(t, `externalRules:
- seriesQuery: '{__name__="jobs"}'
  labelValueReplacements: [{find: "_", replace: "#"}]
  metricsQuery: 'max(<<.Series>>{queue="<<index .LabelValuesByName "queue">>"})'
`)
	sel, _ = labels.Parse("queue=a_b")
	q, err = rs2.ExternalRules[0].BuildExternalQuery(m, "jobs", "", sel)
	if want := `max(jobs{queue="a#b"})`; err != nil || q != want {
		t.Errorf("replacements: got %q %v, want %q", q, err, want)
	}
}

func TestSelectorMatchers(t *testing.T) {
	for sel, want := range map[string]string{
		"a=b":             `a="b"`,
		"a!=b":            `a!="b"`,
		"a in (x)":        `a=~"x"`,
		"a in (x,y)":      `a=~"x|y"`,
		"a notin (x,y)":   `a!~"x|y"`,
		"a":               `a!=""`,
		"!a":              `a=""`,
		"a=b,c notin (d)": `a="b",c!~"d"`,
	} {
		s, err := labels.Parse(sel)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := selectorMatchers(s)
		if err != nil || strings.Join(got, ",") != want {
			t.Errorf("%s: got %q %v, want %q", sel, got, err, want)
		}
	}
	s, _ := labels.Parse("a>1")
	if _, _, err := selectorMatchers(s); err == nil {
		t.Error("a>1 accepted")
	}
}

func FuzzLoadRules(f *testing.F) {
	f.Add(DefaultConfig)
	for _, p := range []string{"testdata/prometheus-adapter-sample-config.yaml", "testdata/walkthrough.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("rules:\n- seriesQuery: up\n  resources: {template: '<<.Resource>>'}\n  metricsQuery: '<<.Series>>{<<.LabelMatchers>>}'"))
	m := testMapper()
	sel, _ := labels.Parse("a=b")
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, _, err := LoadRules(data)
		if err != nil {
			return
		}
		// Whatever loads must be usable without panicking.
		for _, r := range append(append([]*Rule{}, rs.Rules...), rs.ExternalRules...) {
			_, _ = r.MetricName("http_requests_total")
			r.resources.ResourcesForLabels(m, 1, []string{"namespace", "pod", "deployment"})
			_, _, _ = r.BuildQuery(m, "x", schema.GroupResource{Resource: "pods"}, "ns", sel, []string{"a", "b"})
			_, _ = r.BuildExternalQuery(m, "x", "ns", sel)
		}
		_ = context.Background()
	})
}
