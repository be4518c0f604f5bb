package operator

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/discovery"
	k8sd "github.com/vigil-monitoring/vigil/discovery/kubernetes"
)

// BenchmarkWatch1000ServiceMonitors measures what watching 1,000 ServiceMonitors over 10,000
// endpoints costs Vigil: 100 namespaces of 10 Services, each with one EndpointSlice of 10
// addresses and one ServiceMonitor selecting it. The Kubernetes API is client-go's fake
// clientset (its objects are counted as the API server's, not in the heap reported). Reported:
// extra-heap-MB (live heap once every job has its targets, minus before watching), cpu-s
// (process CPU time until then) and sync-s (wall time until then).
//
// "shared" is Vigil's way (one discovery per role, each job handed its monitor's groups);
// "per-job" is what Prometheus does with the operator's generated configuration, the same
// generated jobs each running their own kubernetes_sd_configs discovery of the monitor's
// namespace (Vigil's port of Prometheus's discovery, so the groups are the same).
func BenchmarkWatch1000ServiceMonitors(b *testing.B) {
	const namespaces, services, endpoints = 100, 10, 10
	for _, mode := range []string{"shared", "per-job"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				var objs []k8sruntime.Object
				var sms []k8sruntime.Object
				for n := range namespaces {
					ns := fmt.Sprintf("ns-%d", n)
					for s := range services {
						name := fmt.Sprintf("svc-%d", s)
						objs = append(objs, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}}})
						es := &discoveryv1.EndpointSlice{
							ObjectMeta:  metav1.ObjectMeta{Name: name + "-1", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: name}},
							AddressType: discoveryv1.AddressTypeIPv4,
							Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("web"), Port: ptr.To(int32(8080))}},
						}
						for e := range endpoints {
							es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.%d.%d.%d", n, s, e)}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
						}
						objs = append(objs, es)
						u := object(b, fmt.Sprintf(`
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: %s, namespace: %s}
spec:
  selector: {matchLabels: {app: %s}}
  endpoints: [{port: web, interval: 30s}]
`, name, ns, name))
						sms = append(sms, u)
					}
				}
				client := fake.NewClientset(objs...)
				dyn := newDynamic(sms...)
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				cpu0 := cpuSeconds()
				start := time.Now()

				ctx, cancel := context.WithCancel(context.Background())
				shared := NewShared(client, nil)
				rec := &recorder{}
				w, err := New(Options{Dynamic: dyn, Client: client, OnChange: func(st *State) {
					shared.SetFilters(st.Filters())
					rec.set(st)
				}})
				if err != nil {
					b.Fatal(err)
				}
				go w.Run(ctx)
				for {
					if st := rec.get(); st != nil && len(st.Jobs) == namespaces*services {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				merged := (&Merger{}).Merge(&config.Config{GlobalConfig: config.DefaultGlobalConfig}, rec.get(), nil)
				var satisfied atomic.Int64
				for _, sc := range merged.ScrapeConfigs {
					var d discovery.Discoverer
					want := 1 // groups with targets the job must get
					if mode == "shared" {
						d = shared.Discoverer(sc.JobName)
					} else {
						d = k8sd.NewForClient(client, sc.KubernetesSDConfigs[0], nil)
						want = services
					}
					ch := make(chan []*config.TargetGroup)
					go d.Run(ctx, ch)
					go func() {
						seen := map[string]bool{}
						done := false
						for {
							select {
							case <-ctx.Done():
								return
							case tgs := <-ch:
								for _, tg := range tgs {
									seen[tg.Source] = len(tg.Targets) == endpoints
								}
								n := 0
								for _, ok := range seen {
									if ok {
										n++
									}
								}
								if !done && n >= want {
									done = true
									satisfied.Add(1)
								}
							}
						}
					}()
				}
				for satisfied.Load() < int64(len(merged.ScrapeConfigs)) {
					time.Sleep(10 * time.Millisecond)
				}
				elapsed := time.Since(start)
				cpu := cpuSeconds() - cpu0
				runtime.GC()
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "extra-heap-MB")
				b.ReportMetric(cpu, "cpu-s")
				b.ReportMetric(elapsed.Seconds(), "sync-s")
				runtime.KeepAlive(merged)
				cancel()
				shared.Stop()
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
