package notifier

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	apiv1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/discovery"
	"github.com/vigil-monitoring/vigil/discovery/kubernetes"
)

func TestMain(m *testing.M) {
	// client-go enables the WatchList flow by default, which waits for a bookmark event that the
	// fake clientset never sends; the classic list+watch is what Kubernetes SD tests exercise.
	os.Setenv("KUBE_FEATURE_WatchListClient", "false")
	os.Exit(m.Run())
}

func urlStrings(us []*url.URL) []string {
	out := []string{}
	for _, u := range us {
		out = append(out, u.String())
	}
	return out
}

// waitAlertmanagers waits until the Sender lists exactly these active and dropped Alertmanagers,
// in any order (discovery reports asynchronously, Kubernetes objects in no fixed order).
func waitAlertmanagers(t *testing.T, s *Sender, active, dropped []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		gotActive, gotDropped := urlStrings(s.Alertmanagers()), urlStrings(s.DroppedAlertmanagers())
		slices.Sort(gotActive)
		slices.Sort(gotDropped)
		if slices.Equal(gotActive, slices.Sorted(slices.Values(active))) && slices.Equal(gotDropped, slices.Sorted(slices.Values(dropped))) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanagers: active %q dropped %q, want active %q dropped %q", gotActive, gotDropped, active, dropped)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// amServer is an Alertmanager that reports the alert names it receives.
func amServer(t *testing.T, path string) (*httptest.Server, <-chan string) {
	got := make(chan string, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.Error(w, "wrong path "+r.URL.Path, http.StatusNotFound)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var alerts []postableAlert
		if err := json.Unmarshal(b, &alerts); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, a := range alerts {
			got <- string(a.Labels["alertname"])
		}
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func waitPosted(t *testing.T, ch <-chan string, name string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-ch:
			if got == name {
				return
			}
		case <-timeout:
			t.Fatalf("alert %q not posted", name)
		}
	}
}

// Alertmanagers from file_sd_configs: the Sender follows the file as it changes, relabel_configs
// see the file's labels and __meta_filepath, path_prefix and scheme shape the URL, static
// Alertmanagers of the same entry stay, and alerts go to whatever is discovered now.
func TestSenderFileSD(t *testing.T) {
	am1, got1 := amServer(t, "/prefix/api/v2/alerts")
	am2, got2 := amServer(t, "/prefix/api/v2/alerts")
	host1, host2 := strings.TrimPrefix(am1.URL, "http://"), strings.TrimPrefix(am2.URL, "http://")
	dir := t.TempDir()
	file := filepath.Join(dir, "alertmanagers.yml")
	write := func(content string) {
		t.Helper()
		tmp := filepath.Join(dir, ".tmp")
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	write(fmt.Sprintf("- targets: [%q]\n  labels: {env: prod}\n- targets: ['staging:9093']\n  labels: {env: staging}\n", host1))
	cfg, err := config.Load(fmt.Sprintf(`
alerting:
  alertmanagers:
    - path_prefix: /prefix
      timeout: 5s
      static_configs: [{targets: ['static:9093'], labels: {env: prod}}]
      file_sd_configs: [{files: [%q], refresh_interval: 1h}]
      relabel_configs:
        - source_labels: [env]
          regex: prod
          action: keep
        - source_labels: [__meta_filepath]
          regex: '.+'
          target_label: __scheme__
          replacement: http
`, filepath.Join(dir, "*.yml")))
	if err != nil {
		t.Fatal(err)
	}
	s := NewSender(nil, SenderOptions{Logger: slog.New(slog.DiscardHandler)})
	if err := s.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	s.Run()
	defer s.Stop()
	// Static ones are there at once; the file's once its discoverer reported.
	if got := urlStrings(s.Alertmanagers()); len(got) == 0 || got[0] != "http://static:9093/prefix/api/v2/alerts" {
		t.Fatalf("static alertmanager not listed right after ApplyConfig: %q", got)
	}
	waitAlertmanagers(t, s,
		[]string{"http://static:9093/prefix/api/v2/alerts", "http://" + host1 + "/prefix/api/v2/alerts"},
		[]string{"http://staging:9093/prefix/api/v2/alerts"})
	if err := s.Send(context.Background(), Alert{Labels: model.LabelSet{"alertname": "First"}}); err != nil {
		t.Fatal(err)
	}
	waitPosted(t, got1, "First")

	// The file changes: the Sender follows.
	write(fmt.Sprintf("- targets: [%q]\n  labels: {env: prod}\n", host2))
	waitAlertmanagers(t, s,
		[]string{"http://static:9093/prefix/api/v2/alerts", "http://" + host2 + "/prefix/api/v2/alerts"}, []string{})
	if err := s.Send(context.Background(), Alert{Labels: model.LabelSet{"alertname": "Second"}}); err != nil {
		t.Fatal(err)
	}
	waitPosted(t, got2, "Second")
	select {
	case name := <-got1:
		t.Errorf("alert %q posted to the Alertmanager that left the file", name)
	default:
	}

	// A reload with the same discovery keeps the discovered Alertmanagers listed meanwhile.
	if err := s.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if got := urlStrings(s.Alertmanagers()); len(got) != 2 {
		t.Errorf("discovered alertmanagers lost across a reload: %q", got)
	}
	// The file goes away: only the static one is left.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	waitAlertmanagers(t, s, []string{"http://static:9093/prefix/api/v2/alerts"}, []string{})
}

// Alertmanagers from kubernetes_sd_configs (role pod, the fake clientset): relabel_configs keep
// the Alertmanager pods' web port by Kubernetes meta labels, as a typical prometheus.yml does.
func TestSenderKubernetesSD(t *testing.T) {
	pod := func(name, app, ip string) *apiv1.Pod {
		return &apiv1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "monitoring", UID: types.UID("uid-" + name), Labels: map[string]string{"app": app}},
			Spec: apiv1.PodSpec{NodeName: "node-1", Containers: []apiv1.Container{{
				Name: "am", Ports: []apiv1.ContainerPort{
					{Name: "web", ContainerPort: 9093, Protocol: apiv1.ProtocolTCP},
					{Name: "cluster", ContainerPort: 9094, Protocol: apiv1.ProtocolTCP},
				},
			}}},
			Status: apiv1.PodStatus{PodIP: ip, Phase: apiv1.PodRunning},
		}
	}
	client := fake.NewSimpleClientset(pod("am-0", "alertmanager", "10.0.0.1"), pod("web-0", "web", "10.0.0.2"))
	cfg, err := config.Load(`
alerting:
  alertmanagers:
    - kubernetes_sd_configs:
        - role: pod
          namespaces: {names: [monitoring]}
      relabel_configs:
        - source_labels: [__meta_kubernetes_pod_label_app, __meta_kubernetes_pod_container_port_name]
          regex: alertmanager;web
          action: keep
`)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSender(nil, SenderOptions{Discovery: discovery.Options{
		NewKubernetes: func(c *config.KubernetesSDConfig, l *slog.Logger) (discovery.Discoverer, error) {
			return kubernetes.NewForClient(client, c, l), nil
		},
	}})
	if err := s.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	waitAlertmanagers(t, s, []string{"http://10.0.0.1:9093/api/v2/alerts"}, []string{
		"http://10.0.0.1:9094/api/v2/alerts", "http://10.0.0.2:9093/api/v2/alerts", "http://10.0.0.2:9094/api/v2/alerts",
	})
	// A second Alertmanager pod appears.
	if _, err := client.CoreV1().Pods("monitoring").Create(context.Background(), pod("am-1", "alertmanager", "10.0.0.3"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(urlStrings(s.Alertmanagers()), "http://10.0.0.3:9093/api/v2/alerts") {
		if time.Now().After(deadline) {
			t.Fatalf("new Alertmanager pod not discovered: %q", urlStrings(s.Alertmanagers()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(s.Alertmanagers()); n != 2 {
		t.Errorf("%d active alertmanagers, want 2: %q", n, urlStrings(s.Alertmanagers()))
	}
}

// After Stop no discovery starts: a late reload is refused instead of leaking discoverers.
func TestSenderApplyConfigAfterStop(t *testing.T) {
	cfg, err := config.Load("alerting:\n  alertmanagers:\n    - file_sd_configs: [{files: ['" + t.TempDir() + "/*.json']}]\n")
	if err != nil {
		t.Fatal(err)
	}
	s := NewSender(nil, SenderOptions{})
	if err := s.ApplyConfig(cfg); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := s.ApplyConfig(cfg); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("ApplyConfig after Stop: %v", err)
	}
}
