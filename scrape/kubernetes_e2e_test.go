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
// VIGIL_K8S_E2E_KUBECONFIG. There is no kubelet: the test plays it by writing the pod's status
// (IP 127.0.0.1, Running, Ready), the endpoints controllers then publish the Service's endpoints,
// and Vigil scrapes a local HTTP server through the discovered pod and endpoints targets.
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
	pod, err := client.CoreV1().Pods(ns).Create(ctx, &apiv1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Labels: map[string]string{"app": "web"}},
		Spec: apiv1.PodSpec{Containers: []apiv1.Container{{
			Name: "app", Image: "registry.invalid/none:1",
			Ports: []apiv1.ContainerPort{{Name: "metrics", ContainerPort: int32(port)}},
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	pod.Status = apiv1.PodStatus{
		Phase: apiv1.PodRunning, PodIP: "127.0.0.1", PodIPs: []apiv1.PodIP{{IP: "127.0.0.1"}},
		HostIP: "127.0.0.1", StartTime: &now,
		Conditions: []apiv1.PodCondition{{Type: apiv1.PodReady, Status: apiv1.ConditionTrue, LastTransitionTime: now}},
	}
	if _, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	st := newTestStorage()
	m := newTestManager(t, st)
	sd := fmt.Sprintf("kubeconfig_file: %q\n      namespaces: {names: [%s]}", kubeconfig, ns)
	cfg := fmt.Sprintf(`
global: {scrape_interval: 200ms, scrape_timeout: 200ms}
scrape_configs:
- job_name: pods
  kubernetes_sd_configs:
    - role: pod
      %[1]s
- job_name: endpoints
  kubernetes_sd_configs:
    - role: endpoints
      %[1]s
  relabel_configs:
    - source_labels: [__meta_kubernetes_service_label_team]
      regex: e2e
      action: keep
    - source_labels: [__meta_kubernetes_pod_name]
      target_label: pod
- job_name: endpointslices
  kubernetes_sd_configs:
    - role: endpointslice
      %[1]s
`, sd)
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
		ep.DiscoveredLabels().Get("__meta_kubernetes_service_name") != "web" {
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
