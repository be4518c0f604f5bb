package operator

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/discovery"
	"github.com/vigil-monitoring/vigil/promql/promqltest"
	"github.com/vigil-monitoring/vigil/scrape"
)

// pipeNet is an in-memory network for a synctest bubble: every dial opens a net.Pipe to one
// HTTP server, which records each request's host and time and each connection's host.
type pipeNet struct {
	conns chan net.Conn
	mtx   sync.Mutex
	hits  map[string][]time.Time // host → scrape times
	dials map[string]int         // host → connections opened
}

func newPipeNet() *pipeNet {
	return &pipeNet{conns: make(chan net.Conn), hits: map[string][]time.Time{}, dials: map[string]int{}}
}

func (p *pipeNet) Accept() (net.Conn, error) {
	c, ok := <-p.conns
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}
func (p *pipeNet) Close() error   { return nil }
func (p *pipeNet) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(10, 213, 27, 2)} }

func (p *pipeNet) dial(ctx context.Context, _, addr string) (net.Conn, error) {
	p.mtx.Lock()
	p.dials[addr]++
	p.mtx.Unlock()
	client, server := net.Pipe()
	select {
	case p.conns <- server:
		return client, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pipeNet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mtx.Lock()
	p.hits[r.Host] = append(p.hits[r.Host], time.Now())
	p.mtx.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintln(w, "up_metric 1")
}

func (p *pipeNet) snapshot(host string) ([]time.Time, int) {
	p.mtx.Lock()
	defer p.mtx.Unlock()
	return append([]time.Time(nil), p.hits[host]...), p.dials[host]
}

// staticDiscoverer sends one target group, as the shared Kubernetes discovery would for an
// EndpointSlice of a Service labelled app=<app> with a port named web.
type staticDiscoverer struct{ ns, svc, app, addr string }

func (d staticDiscoverer) Run(ctx context.Context, up chan<- []*config.TargetGroup) {
	tg := &config.TargetGroup{
		Source: "endpointslice/" + d.ns + "/" + d.svc,
		Targets: []model.LabelSet{{
			"__address__": model.LabelValue(d.addr),
			"__meta_kubernetes_endpointslice_port_name": "web",
		}},
		Labels: model.LabelSet{
			"__meta_kubernetes_namespace":                model.LabelValue(d.ns),
			"__meta_kubernetes_service_name":             model.LabelValue(d.svc),
			"__meta_kubernetes_service_label_app":        model.LabelValue(d.app),
			"__meta_kubernetes_service_labelpresent_app": "true",
		},
	}
	select {
	case up <- []*config.TargetGroup{tg}:
	case <-ctx.Done():
		return
	}
	<-ctx.Done()
}

// An operator change (a ServiceMonitor added, changed, deleted) applied through the Merger and
// the scrape manager, as the watcher's onChange does, leaves the other jobs' scrape loops alone:
// the file's job, a ScrapeConfig's job and an unrelated ServiceMonitor's job keep scraping at
// exactly their interval (no extra or skipped scrape) over the connection they opened first
// (a restarted loop gets a new HTTP client and dials again). The changed job, for contrast,
// does dial again.
func TestOperatorChangesKeepUnrelatedJobsRhythm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := newPipeNet()
		srv := &http.Server{Handler: pn}
		go func() { _ = srv.Serve(pn) }()

		// Hosts are per job: the pipe network routes by dial, the server records r.Host.
		const (
			ownHost    = "10.213.27.2:27201"
			staticHost = "10.213.27.2:27202"
			steadyHost = "10.213.27.2:27203"
			changeHost = "10.213.27.2:27204"
			addedHost  = "10.213.27.2:27205"
		)
		disc := map[string]staticDiscoverer{
			"serviceMonitor/team/steady/0": {"team", "steady", "steady", steadyHost},
			"serviceMonitor/team/change/0": {"team", "change", "change", changeHost},
			"serviceMonitor/team/added/0":  {"team", "added", "added", addedHost},
		}
		m := scrape.NewManager(&scrape.Options{
			DiscoveryUpdateInterval: 100 * time.Millisecond,
			HTTPClientOptions:       []commoncfg.HTTPClientOption{commoncfg.WithDialContextFunc(pn.dial)},
			JobDiscoverer: func(job string) discovery.Discoverer {
				if d, ok := disc[job]; ok {
					return d
				}
				return nil
			},
		}, slog.New(slog.DiscardHandler), promqltest.NewMemStorage(), nil)
		defer m.Stop()

		file, err := config.Load(fmt.Sprintf(`
global: {scrape_interval: 2s, scrape_timeout: 1s}
scrape_configs:
- job_name: own
  static_configs: [{targets: [%q]}]
`, ownHost))
		require.NoError(t, err)

		g := &Generator{EndpointRole: RoleEndpointSlice}
		sm := func(name, interval string) []GeneratedJob {
			var o monitoringv1.ServiceMonitor
			require.NoError(t, sigsyaml.Unmarshal(fmt.Appendf(nil, `
metadata: {name: %s, namespace: team}
spec:
  selector: {matchLabels: {app: %s}}
  endpoints: [{port: web, interval: %s}]
`, name, name, interval), &o))
			jobs, err := parseJobs(g.ServiceMonitor(&o))
			require.NoError(t, err)
			return jobs
		}
		var sc monitoringv1alpha1.ScrapeConfig
		require.NoError(t, sigsyaml.Unmarshal(fmt.Appendf(nil, `
metadata: {name: static, namespace: team}
spec: {scrapeInterval: 3s, staticConfigs: [{targets: [%q]}]}
`, staticHost), &sc))
		scJobs, err := parseJobs(func() ([]Job, error) {
			j, err := g.ScrapeConfig(&sc)
			return []Job{j}, err
		}())
		require.NoError(t, err)

		var merger Merger
		apply := func(jobs ...[]GeneratedJob) {
			st := &State{}
			for _, j := range jobs {
				st.Jobs = append(st.Jobs, j...)
			}
			require.NoError(t, m.ApplyConfig(merger.Merge(file, st, nil)))
		}

		// Start, then: the changing ServiceMonitor's interval changes, another one is
		// added, the changing one is deleted, the added one changes — each a few
		// intervals apart and off the scrape ticks.
		apply(scJobs, sm("steady", "1s"), sm("change", "1s"))
		time.Sleep(10*time.Second + 300*time.Millisecond)
		_, changeDials := pn.snapshot(changeHost)
		apply(scJobs, sm("steady", "1s"), sm("change", "500ms"))
		time.Sleep(7*time.Second + 100*time.Millisecond)
		_, changeDialsAfter := pn.snapshot(changeHost)
		apply(scJobs, sm("steady", "1s"), sm("change", "500ms"), sm("added", "1s"))
		time.Sleep(5*time.Second + 700*time.Millisecond)
		apply(scJobs, sm("steady", "1s"), sm("added", "1s"))
		time.Sleep(6*time.Second + 400*time.Millisecond)
		apply(scJobs, sm("steady", "1s"), sm("added", "2s"))
		time.Sleep(10 * time.Second)
		synctest.Wait()

		for _, c := range []struct {
			host     string
			interval time.Duration
		}{{ownHost, 2 * time.Second}, {staticHost, 3 * time.Second}, {steadyHost, time.Second}} {
			hits, dials := pn.snapshot(c.host)
			t.Logf("%s: %d scrapes, %d connections, first %v last %v", c.host, len(hits), dials, hits[0].Format(time.TimeOnly), hits[len(hits)-1].Format(time.TimeOnly))
			require.Equal(t, 1, dials, "%s: connections opened (a restarted loop dials again)", c.host)
			require.Greater(t, len(hits), int(30*time.Second/c.interval), "%s: scrapes", c.host)
			for i := 1; i < len(hits); i++ {
				require.Equal(t, c.interval, hits[i].Sub(hits[i-1]), "%s: gap before scrape %d of %v", c.host, i, hits)
			}
		}
		// The check sees restarts: the job whose interval changed dialed again.
		require.Equal(t, 1, changeDials)
		require.Greater(t, changeDialsAfter, changeDials, "the changed job's loop was not replaced")
		hits, _ := pn.snapshot(addedHost)
		require.NotEmpty(t, hits, "the added job never scraped")

		m.Stop()
		close(pn.conns)
		_ = srv.Close()
	})
}
