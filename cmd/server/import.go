package main

// `vigil tsdb import prometheus|openmetrics`: bring a Prometheus data directory (or snapshot) or
// an OpenMetrics file into a Vigil data directory (tsdb/importer).

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/vigil-monitoring/vigil/tsdb/importer"
)

// importMemoryLimit is the Go heap's soft limit during an import, unless GOMEMLIMIT is set.
const importMemoryLimit = 768 << 20

type importCommands struct {
	run func(ctx context.Context, cmd string, stdout, stderr io.Writer) (code int, ok bool)
}

// registerImportCommands adds `tsdb import prometheus` and `tsdb import openmetrics` to app.
// The destination is the application's --storage.tsdb.path (dst), as for the server; nil
// registers that flag on app.
func registerImportCommands(app *kingpin.Application, dst *string) importCommands {
	if dst == nil {
		dst = app.Flag("storage.tsdb.path", "Vigil data directory to import into (created if missing).").Default("data/").String()
	}
	tsdbCmd := app.Command("tsdb", "Run tsdb commands.")
	imp := tsdbCmd.Command("import", "Import data into a Vigil data directory as blocks (see docs/import.md).")

	prom := imp.Command("prometheus", "Import the blocks (and with --include-wal the WAL) of a Prometheus data directory or admin-API snapshot. Resumable: a re-run skips what was imported.")
	promSrc := prom.Arg("source", "Prometheus data directory, or a snapshot (<data>/snapshots/<name>).").Required().ExistingDir()
	promWAL := prom.Flag("include-wal", "Also import the WAL: the newest samples, not yet in a block. Stop Prometheus first.").Bool()
	promSkipH := prom.Flag("skip-native-histograms", "Leave native histogram samples out (they are imported by default).").Bool()
	promQuiet := prom.Flag("quiet", "Do not print progress.").Short('q').Bool()

	om := imp.Command("openmetrics", "Import samples from an OpenMetrics file, as `promtool tsdb create-blocks-from openmetrics`.")
	omFile := om.Arg("input file", "OpenMetrics file to read samples from.").Required().String()
	omOut := om.Arg("output directory", "Vigil data directory to import into (the same as --storage.tsdb.path).").String()
	omMax := om.Flag("max-block-duration", "Maximum duration created blocks may span. Anything less than 2h is ignored.").PlaceHolder("<duration>").Duration()
	omLabels := om.Flag("label", "Label to attach to metrics. Can be specified multiple times. Example --label=label_name=label_value").StringMap()
	omQuiet := om.Flag("quiet", "Do not print progress and created blocks.").Short('q').Bool()

	return importCommands{run: func(ctx context.Context, cmd string, stdout, stderr io.Writer) (int, bool) {
		logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		out := stdout
		switch cmd {
		case prom.FullCommand():
			if *promQuiet {
				out = nil
			}
			sum, err := importer.ImportPrometheus(ctx, *promSrc, *dst, importer.PrometheusOptions{
				IncludeWAL: *promWAL, SkipNativeHistograms: *promSkipH, Out: out, Logger: logger,
			})
			return reportImport(stdout, stderr, sum, err), true
		case om.FullCommand():
			if *omQuiet {
				out = nil
			}
			d := *dst
			if *omOut != "" {
				d = *omOut
			}
			sum, err := importer.ImportOpenMetricsFile(ctx, *omFile, d, importer.OpenMetricsOptions{
				MaxBlockDuration: *omMax, Labels: *omLabels, Out: out, Logger: logger,
			})
			return reportImport(stdout, stderr, sum, err), true
		}
		return 0, false
	}}
}

func reportImport(stdout, stderr io.Writer, sum *importer.Summary, err error) int {
	if sum != nil {
		fmt.Fprintf(stdout, "imported %d blocks (%d series, %d samples), skipped %d", sum.Blocks, sum.Series, sum.Samples, sum.SkippedBlocks)
		if sum.HistogramSamplesSkipped > 0 {
			fmt.Fprintf(stdout, ", left out %d native histogram samples", sum.HistogramSamplesSkipped)
		}
		if sum.Blocks > 0 {
			fmt.Fprintf(stdout, "; data from %s to %s", time.UnixMilli(sum.MinTime).UTC().Format(time.RFC3339), time.UnixMilli(sum.MaxTime).UTC().Format(time.RFC3339))
		}
		if sum.Duration > 0 {
			fmt.Fprintf(stdout, " in %s", sum.Duration.Round(time.Millisecond))
		}
		fmt.Fprintln(stdout)
		if sum.Blocks > 0 && err == nil {
			fmt.Fprintln(stdout, "note: the server deletes blocks older than --storage.tsdb.retention.time (default 15d) at start; set it to cover the imported range")
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "vigil: import failed: %v\n", err)
		if sum != nil && sum.Blocks > 0 {
			fmt.Fprintln(stderr, "vigil: the blocks imported before the failure are kept; a re-run skips them")
		}
		return 1
	}
	return 0
}

// runImportCommand runs `vigil tsdb import …` when args name it.
func runImportCommand(args []string, stdout, stderr io.Writer) (bool, int) {
	if len(args) == 0 || args[0] != "tsdb" {
		return false, 0
	}
	app := kingpin.New("vigil", "Import data into a Vigil data directory.")
	app.Terminate(nil)
	app.ErrorWriter(stderr)
	app.UsageWriter(stderr)
	cmds := registerImportCommands(app, nil)
	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "vigil: %v\n", err)
		return true, 2
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// The import's working set is bounded by design (see docs/import.md); a soft limit
		// keeps the garbage collector from letting the heap grow to twice that.
		debug.SetMemoryLimit(importMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if code, ok := cmds.run(ctx, cmd, stdout, stderr); ok {
		return true, code
	}
	// `vigil tsdb` or `vigil tsdb import` without a subcommand: kingpin printed the usage.
	return true, 2
}
