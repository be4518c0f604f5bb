package adapter

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestCustomMetrics(t *testing.T) {
	pods, svcs, deps := schema.GroupResource{Resource: "pods"}, schema.GroupResource{Resource: "services"}, schema.GroupResource{Group: "apps", Resource: "deployments"}
	c := newCustomMetrics()
	r1, r2 := &Rule{ID: "rules[0]"}, &Rule{ID: "rules[1]"}
	c.put(metricKey{pods, "a"}, seriesRef{series: "a_total", rule: r1})
	c.put(metricKey{svcs, "a"}, seriesRef{series: "a_total", rule: r1})
	c.put(metricKey{pods, "b"}, seriesRef{series: "b", rule: r1})
	c.put(metricKey{pods, "a"}, seriesRef{series: "a_total", rule: r2}) // replaces
	if c.len() != 3 {
		t.Fatalf("len %d", c.len())
	}
	for _, tc := range []struct {
		k    metricKey
		want string
	}{
		{metricKey{pods, "a"}, "a_total rules[1]"}, {metricKey{svcs, "a"}, "a_total rules[0]"}, {metricKey{pods, "b"}, "b rules[0]"},
		{metricKey{svcs, "b"}, ""}, {metricKey{deps, "a"}, ""}, {metricKey{pods, "c"}, ""},
	} {
		ref, ok := c.get(tc.k)
		got := ""
		if ok {
			got = ref.series + " " + ref.rule.ID
		}
		if got != tc.want {
			t.Errorf("get %v = %q, want %q", tc.k, got, tc.want)
		}
	}
	var order []string
	c.each(func(k metricKey, ref *seriesRef) {
		order = append(order, k.gr.String()+"/"+k.metric)
		ref.listNamespaced = true
	})
	c.freeze()
	if fmt.Sprint(order) != "[pods/a services/a pods/b]" {
		t.Errorf("each order %v", order)
	}
	if ref, _ := c.get(metricKey{svcs, "a"}); !ref.listNamespaced {
		t.Error("each did not update in place")
	}
}
