package kubernetes

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	apiv1 "k8s.io/api/core/v1"
	disv1 "k8s.io/api/discovery/v1"
	networkv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	vconfig "github.com/vigil-monitoring/vigil/config"
)

func ptr[T any](v T) *T { return &v }

// collect runs d and returns the latest group per source once want sources have non-empty
// groups (or fails after a timeout).
func collect(t *testing.T, ctx context.Context, ch <-chan []*vconfig.TargetGroup, done func(map[string]*vconfig.TargetGroup) bool) map[string]*vconfig.TargetGroup {
	t.Helper()
	groups := map[string]*vconfig.TargetGroup{}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case tgs := <-ch:
			for _, tg := range tgs {
				groups[tg.Source] = tg
			}
			if done(groups) {
				return groups
			}
		case <-timeout:
			t.Fatalf("timed out; groups so far: %+v", groups)
		case <-ctx.Done():
			t.Fatal("context done")
		}
	}
}

func hasTargets(src string, n int) func(map[string]*vconfig.TargetGroup) bool {
	return func(g map[string]*vconfig.TargetGroup) bool { tg, ok := g[src]; return ok && len(tg.Targets) == n }
}

var (
	testPod = &apiv1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web-1", Namespace: "default", UID: "uid-1",
			Labels:          map[string]string{"app": "web", "app.kubernetes.io/name": "web"},
			Annotations:     map[string]string{"prometheus.io/scrape": "true"},
			OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-abc", Controller: ptr(true)}},
		},
		Spec: apiv1.PodSpec{
			NodeName: "node-1",
			Containers: []apiv1.Container{{
				Name: "app", Image: "web:1",
				Ports: []apiv1.ContainerPort{{Name: "metrics", ContainerPort: 9100, Protocol: apiv1.ProtocolTCP}},
			}},
		},
		Status: apiv1.PodStatus{
			PodIP: "10.0.0.1", HostIP: "192.168.0.1", Phase: apiv1.PodRunning,
			Conditions:        []apiv1.PodCondition{{Type: apiv1.PodReady, Status: apiv1.ConditionTrue}},
			ContainerStatuses: []apiv1.ContainerStatus{{Name: "app", ContainerID: "containerd://c1"}},
		},
	}
	testService = &apiv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"team": "a"}},
		Spec: apiv1.ServiceSpec{
			Type: apiv1.ServiceTypeClusterIP, ClusterIP: "10.1.0.1",
			Ports: []apiv1.ServicePort{{Name: "metrics", Port: 9100, Protocol: apiv1.ProtocolTCP, TargetPort: intstr.FromInt32(9100)}},
		},
	}
)

func TestRoles(t *testing.T) {
	cases := []struct {
		name    string
		role    vconfig.KubernetesRole
		objects []runtime.Object
		source  string
		targets int
		// want is checked against the union of the first target's and its group's labels.
		want map[string]string
	}{
		{
			name: "pod", role: vconfig.KubernetesRolePod, objects: []runtime.Object{testPod},
			source: "pod/default/web-1", targets: 1,
			want: map[string]string{
				"__address__":                                           "10.0.0.1:9100",
				"__meta_kubernetes_namespace":                           "default",
				"__meta_kubernetes_pod_name":                            "web-1",
				"__meta_kubernetes_pod_ip":                              "10.0.0.1",
				"__meta_kubernetes_pod_label_app":                       "web",
				"__meta_kubernetes_pod_label_app_kubernetes_io_name":    "web",
				"__meta_kubernetes_pod_labelpresent_app":                "true",
				"__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
				"__meta_kubernetes_pod_container_name":                  "app",
				"__meta_kubernetes_pod_container_image":                 "web:1",
				"__meta_kubernetes_pod_container_id":                    "containerd://c1",
				"__meta_kubernetes_pod_container_port_name":             "metrics",
				"__meta_kubernetes_pod_container_port_number":           "9100",
				"__meta_kubernetes_pod_container_port_protocol":         "TCP",
				"__meta_kubernetes_pod_container_init":                  "false",
				"__meta_kubernetes_pod_ready":                           "true",
				"__meta_kubernetes_pod_phase":                           "Running",
				"__meta_kubernetes_pod_node_name":                       "node-1",
				"__meta_kubernetes_pod_host_ip":                         "192.168.0.1",
				"__meta_kubernetes_pod_uid":                             "uid-1",
				"__meta_kubernetes_pod_controller_kind":                 "ReplicaSet",
				"__meta_kubernetes_pod_controller_name":                 "web-abc",
			},
		},
		{
			name: "service", role: vconfig.KubernetesRoleService, objects: []runtime.Object{testService},
			source: "svc/default/web", targets: 1,
			want: map[string]string{
				"__address__":                             "web.default.svc:9100",
				"__meta_kubernetes_namespace":             "default",
				"__meta_kubernetes_service_name":          "web",
				"__meta_kubernetes_service_label_team":    "a",
				"__meta_kubernetes_service_port_name":     "metrics",
				"__meta_kubernetes_service_port_number":   "9100",
				"__meta_kubernetes_service_port_protocol": "TCP",
				"__meta_kubernetes_service_cluster_ip":    "10.1.0.1",
				"__meta_kubernetes_service_type":          "ClusterIP",
			},
		},
		{
			name: "node", role: vconfig.KubernetesRoleNode,
			objects: []runtime.Object{&apiv1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{"zone": "a"}},
				Spec:       apiv1.NodeSpec{ProviderID: "aws:///i-1"},
				Status: apiv1.NodeStatus{
					Addresses:       []apiv1.NodeAddress{{Type: apiv1.NodeInternalIP, Address: "192.168.0.1"}, {Type: apiv1.NodeHostName, Address: "node-1.local"}},
					DaemonEndpoints: apiv1.NodeDaemonEndpoints{KubeletEndpoint: apiv1.DaemonEndpoint{Port: 10250}},
				},
			}},
			source: "node/node-1", targets: 1,
			want: map[string]string{
				"__address__":                               "192.168.0.1:10250",
				"instance":                                  "node-1",
				"__meta_kubernetes_node_name":               "node-1",
				"__meta_kubernetes_node_label_zone":         "a",
				"__meta_kubernetes_node_provider_id":        "aws:///i-1",
				"__meta_kubernetes_node_address_InternalIP": "192.168.0.1",
				"__meta_kubernetes_node_address_Hostname":   "node-1.local",
			},
		},
		{
			name: "endpoints", role: vconfig.KubernetesRoleEndpoint,
			objects: []runtime.Object{testPod, testService, &apiv1.Endpoints{ //nolint:staticcheck // Prometheus still supports the endpoints role.
				ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
				Subsets: []apiv1.EndpointSubset{{ //nolint:staticcheck
					Addresses: []apiv1.EndpointAddress{{IP: "10.0.0.1", NodeName: ptr("node-1"), TargetRef: &apiv1.ObjectReference{Kind: "Pod", Name: "web-1", Namespace: "default"}}},
					Ports:     []apiv1.EndpointPort{{Name: "metrics", Port: 9100, Protocol: apiv1.ProtocolTCP}}, //nolint:staticcheck
				}},
			}},
			source: "endpoints/default/web", targets: 1,
			want: map[string]string{
				"__address__":                                    "10.0.0.1:9100",
				"__meta_kubernetes_namespace":                    "default",
				"__meta_kubernetes_endpoints_name":               "web",
				"__meta_kubernetes_endpoint_ready":               "true",
				"__meta_kubernetes_endpoint_port_name":           "metrics",
				"__meta_kubernetes_endpoint_port_protocol":       "TCP",
				"__meta_kubernetes_endpoint_node_name":           "node-1",
				"__meta_kubernetes_endpoint_address_target_kind": "Pod",
				"__meta_kubernetes_endpoint_address_target_name": "web-1",
				"__meta_kubernetes_pod_name":                     "web-1",
				"__meta_kubernetes_pod_container_port_number":    "9100",
				"__meta_kubernetes_service_name":                 "web",
				"__meta_kubernetes_service_label_team":           "a",
			},
		},
		{
			name: "endpointslice", role: vconfig.KubernetesRoleEndpointSlice,
			objects: []runtime.Object{testPod, testService, &disv1.EndpointSlice{
				ObjectMeta:  metav1.ObjectMeta{Name: "web-xyz", Namespace: "default", Labels: map[string]string{disv1.LabelServiceName: "web"}},
				AddressType: disv1.AddressTypeIPv4,
				Endpoints: []disv1.Endpoint{{
					Addresses:  []string{"10.0.0.1"},
					Conditions: disv1.EndpointConditions{Ready: ptr(true)},
					NodeName:   ptr("node-1"),
					TargetRef:  &apiv1.ObjectReference{Kind: "Pod", Name: "web-1", Namespace: "default"},
				}},
				Ports: []disv1.EndpointPort{{Name: ptr("metrics"), Port: ptr(int32(9100)), Protocol: ptr(apiv1.ProtocolTCP)}},
			}},
			source: "endpointslice/default/web-xyz", targets: 1,
			want: map[string]string{
				"__address__":                                               "10.0.0.1:9100",
				"__meta_kubernetes_endpointslice_name":                      "web-xyz",
				"__meta_kubernetes_endpointslice_address_type":              "IPv4",
				"__meta_kubernetes_endpointslice_endpoint_conditions_ready": "true",
				"__meta_kubernetes_endpointslice_port_name":                 "metrics",
				"__meta_kubernetes_endpointslice_address_target_kind":       "Pod",
				"__meta_kubernetes_pod_name":                                "web-1",
				"__meta_kubernetes_service_name":                            "web",
			},
		},
		{
			name: "ingress", role: vconfig.KubernetesRoleIngress,
			objects: []runtime.Object{&networkv1.Ingress{
				ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: "default"},
				Spec: networkv1.IngressSpec{
					IngressClassName: ptr("nginx"),
					TLS:              []networkv1.IngressTLS{{Hosts: []string{"example.com"}}},
					Rules: []networkv1.IngressRule{{Host: "example.com", IngressRuleValue: networkv1.IngressRuleValue{HTTP: &networkv1.HTTPIngressRuleValue{
						Paths: []networkv1.HTTPIngressPath{{Path: "/api"}},
					}}}},
				},
			}},
			source: "ingress/default/site", targets: 1,
			want: map[string]string{
				"__address__":                          "example.com",
				"__meta_kubernetes_ingress_name":       "site",
				"__meta_kubernetes_ingress_scheme":     "https",
				"__meta_kubernetes_ingress_host":       "example.com",
				"__meta_kubernetes_ingress_path":       "/api",
				"__meta_kubernetes_ingress_class_name": "nginx",
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := fake.NewClientset(c.objects...)
			d := NewForClient(client, &vconfig.KubernetesSDConfig{Role: c.role}, nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch := make(chan []*vconfig.TargetGroup, 10)
			go d.Run(ctx, ch)
			groups := collect(t, ctx, ch, hasTargets(c.source, c.targets))
			tg := groups[c.source]
			got := model.LabelSet{}
			for k, v := range tg.Labels {
				got[k] = v
			}
			for k, v := range tg.Targets[0] {
				got[k] = v
			}
			for k, v := range c.want {
				if string(got[model.LabelName(k)]) != v {
					t.Errorf("%s = %q, want %q", k, got[model.LabelName(k)], v)
				}
			}
			if t.Failed() {
				t.Logf("all labels: %v", got)
			}
		})
	}
}

func TestPodUpdatesAndDeletes(t *testing.T) {
	client := fake.NewClientset()
	d := NewForClient(client, &vconfig.KubernetesSDConfig{Role: vconfig.KubernetesRolePod, NamespaceDiscovery: vconfig.KubernetesNamespaces{Names: []string{"default"}}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := make(chan []*vconfig.TargetGroup, 10)
	go d.Run(ctx, ch)
	// Wait for the informer to have synced before creating objects, as a real server would.
	time.Sleep(100 * time.Millisecond)
	if _, err := client.CoreV1().Pods("default").Create(ctx, testPod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	other := testPod.DeepCopy()
	other.Namespace, other.Name = "other", "x"
	if _, err := client.CoreV1().Pods("other").Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	groups := collect(t, ctx, ch, hasTargets("pod/default/web-1", 1))
	if _, ok := groups["pod/other/x"]; ok {
		t.Fatal("pod outside the configured namespaces discovered")
	}
	// A second container port gives a second target.
	upd := testPod.DeepCopy()
	upd.Spec.Containers[0].Ports = append(upd.Spec.Containers[0].Ports, apiv1.ContainerPort{Name: "debug", ContainerPort: 6060})
	if _, err := client.CoreV1().Pods("default").Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	collect(t, ctx, ch, hasTargets("pod/default/web-1", 2))
	if err := client.CoreV1().Pods("default").Delete(ctx, "web-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	collect(t, ctx, ch, hasTargets("pod/default/web-1", 0))
}

func TestSelectorsPassedToWatch(t *testing.T) {
	client := fake.NewClientset(testPod)
	cfg := &vconfig.KubernetesSDConfig{Role: vconfig.KubernetesRolePod, Selectors: []vconfig.KubernetesSelector{{Role: vconfig.KubernetesRolePod, Label: "app=web", Field: "spec.nodeName=node-1"}}}
	d := NewForClient(client, cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := make(chan []*vconfig.TargetGroup, 10)
	go d.Run(ctx, ch)
	collect(t, ctx, ch, hasTargets("pod/default/web-1", 1))
	var sawLabel, sawField bool
	for _, a := range client.Actions() {
		if a.GetVerb() != "list" || a.GetResource().Resource != "pods" {
			continue
		}
		if r, ok := a.(k8stesting.ListAction); ok {
			sawLabel = sawLabel || r.GetListRestrictions().Labels.String() == "app=web"
			sawField = sawField || r.GetListRestrictions().Fields.String() == "spec.nodeName=node-1"
		}
	}
	if !sawLabel || !sawField {
		t.Fatalf("selectors not used in list calls (label %v, field %v): %v", sawLabel, sawField, client.Actions())
	}
}
