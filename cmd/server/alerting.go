package main

// Alert routing wiring: flags, the router, the Alertmanager API v2 on Vigil's mux, and the
// `vigil explain alert` command.

import (
	"context"
	"encoding/json"
	"fmt"
	amconfig "github.com/prometheus/alertmanager/config"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/vigil-monitoring/vigil/routing"
	amweb "github.com/vigil-monitoring/vigil/web/alertmanager"
)

type alertingFlags struct {
	configFile         string
	retention          model.Duration
	clusterListen      string
	clusterAdvertise   string
	clusterPeers       []string
	clusterPeerTimeout model.Duration
	clusterGossip      model.Duration
	clusterPushPull    model.Duration
	clusterSettle      model.Duration
	maxSilences        int
	maxSilenceSize     int
}

// registerAlertingFlags adds the alerting flags. Names are Alertmanager's where the meaning is
// the same; clustering is off unless --cluster.listen-address is given (Alertmanager turns it
// on by default, which would open a gossip port on every single Vigil).
func registerAlertingFlags(app *kingpin.Application) *alertingFlags {
	var f alertingFlags
	app.Flag("alertmanager.config.file", "Alertmanager configuration file (alertmanager.yml). An embedded default that delivers nowhere is used when absent.").StringVar(&f.configFile)
	app.Flag("alertmanager.data-retention", "How long to keep silences and notification log entries after they expire.").Default("120h").SetValue(&f.retention)
	app.Flag("silences.max-silences", "Maximum number of silences, including expired silences. If negative or zero, no limit is set.").Default("0").IntVar(&f.maxSilences)
	app.Flag("silences.max-silence-size-bytes", "Maximum silence size in bytes. If negative or zero, no limit is set.").Default("0").IntVar(&f.maxSilenceSize)
	app.Flag("cluster.listen-address", "Listen address for HA gossip of silences and the notification log (e.g. 0.0.0.0:9094). Empty disables clustering.").Default("").StringVar(&f.clusterListen)
	app.Flag("cluster.advertise-address", "Explicit address to advertise in the cluster.").StringVar(&f.clusterAdvertise)
	app.Flag("cluster.peer", "Initial peers (may be repeated).").StringsVar(&f.clusterPeers)
	app.Flag("cluster.peer-timeout", "Time to wait between peers to send notifications.").Default("15s").SetValue(&f.clusterPeerTimeout)
	app.Flag("cluster.gossip-interval", "Interval between sending gossip messages.").Default("200ms").SetValue(&f.clusterGossip)
	app.Flag("cluster.pushpull-interval", "Interval for gossip state syncs.").Default("1m").SetValue(&f.clusterPushPull)
	app.Flag("cluster.settle-timeout", "Maximum time to wait for cluster connections to settle before evaluating notifications.").Default("1m").SetValue(&f.clusterSettle)
	return &f
}

// setupAlerting builds the router (state under <storage>/alertmanager) and mounts the
// Alertmanager API v2 on mux. The caller stops the router on shutdown (final snapshots) and
// calls its Reload on SIGHUP and /-/reload. externalURL is --web.external-url, for the links
// in notifications.
func setupAlerting(f *alertingFlags, storageDir string, externalURL *url.URL, mux *http.ServeMux, reg prometheus.Registerer, logger *slog.Logger, amend func(*amconfig.Config) (*amconfig.Config, error)) (*routing.Router, error) {
	if f == nil {
		f = &alertingFlags{retention: model.Duration(routing.DefaultRetention)}
	}
	r, err := routing.New(routing.Options{
		ConfigFile:          f.configFile,
		DataDir:             filepath.Join(storageDir, "alertmanager"),
		Retention:           time.Duration(f.retention),
		MaxSilences:         f.maxSilences,
		MaxSilenceSizeBytes: f.maxSilenceSize,
		ExternalURL:         externalURL,
		Cluster: routing.ClusterOptions{
			ListenAddress:    f.clusterListen,
			AdvertiseAddress: f.clusterAdvertise,
			Peers:            f.clusterPeers,
			PeerTimeout:      time.Duration(f.clusterPeerTimeout),
			GossipInterval:   time.Duration(f.clusterGossip),
			PushPullInterval: time.Duration(f.clusterPushPull),
			SettleTimeout:    time.Duration(f.clusterSettle),
		},
		Logger:     logger, // each part adds its own component
		Registerer: reg,
		Amend:      amend,
	})
	if err != nil {
		return nil, fmt.Errorf("alerting: %w", err)
	}
	h, err := amweb.New(r, logger, reg)
	if err != nil {
		r.Stop()
		return nil, fmt.Errorf("alerting: %w", err)
	}
	mux.Handle("/api/v2/", h)
	return r, nil
}

// runAlertingCommand runs `vigil explain alert [--url=URL] label=value ...` if args name it,
// and reports whether it did. It asks a running Vigil's explain endpoint, so it works against
// the instance that actually routes the alerts.
func runAlertingCommand(args []string, stdout, stderr io.Writer) (bool, int) {
	if len(args) == 0 || args[0] != "explain" {
		return false, 0
	}
	app := kingpin.New("vigil", "Explain why an alert was (not) notified.")
	app.Terminate(nil)
	app.ErrorWriter(stderr)
	app.UsageWriter(stderr)
	run := registerExplainCommand(app)
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(stderr, "vigil explain: %v\n", err)
		return true, 2
	}
	return true, run(stdout, stderr)
}

// registerExplainCommand adds `explain alert` to app; run runs it once app parsed it.
func registerExplainCommand(app *kingpin.Application) (run func(stdout, stderr io.Writer) int) {
	explain := app.Command("explain", "Explain why an alert was (not) notified.")
	cmd := explain.Command("alert", "Show routes, group key, silences, inhibitions and last notification for a label set.")
	base := cmd.Flag("url", "URL of the Vigil server.").Default("http://localhost:9090").String()
	asJSON := cmd.Flag("json", "Print the raw JSON answer.").Bool()
	pairs := cmd.Arg("labels", "label=value pairs").Required().Strings()
	return func(stdout, stderr io.Writer) int {
		lset := model.LabelSet{}
		for _, p := range *pairs {
			k, v, ok := strings.Cut(p, "=")
			if !ok || k == "" {
				fmt.Fprintf(stderr, "vigil explain: %q is not label=value\n", p)
				return 2
			}
			lset[model.LabelName(k)] = model.LabelValue(strings.Trim(v, `"`))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ex, err := amweb.FetchExplanation(ctx, http.DefaultClient, *base, lset)
		if err != nil {
			fmt.Fprintf(stderr, "vigil explain: %v\n", err)
			return 1
		}
		if *asJSON {
			b, _ := json.MarshalIndent(ex, "", "  ")
			fmt.Fprintln(stdout, string(b))
			return 0
		}
		fmt.Fprintf(stdout, "Labels: %s\n", ex.Labels)
		for _, s := range ex.Summary {
			fmt.Fprintf(stdout, "- %s\n", s)
		}
		return 0
	}
}
