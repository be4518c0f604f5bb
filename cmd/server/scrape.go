package main

// Scrape wiring: --config.file and the scrape manager.

import (
	"log/slog"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/discovery"
	"github.com/vigil-monitoring/vigil/discovery/kubernetes"
	"github.com/vigil-monitoring/vigil/scrape"
	"github.com/vigil-monitoring/vigil/storage"
)

type scrapeFlags struct {
	configFile string
}

func registerScrapeFlags(app *kingpin.Application) *scrapeFlags {
	var f scrapeFlags
	app.Flag("config.file", "Vigil configuration file path (prometheus.yml). Without it an embedded configuration that scrapes Vigil itself on localhost:9090 is used.").StringVar(&f.configFile)
	return &f
}

// scrapeRuntime is what the rest of the server uses of scraping: the manager (targets and
// metadata for the API) and prometheus.yml in the reload coordinator (to add subsystems and
// serve the current config).
type scrapeRuntime struct {
	Manager  *scrape.Manager
	Reloader *reloader
}

// Stop ends scraping (without stale markers: a restart continues).
func (s *scrapeRuntime) Stop() {
	s.Manager.Stop()
}

// setupScrape starts scraping into app with the configuration of rl (--config.file or the
// embedded default), which it loads: a configuration that does not load at startup is an
// error, Vigil does not start with nothing to do. Later reloads come from the reload
// coordinator (SIGHUP, /-/reload).
func setupScrape(rl *reloader, app storage.Appendable, reg prometheus.Registerer, logger *slog.Logger, jobDiscoverer func(string) discovery.Discoverer, extra ...func(*scrape.Options)) (*scrapeRuntime, error) {
	reg.MustRegister(kubernetes.Collectors()...)
	reg.MustRegister(discovery.RefreshCollectors()...)
	scrape.UserAgent = "Vigil/" + version
	discovery.UserAgent = "Vigil/" + version
	kubernetes.UserAgent = "Vigil/" + version
	opts := &scrape.Options{JobDiscoverer: jobDiscoverer}
	for _, f := range extra {
		f(opts)
	}
	m := scrape.NewManager(opts, logger.With("component", "scrape"), app, reg)
	// What can reject a file that loads is checked before anything applies it (and by
	// `vigil check config`).
	rl.Check("config", validateConfig)
	rl.Add("scrape", m.ApplyConfig)
	if err := rl.Reload(); err != nil {
		m.Stop()
		return nil, err
	}
	return &scrapeRuntime{Manager: m, Reloader: rl}, nil
}
