// Command vigil-adapter serves the Kubernetes custom and external metrics APIs from PromQL, so
// HorizontalPodAutoscalers can scale on metrics held by Vigil or any Prometheus-compatible
// server. It reads prometheus-adapter configuration files unchanged.
package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"k8s.io/apimachinery/pkg/api/resource"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/metadata"
	"k8s.io/component-base/logs"
	"k8s.io/klog/v2"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/apiserver"
	basecmd "sigs.k8s.io/custom-metrics-apiserver/pkg/cmd"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/dynamicmapper"

	"github.com/vigil-monitoring/vigil/adapter"
)

type options struct {
	promURL        string
	tokenFile      string
	caFile         string
	certFile       string
	keyFile        string
	insecureTLS    bool
	configFile     string
	relistInterval time.Duration
	maxAge         time.Duration
	missInterval   time.Duration
	queryTimeout   time.Duration
	configPoll     time.Duration
	relistTimeout  time.Duration
	memoryLimit    string
	cachePods      bool
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
	cmd := &basecmd.AdapterBase{Name: "vigil-adapter"}
	var o options
	fs := cmd.Flags()
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
	fs.StringVar(&o.memoryLimit, "go-memory-limit", "48Mi", "soft limit for the Go runtime (GC works harder near it instead of growing the heap); 0 disables; the GOMEMLIMIT environment variable takes precedence")
	fs.BoolVar(&o.cachePods, "cache-pods", true, "keep pod names and labels in a watch-based cache for Pods metrics instead of listing pods on every request (needs watch on pods)")
	logs.AddFlags(fs)
	if err := fs.Parse(os.Args); err != nil {
		return fmt.Errorf("parsing flags: %w", err)
	}
	// client-go's default of 5 requests/s (burst 10) would throttle the object listing behind
	// Pods metrics as soon as a few HPAs are polled together (measured in make e2e: every
	// request waited ~200 ms); raise the defaults unless the user set them.
	if !fs.Changed("client-qps") {
		cmd.ClientQPS = 100
	}
	if !fs.Changed("client-burst") {
		cmd.ClientBurst = 200
	}
	// AdapterBase builds a refreshing mapper but nothing starts its refresh; without a period
	// custom resources installed after start-up would never map.
	if !fs.Changed("discovery-interval") {
		cmd.DiscoveryInterval = 5 * time.Minute
	}
	if o.relistInterval <= 0 || o.maxAge <= 0 {
		return errors.New("--metrics-relist-interval and --metrics-max-age must be positive")
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
	mapper, err := cmd.RESTMapper()
	if err != nil {
		return fmt.Errorf("building the discovery REST mapper: %w", err)
	}
	clientCfg, err := cmd.ClientConfig()
	if err != nil {
		return err
	}
	meta, err := metadata.NewForConfig(clientCfg)
	if err != nil {
		return fmt.Errorf("building the metadata client: %w", err)
	}

	ctx := genericapiserver.SetupSignalContext()
	adapter.RegisterMetrics()
	d := &adapter.Discoverer{API: promAPI, Mapper: mapper, MaxAge: o.maxAge, MissInterval: o.missInterval, Timeout: o.relistTimeout}
	if rm, ok := mapper.(*dynamicmapper.RegeneratingDiscoveryRESTMapper); ok {
		if cmd.DiscoveryInterval > 0 {
			rm.RunUntil(ctx.Done())
		}
		d.RefreshMapper, d.MapperMissInterval = rm.RegenerateMappings, 10*time.Second
	}
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
	// OpenAPI without the core/v1 schemas the library's defaults carry (see OpenAPIDefinitions).
	cmd.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(adapter.OpenAPIDefinitions, openapinamer.NewDefinitionNamer(apiserver.Scheme))
	cmd.OpenAPIConfig.Info.Title, cmd.OpenAPIConfig.Info.Version = cmd.Name, "1.0.0"
	cmd.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(adapter.OpenAPIDefinitions, openapinamer.NewDefinitionNamer(apiserver.Scheme))
	cmd.OpenAPIV3Config.Info.Title, cmd.OpenAPIV3Config.Info.Version = cmd.Name, "1.0.0"
	cmd.WithCustomMetrics(p)
	cmd.WithExternalMetrics(p)
	cfg, err := cmd.Config()
	if err != nil {
		return err
	}
	// Discovery listings of the metrics APIs are streamed from the registry (ListingHandler),
	// behind the same authentication and authorization filters as every other path.
	cfg.GenericConfig.BuildHandlerChainFunc = func(h http.Handler, c *genericapiserver.Config) http.Handler {
		return genericapiserver.DefaultBuildHandlerChain(p.ListingHandler(h), c)
	}
	klog.InfoS("starting vigil-adapter", "prometheus", o.promURL, "config", reloader.Path)
	return cmd.Run(ctx)
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
