package scrape

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	apiv1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// TestKubernetesE2E runs discovery, relabeling and scraping against a real API server and
// controller manager (../shared/k8s-e2e/controlplane.sh start), with the admin kubeconfig in
// VIGIL_K8S_E2E_KUBECONFIG. There is no kubelet: the test registers a Node and plays the kubelet
// by writing the pod's status (Running, Ready, a pod IP); the endpoints and endpointslice
// controllers then publish the Service's endpoints. The API server refuses loopback endpoint
// addresses, so the pod gets a cluster-style IP and relabeling points the scrape at the local
// HTTP server (127.0.0.1, same port), which also exercises relabeling of discovered targets.
//
// Run it on a private control plane (own root and ports, so a shared one is left alone):
//
//	export K8S_E2E_ROOT=/tmp/vigil-k8s BIN=~/.cache/vigil-k8s-e2e/bin ETCD_PORT=32379 ETCD_PEER_PORT=32380 APISERVER_PORT=36443 KCM_PORT=36257
//	../shared/k8s-e2e/controlplane.sh start
//	VIGIL_K8S_E2E_KUBECONFIG=$K8S_E2E_ROOT/run/pki/admin.kubeconfig go test -run TestKubernetesE2E -v ./scrape/
//	../shared/k8s-e2e/controlplane.sh stop
func TestKubernetesE2E(t *testing.T) {
	kubeconfig := os.Getenv("VIGIL_K8S_E2E_KUBECONFIG")
	if kubeconfig == "" {
		t.Skip("set VIGIL_K8S_E2E_KUBECONFIG to the control plane's admin kubeconfig to run")
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := countingTarget(t, "e2e_metric 1\n")
	_, portStr, _ := net.SplitHostPort(host(srv))
	port, _ := strconv.Atoi(portStr)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := fmt.Sprintf("vigil-e2e-%d", time.Now().UnixNano()%1_000_000)
	node := ns + "-node"
	if _, err := client.CoreV1().Nodes().Create(ctx, &apiv1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = client.CoreV1().Nodes().Delete(context.Background(), node, metav1.DeleteOptions{})
	}()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &apiv1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	}()
	if _, err := client.CoreV1().Services(ns).Create(ctx, &apiv1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"team": "e2e"}},
		Spec: apiv1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []apiv1.ServicePort{{Name: "metrics", Port: 80, TargetPort: intstr.FromInt(port)}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The service account admission refuses pods until the namespace's default account exists.
	waitFor(t, "default service account", func() bool {
		_, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})
	pod, err := client.CoreV1().Pods(ns).Create(ctx, &apiv1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Labels: map[string]string{"app": "web"}},
		Spec: apiv1.PodSpec{NodeName: node, Containers: []apiv1.Container{{
			Name: "app", Image: "registry.invalid/none:1",
			Ports: []apiv1.ContainerPort{{Name: "metrics", ContainerPort: int32(port)}},
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const podIP = "10.244.0.5"
	now := metav1.Now()
	pod.Status = apiv1.PodStatus{
		Phase: apiv1.PodRunning, PodIP: podIP, PodIPs: []apiv1.PodIP{{IP: podIP}},
		HostIP: "10.0.0.2", StartTime: &now,
		Conditions: []apiv1.PodCondition{{Type: apiv1.PodReady, Status: apiv1.ConditionTrue, LastTransitionTime: now}},
	}
	if _, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	st := newTestStorage()
	m := newTestManager(t, st)
	sd := fmt.Sprintf("kubeconfig_file: %q\n      namespaces: {names: [%s]}", kubeconfig, ns)
	toLocal := `
    - source_labels: [__address__]
      regex: '10\.244\.0\.5:(\d+)'
      target_label: __address__
      replacement: '127.0.0.1:$1'`
	cfg := fmt.Sprintf(`
global: {scrape_interval: 200ms, scrape_timeout: 200ms}
scrape_configs:
- job_name: pods
  kubernetes_sd_configs:
    - role: pod
      %[1]s
  relabel_configs:%[2]s
- job_name: endpoints
  kubernetes_sd_configs:
    - role: endpoints
      %[1]s
  relabel_configs:%[2]s
    - source_labels: [__meta_kubernetes_service_label_team]
      regex: e2e
      action: keep
    - source_labels: [__meta_kubernetes_pod_name]
      target_label: pod
- job_name: endpointslices
  kubernetes_sd_configs:
    - role: endpointslice
      %[1]s
  relabel_configs:%[2]s
`, sd, toLocal)
	if err := m.ApplyConfig(mustLoad(t, cfg)); err != nil {
		t.Fatal(err)
	}
	for _, job := range []string{"pods", "endpoints", "endpointslices"} {
		waitFor(t, job+" target scraped", func() bool {
			ts := m.TargetsActive()[job]
			return len(ts) == 1 && ts[0].Health() == HealthGood
		})
	}
	ep := m.TargetsActive()["endpoints"][0]
	if ep.Labels().Get("pod") != "web-0" || ep.DiscoveredLabels().Get("__meta_kubernetes_endpoint_port_name") != "metrics" ||
		ep.DiscoveredLabels().Get("__meta_kubernetes_service_name") != "web" ||
		ep.DiscoveredLabels().Get("__meta_kubernetes_endpoint_node_name") != node {
		t.Errorf("endpoints target labels %s, discovered %s", ep.Labels(), ep.DiscoveredLabels())
	}
	if got := st.series(fmt.Sprintf(`{__name__="e2e_metric", instance="127.0.0.1:%d", job="endpoints", pod="web-0"}`, port)); len(got) == 0 {
		t.Errorf("no samples stored for the endpoints target: %v", st.names())
	}

	// Deleting the pod removes the targets.
	if err := client.CoreV1().Pods(ns).Delete(ctx, "web-0", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod target gone", func() bool { return len(m.TargetsActive()["pods"]) == 0 })
}
