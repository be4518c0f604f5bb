// Try a rule: replay an alerting rule over a past range (POST /api/v1/rules/replay) and show
// when it would have been pending and firing over a graph of its expression.
import { useState } from 'preact/hooks';
import { formatDuration, formatLabels, isoTime, Labels, parseDuration, prom } from './api';
import { Chart, RangeSeries, Band } from './graph';
import { LabelBadges } from './common';
import { autoStep } from './query';
import { ruleExpr } from './lib';

interface Interval {
  state: 'pending' | 'firing';
  start: number;
  end: number;
}
interface Replay {
  alerts: { labels: Labels; annotations: Labels; intervals: Interval[] }[];
  evaluations: number;
}

const example = `alert: HighErrorRate
expr: rate(prometheus_http_requests_total{code=~"5.."}[5m]) > 0
for: 5m
keep_firing_for: 2m
labels:
  severity: page
annotations:
  summary: "{{ $labels.handler }} answers errors"`;


export function TryRulePage() {
  const [rule, setRule] = useState(example);
  const [range, setRange] = useState('1h');
  const [end, setEnd] = useState('');
  const [step, setStep] = useState('1m');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [res, setRes] = useState<{ replay: Replay; series: RangeSeries[]; start: number; end: number; step: number; expr: string } | null>(null);
  const run = async () => {
    setError('');
    const r = parseDuration(range);
    const st = parseDuration(step);
    if (!r || !st) return setError('Range and step must be durations such as 1h and 1m.');
    const endMs = end.trim() ? Date.parse(end.includes('T') || end.includes('Z') ? end : end.replace(' ', 'T') + 'Z') : Date.now();
    if (!Number.isFinite(endMs)) return setError('End is not a time.');
    const e = Math.floor(endMs / 1000);
    const s = e - r / 1000;
    const expr = ruleExpr(rule);
    setBusy(true);
    try {
      const [replay, graph] = await Promise.all([
        prom<Replay>('/api/v1/rules/replay', { rule, start: String(s), end: String(e), step: formatDuration(st) }, 'POST'),
        expr ? prom<{ resultType: string; result: RangeSeries[] }>('/api/v1/query_range', { query: expr, start: String(s), end: String(e), step: String(Math.max(autoStep(r), 1)) }, 'POST') : Promise.resolve(null),
      ]);
      setRes({ replay: replay.data, series: graph?.data.result || [], start: s, end: e, step: Math.max(autoStep(r), 1), expr });
    } catch (err) {
      setError(String((err as Error).message));
      setRes(null);
    } finally {
      setBusy(false);
    }
  };
  const bands: Band[] = [];
  for (const a of res?.replay.alerts || []) {
    for (const iv of a.intervals) {
      bands.push({ start: iv.start, end: iv.end, label: iv.state, color: iv.state === 'firing' ? 'rgba(220, 53, 69, 0.18)' : 'rgba(255, 193, 7, 0.22)' });
    }
  }
  return (
    <div>
      <h2>Try a rule</h2>
      <p class="hint">Paste one alerting rule (as an item of a rule file's <code>rules:</code> list) and pick a past range: Vigil evaluates it over that range, with its <code>for</code> and <code>keep_firing_for</code>, and shows when it would have been pending and firing. Nothing is sent to anyone.</p>
      <textarea class="rule-yaml" rows={10} value={rule} onInput={(e) => setRule(e.currentTarget.value)} spellcheck={false} />
      <div class="controls">
        <label>Range <input class="range" value={range} onInput={(e) => setRange(e.currentTarget.value)} /></label>
        <label>End (UTC) <input class="time" placeholder="now" value={end} onInput={(e) => setEnd(e.currentTarget.value)} /></label>
        <label>Evaluation interval <input class="step" value={step} onInput={(e) => setStep(e.currentTarget.value)} /></label>
        <button class="primary replay" onClick={run} disabled={busy}>{busy ? 'Evaluating…' : 'Replay'}</button>
      </div>
      {error && <div class="error">Error: {error}</div>}
      {res && (
        <div class="replay-result">
          <p class="replay-summary">
            {res.replay.evaluations} evaluations from {isoTime(res.start * 1000)} to {isoTime(res.end * 1000)}: {res.replay.alerts.length} alert{res.replay.alerts.length === 1 ? '' : 's'} would have been active.
            {' '}<span class="legend-pending">■ pending</span> <span class="legend-firing">■ firing</span>
          </p>
          {res.expr && <Chart series={res.series} start={res.start} end={res.end} step={res.step} bands={bands} height={260} />}
          <table class="data replay-alerts">
            <thead><tr><th>Alert</th><th>Intervals</th></tr></thead>
            <tbody>
              {res.replay.alerts.map((a) => (
                <tr>
                  <td><LabelBadges labels={a.labels} />{Object.keys(a.annotations || {}).length > 0 && <div class="hint">{formatLabels(a.annotations, true)}</div>}</td>
                  <td>
                    {a.intervals.map((iv) => (
                      <div><span class={'state state-' + iv.state}>{iv.state}</span> {isoTime(iv.start * 1000)} → {isoTime(iv.end * 1000)} ({formatDuration(Math.round(iv.end - iv.start) * 1000)})</div>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
