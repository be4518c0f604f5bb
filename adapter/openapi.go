package adapter

import (
	"strings"

	"k8s.io/kube-openapi/pkg/common"
	generatedcore "sigs.k8s.io/custom-metrics-apiserver/pkg/generated/openapi/core"
	generatedcustommetrics "sigs.k8s.io/custom-metrics-apiserver/pkg/generated/openapi/custommetrics"
	generatedexternalmetrics "sigs.k8s.io/custom-metrics-apiserver/pkg/generated/openapi/externalmetrics"
)

// OpenAPIDefinitions returns the OpenAPI definitions the adapter's API needs: the custom and
// external metrics types, the apimachinery types (meta/v1, Quantity, …) and what they refer to.
//
// custom-metrics-apiserver's generated definitions also carry every type of the core/v1 API
// (PodSpec, Volume, …) because MetricValue refers to ObjectReference. Its default OpenAPI v3
// config keeps the full map of them for the life of the process, and the v2 spec is built from
// it at start-up: about 5 MiB of heap for schemas no route of this server uses. Only
// ObjectReference (and whatever a kept type depends on) is kept here.
func OpenAPIDefinitions(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
	return filterDefinitions(allDefinitions(ref), func(name string) bool { return !isKubeAPIType(name) })
}

// allDefinitions are custom-metrics-apiserver's default definitions.
func allDefinitions(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
	all := map[string]common.OpenAPIDefinition{}
	for _, get := range []common.GetOpenAPIDefinitions{generatedcore.GetOpenAPIDefinitions, generatedcustommetrics.GetOpenAPIDefinitions, generatedexternalmetrics.GetOpenAPIDefinitions} {
		for k, v := range get(ref) {
			all[k] = v
		}
	}
	return all
}

// isKubeAPIType reports whether name is an OpenAPI model name of a k8s.io/api type (core/v1
// and the like), as opposed to apimachinery or metrics types.
func isKubeAPIType(name string) bool {
	return strings.HasPrefix(name, "io.k8s.api.") || strings.HasPrefix(name, "k8s.io/api/")
}

// filterDefinitions keeps the definitions for which root reports true and, transitively, every
// definition they depend on.
func filterDefinitions(all map[string]common.OpenAPIDefinition, root func(string) bool) map[string]common.OpenAPIDefinition {
	out := map[string]common.OpenAPIDefinition{}
	var keep func(string)
	keep = func(name string) {
		if _, done := out[name]; done {
			return
		}
		d, ok := all[name]
		if !ok {
			return // the OpenAPI builder reports a missing definition with its name
		}
		out[name] = d
		for _, dep := range d.Dependencies {
			keep(dep)
		}
	}
	for name := range all {
		if root(name) {
			keep(name)
		}
	}
	return out
}
