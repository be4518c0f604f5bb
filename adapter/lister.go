package adapter

import (
	"context"
	"fmt"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/metadata"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider/helpers"
)

// MetadataLister lists object names through the metadata-only API: for a Deployment of 1,000
// pods it transfers and decodes object metadata instead of full pod specs, which is what keeps
// Pods-metric requests fast and the adapter small.
type MetadataLister struct {
	Client metadata.Interface
	Mapper apimeta.RESTMapper
}

// ListNames implements ObjectLister.
func (l *MetadataLister) ListNames(ctx context.Context, info provider.CustomMetricInfo, namespace string, selector labels.Selector) ([]string, error) {
	gvr, err := helpers.ResourceFor(l.Mapper, info)
	if err != nil {
		return nil, err
	}
	var ri metadata.ResourceInterface
	if info.Namespaced {
		ri = l.Client.Resource(gvr).Namespace(namespace)
	} else {
		ri = l.Client.Resource(gvr)
	}
	// ResourceVersion "0" lets the API server answer from its watch cache instead of etcd.
	list, err := ri.List(ctx, metav1.ListOptions{LabelSelector: selector.String(), ResourceVersion: "0"})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", gvr, err)
	}
	names := make([]string, 0, len(list.Items))
	for i := range list.Items {
		names = append(names, list.Items[i].Name)
	}
	return names, nil
}
