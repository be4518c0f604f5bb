package adapter

import (
	"context"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	metafake "k8s.io/client-go/metadata/fake"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"
)

func podMeta(ns, name string, lbls map[string]string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbls, Annotations: map[string]string{"big": "dropped"}}}
}

func TestPodCache(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	client := metafake.NewSimpleMetadataClient(scheme,
		podMeta("shop", "web-1", map[string]string{"app": "web"}),
		podMeta("shop", "web-2", map[string]string{"app": "web"}),
		podMeta("shop", "db-0", map[string]string{"app": "db"}),
		podMeta("other", "web-9", map[string]string{"app": "web"}))
	fallback := &fakeLister{names: map[string][]string{"shop": {"from-fallback"}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := NewPodCache(ctx, client, fallback)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c.informer.HasSynced)
	pods := provider.CustomMetricInfo{GroupResource: schema.GroupResource{Resource: "pods"}, Namespaced: true}
	sel, _ := labels.Parse("app=web")
	names, err := c.ListNames(ctx, pods, "shop", sel)
	slices.Sort(names)
	if err != nil || !slices.Equal(names, []string{"web-1", "web-2"}) {
		t.Errorf("pods app=web in shop: %v %v", names, err)
	}
	for _, o := range c.informer.GetStore().List() {
		if m := o.(*metav1.PartialObjectMetadata); len(m.Annotations) != 0 {
			t.Errorf("cache keeps annotations of %s", m.Name)
		}
	}
	svc := provider.CustomMetricInfo{GroupResource: schema.GroupResource{Resource: "services"}, Namespaced: true}
	if names, _ := c.ListNames(ctx, svc, "shop", labels.Everything()); !slices.Equal(names, []string{"from-fallback"}) {
		t.Errorf("services did not go to the fallback lister: %v", names)
	}
}
