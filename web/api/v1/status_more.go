package v1

import (
	"net/http"
	"net/url"

	"github.com/vigil-monitoring/vigil/tsdb"
)

// AlertmanagerRetriever gives the Alertmanagers alerts are sent to: those discovered and in
// use, and those dropped by relabeling (Prometheus's interface of the same name, implemented
// there by the notifier manager).
type AlertmanagerRetriever interface {
	Alertmanagers() []*url.URL
	DroppedAlertmanagers() []*url.URL
}

// alertmanagerDiscovery is /api/v1/alertmanagers.
type alertmanagerDiscovery struct {
	ActiveAlertmanagers  []alertmanagerTarget `json:"activeAlertmanagers"`
	DroppedAlertmanagers []alertmanagerTarget `json:"droppedAlertmanagers"`
}

type alertmanagerTarget struct {
	URL string `json:"url"`
}

// alertmanagers answers empty lists without a retriever, as Prometheus does without alerting
// configuration.
func (a *API) alertmanagers(*http.Request) apiResult {
	res := alertmanagerDiscovery{ActiveAlertmanagers: []alertmanagerTarget{}, DroppedAlertmanagers: []alertmanagerTarget{}}
	if am := a.opts.Alertmanagers; am != nil {
		for _, u := range am.Alertmanagers() {
			res.ActiveAlertmanagers = append(res.ActiveAlertmanagers, alertmanagerTarget{URL: u.String()})
		}
		for _, u := range am.DroppedAlertmanagers() {
			res.DroppedAlertmanagers = append(res.DroppedAlertmanagers, alertmanagerTarget{URL: u.String()})
		}
	}
	return apiResult{data: res}
}

// serveWALReplayStatus is /api/v1/status/walreplay: the segments of the replay at start.
func (a *API) serveWALReplayStatus(*http.Request) apiResult {
	if a.opts.DB == nil {
		return errResult(errorUnavailable, errNoDB)
	}
	s := a.opts.DB.WALReplayStatus()
	return apiResult{data: struct {
		Min     int `json:"min"`
		Max     int `json:"max"`
		Current int `json:"current"`
	}{s.Min, s.Max, s.Current}}
}

// blockMeta is a block's meta.json as Prometheus's /api/v1/status/tsdb/blocks writes it
// (tsdb.BlockMeta): zero counts are left out, every sample is a float sample. Vigil records
// only the ULIDs of a compacted block's parents, so a parent has no time range.
type blockMeta struct {
	ULID       string          `json:"ulid"`
	MinTime    int64           `json:"minTime"`
	MaxTime    int64           `json:"maxTime"`
	Stats      blockStats      `json:"stats,omitempty"`
	Compaction blockCompaction `json:"compaction"`
	Version    int             `json:"version"`
}

type blockStats struct {
	NumSamples      uint64 `json:"numSamples,omitempty"`
	NumFloatSamples uint64 `json:"numFloatSamples,omitempty"`
	NumSeries       uint64 `json:"numSeries,omitempty"`
	NumChunks       uint64 `json:"numChunks,omitempty"`
	NumTombstones   uint64 `json:"numTombstones,omitempty"`
}

type blockCompaction struct {
	Level   int           `json:"level"`
	Sources []string      `json:"sources,omitempty"`
	Parents []blockParent `json:"parents,omitempty"`
	Failed  bool          `json:"failed,omitempty"`
}

type blockParent struct {
	ULID string `json:"ulid"`
}

// serveTSDBBlocks is /api/v1/status/tsdb/blocks: the persisted blocks' metadata.
func (a *API) serveTSDBBlocks(*http.Request) apiResult {
	if a.opts.DB == nil {
		return errResult(errorUnavailable, errNoDB)
	}
	blocks := a.opts.DB.Blocks()
	metas := make([]blockMeta, 0, len(blocks))
	for _, b := range blocks {
		metas = append(metas, newBlockMeta(b.Meta()))
	}
	return apiResult{data: map[string][]blockMeta{"blocks": metas}}
}

func newBlockMeta(m tsdb.BlockMeta) blockMeta {
	bm := blockMeta{
		ULID:    m.ULID,
		MinTime: m.MinTime,
		MaxTime: m.MaxTime,
		Stats: blockStats{
			NumSamples:      m.Stats.NumSamples,
			NumFloatSamples: m.Stats.NumSamples,
			NumSeries:       m.Stats.NumSeries,
			NumChunks:       m.Stats.NumChunks,
			NumTombstones:   m.Stats.NumTombstones,
		},
		Compaction: blockCompaction{Level: m.Compaction.Level, Sources: m.Compaction.Sources, Failed: m.Compaction.Failed},
		Version:    m.Version,
	}
	for _, p := range m.Compaction.Parents {
		bm.Compaction.Parents = append(bm.Compaction.Parents, blockParent{ULID: p})
	}
	return bm
}
