package operator

import (
	"log/slog"
	"reflect"
	"slices"
	"sync"

	"github.com/vigil-monitoring/vigil/config"
)

// Merger adds what the resources generate to a loaded prometheus.yml. It keeps each job's
// parsed scrape config while its text and the global defaults stay the same, so that an
// unchanged job is the same *config.ScrapeConfig and the scrape manager leaves it alone.
type Merger struct {
	mtx   sync.Mutex
	cache map[string]mergedJob
}

type mergedJob struct {
	yaml   string
	global config.GlobalConfig
	sc     *config.ScrapeConfig
}

// Merge returns a copy of cfg with the jobs and rule files of st appended. A generated job
// whose name a job of cfg already has is left out (and logged): the file wins.
func (m *Merger) Merge(cfg *config.Config, st *State, logger *slog.Logger) *config.Config {
	if st == nil || cfg == nil {
		return cfg
	}
	m.mtx.Lock()
	defer m.mtx.Unlock()
	if m.cache == nil {
		m.cache = map[string]mergedJob{}
	}
	out := *cfg
	out.ScrapeConfigs = slices.Clone(cfg.ScrapeConfigs)
	out.RuleFiles = append(slices.Clone(cfg.RuleFiles), st.RuleFiles...)
	taken := make(map[string]struct{}, len(cfg.ScrapeConfigs))
	for _, sc := range cfg.ScrapeConfigs {
		taken[sc.JobName] = struct{}{}
	}
	next := make(map[string]mergedJob, len(st.Jobs))
	for _, j := range st.Jobs {
		if _, dup := taken[j.Name]; dup {
			if logger != nil {
				logger.Warn("A scrape job of the configuration file has the name of a generated job; the file's is used", "job", j.Name)
			}
			continue
		}
		c, ok := m.cache[j.Name]
		if !ok || c.yaml != j.YAML || !reflect.DeepEqual(c.global, cfg.GlobalConfig) {
			sc, err := ParseScrapeConfig(j.YAML, cfg.GlobalConfig)
			if err != nil {
				if logger != nil {
					logger.Error("Generated scrape config does not load with the file's global settings", "job", j.Name, "err", err)
				}
				continue
			}
			c = mergedJob{yaml: j.YAML, global: cfg.GlobalConfig, sc: sc}
		}
		next[j.Name] = c
		out.ScrapeConfigs = append(out.ScrapeConfigs, c.sc)
	}
	m.cache = next
	return &out
}
