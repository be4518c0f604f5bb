package main

// The configuration file's runtime block (Prometheus's): the Go GC target and the log level,
// applied at start — before the TSDB replays its WAL — and on every reload.

import (
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/internal/residency"
)

type runtimeSettings struct {
	level     *slog.LevelVar // nil: the log level is fixed (tests)
	flagLevel string         // --log.level, used when the file sets no log_level
	logger    *slog.Logger
}

func (r *runtimeSettings) apply(cfg *config.Config) error {
	if old := debug.SetGCPercent(cfg.Runtime.GoGC); old != cfg.Runtime.GoGC {
		r.logger.Info("Updated GOGC", "old", old, "new", cfg.Runtime.GoGC)
	}
	if r.level == nil {
		return nil
	}
	name := r.flagLevel
	if cfg.Runtime.LogLevel != "" {
		name = cfg.Runtime.LogLevel
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(name)); err != nil {
		return fmt.Errorf("runtime log level: %w", err)
	}
	r.level.Set(l)
	return nil
}

// applyEarly applies the runtime block of the configuration file before anything else loads.
// A file that does not load is reported by the first real reload, so it is ignored here.
func (r *runtimeSettings) applyEarly(file string) {
	cfg, err := config.Default()
	if file != "" {
		cfg, err = config.LoadFile(file)
	}
	if err == nil {
		_ = r.apply(cfg)
	}
}

// releaseStartupPages drops the executable's pages that start-up faulted in from the resident
// set (internal/residency); the pages the server keeps using come back as minor faults.
func releaseStartupPages(logger *slog.Logger) {
	n, err := residency.Release()
	if err != nil {
		logger.Debug("Could not release start-up pages", "err", err)
		return
	}
	logger.Debug("Released start-up pages of the executable", "bytes", n)
}
