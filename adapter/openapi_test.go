package adapter

import (
	"testing"

	"k8s.io/kube-openapi/pkg/validation/spec"
)

func TestOpenAPIDefinitionsDropUnusedCoreTypes(t *testing.T) {
	ref := func(name string) spec.Ref { return spec.MustCreateRef("#/definitions/" + name) }
	defs, all := OpenAPIDefinitions(ref), allDefinitions(ref)
	for _, want := range []string{
		"io.k8s.metrics.pkg.apis.custom_metrics.v1beta1.MetricValueList",
		"io.k8s.metrics.pkg.apis.custom_metrics.v1beta2.MetricValueList",
		"io.k8s.metrics.pkg.apis.external_metrics.v1beta1.ExternalMetricValueList",
		"io.k8s.api.core.v1.ObjectReference", // MetricValue.DescribedObject
		"io.k8s.apimachinery.pkg.apis.meta.v1.Status",
		"io.k8s.apimachinery.pkg.api.resource.Quantity",
	} {
		if _, ok := defs[want]; !ok {
			t.Errorf("missing %s", want)
		}
	}
	for _, unwanted := range []string{"io.k8s.api.core.v1.PodSpec", "io.k8s.api.core.v1.Pod", "io.k8s.api.core.v1.Volume"} {
		if _, ok := defs[unwanted]; ok {
			t.Errorf("%s kept", unwanted)
		}
	}
	for name, d := range defs { // closed under dependencies, or the OpenAPI builder fails
		for _, dep := range d.Dependencies {
			_, known := all[dep] // (meta/v1 List names RawExtension under a key no getter defines)
			if _, ok := defs[dep]; known && !ok {
				t.Errorf("%s depends on %s, which was dropped", name, dep)
			}
		}
	}
	if len(defs) > 100 || len(all) < 300 {
		t.Errorf("%d of %d definitions kept", len(defs), len(all))
	}
}
