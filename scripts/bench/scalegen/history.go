package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	ustorage "github.com/prometheus/prometheus/storage"
	upstream "github.com/prometheus/prometheus/tsdb"

	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// history writes the node_exporter-like series of enough targets to make `series` series, one
// sample every `interval` over `span` ending at `end`, into every sink given: a Prometheus 3.15
// TSDB (upstream tsdb package, as the server writes it: head, WAL, blocks, compaction), a Vigil
// TSDB (the same through Vigil's tsdb), and VictoriaMetrics' import API. Jobs cycle over three
// names so that `sum by (job)` has several groups; nodes have 64 cpus, so that
// node_cpu_seconds_total holds about 80 % of the series. The newest part stays in the heads (WAL), as in
// a running server.
func history(series int, interval, span time.Duration, end time.Time, promDir, vigilDir, vmURL string) error {
	var targets []*target
	total := 0
	for i := 0; total < series; i++ {
		// 64-cpu nodes: node_cpu_seconds_total is most of the series, the `x` of the range query.
		t := &target{idx: i, cpus: 64, node: fmt.Sprintf("ip-10-0-%d-%d.eu-west-1.compute.internal", i/250, i%250)}
		t.rnd = newRand(i)
		t.addNode()
		if rest := series - total; len(t.series) > rest {
			t.series = t.series[:rest]
		}
		total += len(t.series)
		targets = append(targets, t)
	}
	var lsets []labels.Labels
	var prefixes []string // VictoriaMetrics lines: name{labels,instance,job}
	for _, t := range targets {
		inst := fmt.Sprintf("10.0.%d.%d:9100", t.idx/250, t.idx%250)
		job := []string{"node", "node-gpu", "node-edge"}[t.idx%3]
		for _, s := range t.series {
			ls, err := parseSeries(s.prefix)
			if err != nil {
				return err
			}
			b := labels.NewBuilder(ls)
			b.Set("instance", inst)
			b.Set("job", job)
			ls = b.Labels()
			lsets = append(lsets, ls)
			prefixes = append(prefixes, textOf(ls)+" ")
		}
	}
	step := interval.Milliseconds()
	t1 := end.UnixMilli() / step * step
	t0 := t1 - span.Milliseconds()
	steps := int(span / interval)
	log.Printf("history: %d series (%d targets), %d samples each, %s .. %s", len(lsets), len(targets), steps,
		time.UnixMilli(t0).UTC().Format(time.RFC3339), time.UnixMilli(t1).UTC().Format(time.RFC3339))

	type appendFn func(refs []uint64, t int64, v []float64) error
	var sinks []appendFn
	var closers []func() error
	if promDir != "" {
		opts := upstream.DefaultOptions()
		opts.RetentionDuration = 30 * 24 * time.Hour.Milliseconds()
		opts.MaxBlockDuration = opts.RetentionDuration / 10 // as the server derives it from --storage.tsdb.retention.time=30d
		db, err := upstream.Open(promDir, slog.New(slog.DiscardHandler), nil, opts, nil)
		if err != nil {
			return fmt.Errorf("opening Prometheus TSDB %s: %w", promDir, err)
		}
		sinks = append(sinks, func(refs []uint64, t int64, v []float64) error {
			app := db.Appender(context.Background())
			for i, ls := range lsets {
				ref, err := app.Append(ustorage.SeriesRef(refs[i]), ls, t, v[i])
				if err != nil {
					app.Rollback()
					return fmt.Errorf("prometheus append: %w", err)
				}
				refs[i] = uint64(ref)
			}
			return app.Commit()
		})
		closers = append(closers, func() error {
			if err := db.Compact(context.Background()); err != nil {
				return fmt.Errorf("prometheus compact: %w", err)
			}
			return db.Close()
		})
	}
	if vigilDir != "" {
		db, err := tsdb.Open(vigilDir, &tsdb.Options{MinBlockDuration: 2 * time.Hour.Milliseconds(), MaxBlockDuration: 3 * 24 * time.Hour.Milliseconds()}, nil, nil)
		if err != nil {
			return fmt.Errorf("opening Vigil TSDB %s: %w", vigilDir, err)
		}
		sinks = append(sinks, func(refs []uint64, t int64, v []float64) error {
			app := db.Appender(context.Background())
			for i, ls := range lsets {
				ref, err := app.Append(storage.SeriesRef(refs[i]), ls, t, v[i])
				if err != nil {
					app.Rollback()
					return fmt.Errorf("vigil append: %w", err)
				}
				refs[i] = uint64(ref)
			}
			return app.Commit()
		})
		closers = append(closers, func() error {
			if err := db.Compact(); err != nil {
				return fmt.Errorf("vigil compact: %w", err)
			}
			return db.Close()
		})
	}
	if vmURL != "" {
		var buf bytes.Buffer
		flush := func() error {
			if buf.Len() == 0 {
				return nil
			}
			resp, err := http.Post(vmURL+"/api/v1/import/prometheus", "text/plain", &buf)
			if err != nil {
				return fmt.Errorf("victoriametrics import: %w", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				return fmt.Errorf("victoriametrics import: %s: %s", resp.Status, body)
			}
			buf.Reset()
			return nil
		}
		sinks = append(sinks, func(_ []uint64, t int64, v []float64) error {
			var num []byte
			for i, p := range prefixes {
				buf.WriteString(p)
				num = strconv.AppendFloat(num[:0], v[i], 'g', -1, 64)
				num = append(num, ' ')
				num = strconv.AppendInt(num, t, 10)
				num = append(num, '\n')
				buf.Write(num)
			}
			if buf.Len() > 16<<20 {
				return flush()
			}
			return nil
		})
		closers = append(closers, flush)
	}
	refs := make([][]uint64, len(sinks))
	for i := range refs {
		refs[i] = make([]uint64, len(lsets))
	}
	vals := make([]float64, len(lsets))
	start := time.Now()
	for k := 0; k < steps; k++ {
		i := 0
		for _, t := range targets {
			t.step()
			for _, s := range t.series {
				vals[i] = s.v
				i++
			}
		}
		ts := t0 + int64(k+1)*step
		for j, sink := range sinks {
			if err := sink(refs[j], ts, vals); err != nil {
				return err
			}
		}
		if k%(steps/20+1) == 0 {
			log.Printf("history: %d/%d steps (%s)", k, steps, time.Since(start).Round(time.Second))
		}
	}
	for _, c := range closers {
		if err := c(); err != nil {
			return err
		}
	}
	log.Printf("history: %d samples per sink in %s", steps*len(lsets), time.Since(start).Round(time.Second))
	return nil
}

// parseSeries reads the `name{k="v",...} ` prefixes this generator writes (no escapes in values).
func parseSeries(prefix string) (labels.Labels, error) {
	p := strings.TrimSpace(prefix)
	open := strings.IndexByte(p, '{')
	if open < 0 || !strings.HasSuffix(p, "}") {
		return labels.EmptyLabels(), fmt.Errorf("series %q: no label set", p)
	}
	b := labels.NewScratchBuilder(8)
	b.Add(labels.MetricName, p[:open])
	rest := p[open+1 : len(p)-1]
	for rest != "" {
		eq := strings.Index(rest, `="`)
		if eq < 0 {
			return labels.EmptyLabels(), fmt.Errorf("series %q: bad label at %q", p, rest)
		}
		end := strings.IndexByte(rest[eq+2:], '"')
		if end < 0 {
			return labels.EmptyLabels(), fmt.Errorf("series %q: unterminated value", p)
		}
		b.Add(rest[:eq], rest[eq+2:eq+2+end])
		rest = strings.TrimPrefix(rest[eq+2+end+1:], ",")
	}
	b.Sort()
	return b.Labels(), nil
}

// textOf renders a label set as the text exposition format's `name{k="v",...}`.
func textOf(ls labels.Labels) string {
	var sb strings.Builder
	sb.WriteString(ls.Get(labels.MetricName))
	sb.WriteByte('{')
	first := true
	ls.Range(func(l labels.Label) {
		if l.Name == labels.MetricName {
			return
		}
		if !first {
			sb.WriteByte(',')
		}
		first = false
		sb.WriteString(l.Name)
		sb.WriteString(`="`)
		sb.WriteString(l.Value)
		sb.WriteByte('"')
	})
	sb.WriteByte('}')
	return sb.String()
}
