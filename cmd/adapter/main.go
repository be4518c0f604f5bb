// Command vigil-adapter serves the Kubernetes custom and external metrics APIs from PromQL, so
// HorizontalPodAutoscalers can scale on metrics held by Vigil or any Prometheus-compatible
// server. It reads prometheus-adapter configuration files unchanged.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/version"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/component-base/logs"
	"k8s.io/klog/v2"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/dynamicmapper"

	"github.com/vigil-monitoring/vigil/adapter"
	"github.com/vigil-monitoring/vigil/adapter/serve"
	_ "github.com/vigil-monitoring/vigil/internal/buildinfo" // fills common/version
)

type options struct {
	listerKubeconfig  string
	discoveryInterval time.Duration
	clientQPS         float32
	clientBurst       int
	promURL           string
	tokenFile         string
	caFile            string
	certFile          string
	keyFile           string
	insecureTLS       bool
	configFile        string
	relistInterval    time.Duration
	maxAge            time.Duration
	missInterval      time.Duration
	queryTimeout      time.Duration
	configPoll        time.Duration
	relistTimeout     time.Duration
	memoryLimit       string
	gcPercent         int
	cachePods         bool
}

func main() {
	logs.InitLogs()
	defer logs.FlushLogs()
	if err := run(); err != nil {
		klog.ErrorS(err, "vigil-adapter failed")
		logs.FlushLogs()
		os.Exit(1)
	}
}

func run() error {
	var o options
	fs := pflag.CommandLine
	srv := serve.NewOptions()
	srv.AddFlags(fs)
	fs.StringVar(&o.listerKubeconfig, "lister-kubeconfig", "", "kubeconfig file pointing at the 'core' kubernetes server with enough rights to list any described objects (in-cluster config if empty)")
	fs.DurationVar(&o.discoveryInterval, "discovery-interval", 5*time.Minute, "interval at which to refresh API discovery information (the RESTMapper); unknown resources also trigger a refresh, at most every 10s")
	fs.Float32Var(&o.clientQPS, "client-qps", 100, "maximum QPS of the Kubernetes client (client-go's default of 5 throttles the listing behind Pods metrics as soon as a few HPAs are polled together)")
	fs.IntVar(&o.clientBurst, "client-burst", 200, "maximum burst of the Kubernetes client")
	fs.StringVar(&o.promURL, "prometheus-url", "http://localhost:9090", "URL of Vigil or any server with the Prometheus HTTP API (/api/v1/query, /api/v1/series)")
	fs.StringVar(&o.tokenFile, "prometheus-bearer-token-file", "", "file with a bearer token for the Prometheus API; re-read on every request, so rotated tokens work")
	fs.StringVar(&o.caFile, "prometheus-ca-file", "", "CA certificate file to verify the Prometheus API server")
	fs.StringVar(&o.certFile, "prometheus-client-cert-file", "", "client certificate file for TLS to the Prometheus API")
	fs.StringVar(&o.keyFile, "prometheus-client-key-file", "", "client key file for TLS to the Prometheus API")
	fs.BoolVar(&o.insecureTLS, "prometheus-insecure-skip-tls-verify", false, "do not verify the Prometheus API server's certificate")
	fs.StringVar(&o.configFile, "config", "", "prometheus-adapter config file (rules, externalRules); watched and reloaded on change. Empty: prometheus-adapter's default rules")
	fs.DurationVar(&o.relistInterval, "metrics-relist-interval", 30*time.Second, "how often to rediscover metrics; unknown metrics also trigger a rediscovery (see --discovery-on-miss-interval)")
	fs.DurationVar(&o.maxAge, "metrics-max-age", 5*time.Minute, "series seen within this window are servable")
	fs.DurationVar(&o.missInterval, "discovery-on-miss-interval", time.Second, "minimum time between rediscoveries triggered by requests for unknown metrics")
	fs.DurationVar(&o.queryTimeout, "query-timeout", 10*time.Second, "timeout of one PromQL query")
	fs.DurationVar(&o.relistTimeout, "relist-timeout", 30*time.Second, "timeout of one rediscovery")
	fs.DurationVar(&o.configPoll, "config-poll-interval", 10*time.Second, "re-read --config at least this often, in case file-system events are missed")
	fs.IntVar(&o.gcPercent, "go-gc-percent", 50, "GOGC of the Go runtime: the heap may grow to live data plus this percentage before a collection. Most of the adapter's allocation is short-lived (a relist, a request), so half of Go's default keeps the process small at little CPU cost; the GOGC environment variable takes precedence")
	fs.StringVar(&o.memoryLimit, "go-memory-limit", "48Mi", "soft limit for the Go runtime (GC works harder near it instead of growing the heap); 0 disables; the GOMEMLIMIT environment variable takes precedence")
	fs.BoolVar(&o.cachePods, "cache-pods", true, "keep pod names and labels in a watch-based cache for Pods metrics instead of listing pods on every request (needs watch on pods)")
	showVersion := fs.Bool("version", false, "print version information and exit")
	logs.AddFlags(fs)
	if err := fs.Parse(os.Args[1:]); err != nil {
		return fmt.Errorf("parsing flags: %w", err)
	}
	if *showVersion {
		fmt.Println(version.Print("vigil-adapter"))
		return nil
	}
	if o.relistInterval <= 0 || o.maxAge <= 0 {
		return errors.New("--metrics-relist-interval and --metrics-max-age must be positive")
	}

	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(o.gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" && o.memoryLimit != "0" {
		q, err := resource.ParseQuantity(o.memoryLimit)
		if err != nil {
			return fmt.Errorf("--go-memory-limit: %w", err)
		}
		debug.SetMemoryLimit(q.Value())
	}

	promAPI, err := newPromAPI(o)
	if err != nil {
		return err
	}
	clientCfg, err := clientConfig(o.listerKubeconfig)
	if err != nil {
		return fmt.Errorf("lister client config: %w", err)
	}
	clientCfg.QPS, clientCfg.Burst = o.clientQPS, o.clientBurst
	disco, err := discovery.NewDiscoveryClientForConfig(clientCfg)
	if err != nil {
		return fmt.Errorf("building the discovery client: %w", err)
	}
	// Refreshed every --discovery-interval and, on a miss, by the Discoverer, so custom
	// resources installed after start-up map.
	mapper, err := dynamicmapper.NewRESTMapper(disco, o.discoveryInterval)
	if err != nil {
		return fmt.Errorf("building the discovery REST mapper: %w", err)
	}
	meta, err := metadata.NewForConfig(clientCfg)
	if err != nil {
		return fmt.Errorf("building the metadata client: %w", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	adapter.RegisterMetrics()
	d := &adapter.Discoverer{API: promAPI, Mapper: mapper, MaxAge: o.maxAge, MissInterval: o.missInterval, Timeout: o.relistTimeout}
	if o.discoveryInterval > 0 {
		mapper.RunUntil(ctx.Done())
	}
	d.RefreshMapper, d.MapperMissInterval = mapper.RegenerateMappings, 10*time.Second
	reloader := &adapter.Reloader{Path: o.configFile, Discoverer: d}
	if err := reloader.Load(ctx); err != nil {
		return err
	}
	go d.Run(ctx, o.relistInterval)
	go reloader.Watch(ctx, o.configPoll)

	var lister adapter.ObjectLister = &adapter.MetadataLister{Client: meta, Mapper: mapper}
	if o.cachePods {
		if lister, err = adapter.NewPodCache(ctx, meta, lister); err != nil {
			return err
		}
	}
	p := &adapter.Provider{Discoverer: d, Mapper: mapper, Lister: lister, QueryTimeout: o.queryTimeout}
	api, err := serve.API(p, p)
	if err != nil {
		return err
	}
	// Discovery listings of the metrics APIs are streamed from the registry (ListingHandler),
	// behind the same authentication and authorization as every other path.
	server, err := srv.New(p.ListingHandler(api))
	if err != nil {
		return err
	}
	// Not ready until the metrics are known: before that, every metric would be not found and
	// the HPA controller would report the metrics unavailable.
	if err := server.AddReadyzChecks(healthz.NamedCheck("metric-discovery", func(*http.Request) error { return d.Synced() })); err != nil {
		return err
	}
	klog.InfoS("starting vigil-adapter", "version", version.Info(), "build_context", version.BuildContext(), "prometheus", o.promURL, "config", reloader.Path)
	return server.Run(ctx)
}

func clientConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		return rest.InClusterConfig()
	}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}, &clientcmd.ConfigOverrides{}).ClientConfig()
}

func newPromAPI(o options) (*adapter.PromClient, error) {
	hc := commoncfg.HTTPClientConfig{
		TLSConfig: commoncfg.TLSConfig{CAFile: o.caFile, CertFile: o.certFile, KeyFile: o.keyFile, InsecureSkipVerify: o.insecureTLS},
	}
	if o.tokenFile != "" {
		hc.Authorization = &commoncfg.Authorization{Type: "Bearer", CredentialsFile: o.tokenFile}
	}
	if err := hc.Validate(); err != nil {
		return nil, fmt.Errorf("prometheus client settings: %w", err)
	}
	rt, err := commoncfg.NewRoundTripperFromConfig(hc, "vigil-adapter")
	if err != nil {
		return nil, fmt.Errorf("prometheus client: %w", err)
	}
	c, err := adapter.NewPromClient(o.promURL, rt)
	if err != nil {
		return nil, fmt.Errorf("--prometheus-url: %w", err)
	}
	return c, nil
}
