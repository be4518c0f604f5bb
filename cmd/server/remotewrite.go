package main

// Remote write out (package remote/write): the queues of prometheus.yml's remote_write, their
// flag and their status endpoint.

import (
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	remotewrite "github.com/vigil-monitoring/vigil/remote/write"
	"github.com/vigil-monitoring/vigil/scrape"
	"github.com/vigil-monitoring/vigil/tsdb"
)

type remoteWriteFlags struct {
	flushDeadline model.Duration
}

func registerRemoteWriteFlags(app *kingpin.Application) *remoteWriteFlags {
	var f remoteWriteFlags
	app.Flag("storage.remote.flush-deadline", "How long to wait flushing sample on shutdown or config reload.").Default("1m").SetValue(&f.flushDeadline)
	return &f
}

// setupRemoteWrite makes the remote-write manager (its queues start with the configuration) and
// serves /api/v1/status/remote_write. scrapeManager is set once scraping runs; until then the
// queues have no metadata to send.
func setupRemoteWrite(f *remoteWriteFlags, db *tsdb.DB, scrapeManager *atomic.Pointer[scrape.Manager], mux *http.ServeMux, reg prometheus.Registerer, logger *slog.Logger) *remotewrite.Manager {
	remotewrite.UserAgent = "Vigil/" + version
	m := remotewrite.NewManager(remotewrite.Options{
		WAL:           db.WAL(),
		DataDir:       db.Dir(),
		Storage:       db.Head(),
		FlushDeadline: time.Duration(f.flushDeadline),
		Logger:        logger.With("component", "remote"),
		Registerer:    reg,
		Metadata: func() []remotewrite.Metadata {
			sm := scrapeManager.Load()
			if sm == nil {
				return nil
			}
			var res []remotewrite.Metadata
			for _, mds := range sm.Metadata("", 1) {
				for _, md := range mds {
					res = append(res, remotewrite.Metadata{MetricFamily: md.MetricFamily, Type: md.Type, Help: md.Help, Unit: md.Unit})
				}
			}
			return res
		},
	})
	mux.Handle("GET /api/v1/status/remote_write", m.StatusHandler())
	return m
}
