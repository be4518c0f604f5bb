package main

import (
	"log/slog"
	"runtime/debug"
	"testing"

	"github.com/vigil-monitoring/vigil/config"
)

// TestRuntimeSettings: the runtime block sets the GC target and overrides --log.level; a
// reload without log_level returns to the flag's level.
func TestRuntimeSettings(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	lv := new(slog.LevelVar)
	rs := &runtimeSettings{level: lv, flagLevel: "warn", logger: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		yml       string
		wantGC    int
		wantLevel slog.Level
	}{
		{"runtime:\n  gogc: 42\n  log_level: debug\n", 42, slog.LevelDebug},
		{"global: {}\n", config.DefaultGoGC, slog.LevelWarn},
		{"runtime:\n  log_level: error\n", config.DefaultGoGC, slog.LevelError},
	} {
		t.Setenv("GOGC", "")
		cfg, err := config.Load(tc.yml)
		if err != nil {
			t.Fatal(err)
		}
		if err := rs.apply(cfg); err != nil {
			t.Fatal(err)
		}
		if got := debug.SetGCPercent(tc.wantGC); got != tc.wantGC {
			t.Errorf("%q: GOGC = %d, want %d", tc.yml, got, tc.wantGC)
		}
		if lv.Level() != tc.wantLevel {
			t.Errorf("%q: log level = %v, want %v", tc.yml, lv.Level(), tc.wantLevel)
		}
	}
}
