// The query page: several panels, each an expression with a table (instant) or graph (range)
// view. The URL holds every panel's state in Prometheus's g<N>.* parameters, so links can be
// shared; Prometheus's old /graph links (g0.tab=0|1) and Prometheus 3's (g0.tab=graph|table)
// both work.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { formatDuration, formatLabels, humanSeconds, parseDuration, prom, PromAnswer, prefix, Labels } from './api';
import { autoStep, defaultPanel, formatTime, PanelState, panelsToSearch, parsePanels, parseTime, RangeSeries } from './lib';
export { autoStep } from './lib';
import { PromQLEditor } from './editor';
import { Chart } from './graph';








interface QueryStats {
  timings?: { evalTotalTime?: number; execTotalTime?: number; queryPreparationTime?: number };
  samples?: { totalQueryableSamples?: number; peakSamples?: number };
}

type Result =
  | { resultType: 'vector'; result: { metric: Labels; value?: [number, string]; histogram?: [number, unknown] }[]; stats?: QueryStats }
  | { resultType: 'matrix'; result: RangeSeries[]; stats?: QueryStats }
  | { resultType: 'scalar' | 'string'; result: [number, string]; stats?: QueryStats };

interface Outcome {
  answer?: PromAnswer<Result>;
  error?: string;
  ms: number; // request time
  range?: { start: number; end: number; step: number };
  at: number;
}

export function QueryPage() {
  const [panels, setPanels] = useState<PanelState[]>(() => parsePanels(location.search));
  // The URL follows the panels (the replaced entry keeps Back useful).
  useEffect(() => {
    const s = panelsToSearch(panels);
    if (location.search !== s) history.replaceState(null, '', prefix + '/query' + s);
  }, [panels]);
  // Stable keys, so that removing a panel keeps the others' editors.
  const [ids, setIds] = useState<number[]>(() => panels.map((_, i) => i));
  const nextId = useRef(panels.length);
  const update = (i: number, p: PanelState) => setPanels((ps) => ps.map((x, j) => (j === i ? p : x)));
  const remove = (i: number) => {
    setPanels((ps) => ps.filter((_, j) => j !== i));
    setIds((xs) => xs.filter((_, j) => j !== i));
  };
  const add = () => {
    setPanels((ps) => [...ps, defaultPanel()]);
    setIds((xs) => [...xs, nextId.current++]);
  };
  return (
    <div class="query-page">
      {panels.map((p, i) => (
        <Panel key={ids[i]} index={i} state={p} onChange={(s) => update(i, s)} onRemove={panels.length > 1 ? () => remove(i) : undefined} />
      ))}
      <button class="add-panel" onClick={add}>Add panel</button>
    </div>
  );
}

function Panel(props: { index: number; state: PanelState; onChange: (s: PanelState) => void; onRemove?: () => void }) {
  const s = props.state;
  const [text, setText] = useState(s.expr);
  const [out, setOut] = useState<Outcome | null>(null);
  const [loading, setLoading] = useState(false);
  const [runs, setRuns] = useState(s.expr ? 1 : 0);
  const abort = useRef<AbortController | null>(null);
  const panelEl = useRef<HTMLDivElement>(null);
  const t0 = useRef(0);
  const set = (patch: Partial<PanelState>) => props.onChange({ ...s, ...patch });
  const execute = () => {
    if (text !== s.expr) set({ expr: text });
    setRuns((n) => n + 1);
  };
  useEffect(() => {
    if (!runs || !s.expr.trim()) return;
    abort.current?.abort();
    const ac = new AbortController();
    abort.current = ac;
    setLoading(true);
    const started = performance.now();
    t0.current = started;
    const now = Date.now();
    let req: Promise<PromAnswer<Result>>;
    let range: Outcome['range'];
    if (s.tab === 'table') {
      const params: Record<string, string> = { query: s.expr, stats: 'all' };
      params.time = String((s.moment ?? now) / 1000);
      req = prom<Result>('/api/v1/query', params, 'POST', ac.signal);
    } else {
      const end = (s.end ?? now) / 1000;
      const step = s.step ?? autoStep(s.range);
      const start = end - s.range / 1000;
      range = { start, end, step };
      req = prom<Result>('/api/v1/query_range', { query: s.expr, start: String(start), end: String(end), step: String(step), stats: 'all' }, 'POST', ac.signal);
    }
    req
      .then((answer) => {
        const ms = performance.now() - started;
        panelEl.current?.setAttribute('data-fetched-ms', String(Math.round(ms)));
        setOut({ answer, ms, range, at: now });
      })
      .catch((e) => {
        if (!ac.signal.aborted) setOut({ error: String(e.message || e), ms: performance.now() - started, at: now });
      })
      .finally(() => {
        if (!ac.signal.aborted) setLoading(false);
      });
    return () => ac.abort();
  }, [runs, s.expr, s.tab, s.range, s.end, s.moment, s.step]);

  const stats = out?.answer?.data?.stats;
  return (
    <div class="panel" ref={panelEl} data-panel={props.index}>
      <div class="expr-row">
        <PromQLEditor value={s.expr} onChange={setText} onExecute={execute} />
        <button class="primary execute" onClick={execute} disabled={loading}>{loading ? '…' : 'Execute'}</button>
        {props.onRemove && <button class="remove" title="Remove panel" onClick={props.onRemove}>✕</button>}
      </div>
      <div class="tabs">
        <button class={s.tab === 'table' ? 'tab active' : 'tab'} data-tab="table" onClick={() => set({ tab: 'table' })}>Table</button>
        <button class={s.tab === 'graph' ? 'tab active' : 'tab'} data-tab="graph" onClick={() => set({ tab: 'graph' })}>Graph</button>
        {out && (
          <span class="stats">
            Load time: {Math.round(out.ms)}ms
            {stats?.samples?.totalQueryableSamples !== undefined && <> · Samples read: {stats.samples.totalQueryableSamples.toLocaleString()}</>}
            {stats?.timings?.evalTotalTime !== undefined && <> · Eval: {humanSeconds(stats.timings.evalTotalTime)}</>}
            {out.range && <> · Resolution: {out.range.step}s</>}
            {out.answer && <> · Result series: {resultCount(out.answer.data)}</>}
          </span>
        )}
      </div>
      {s.tab === 'table' ? <TableControls s={s} set={set} /> : <GraphControls s={s} set={set} />}
      {out?.error && <div class="error">Error: {out.error}</div>}
      {out?.answer?.warnings?.map((w) => <div class="warning">Warning: {w}</div>)}
      {out?.answer?.infos?.map((w) => <div class="info">Info: {w}</div>)}
      {out?.answer && (s.tab === 'table' ? (
        <ResultTable data={out.answer.data} />
      ) : out.range && out.answer.data.resultType === 'matrix' && out.answer.data.result.length === 0 ? (
        <div class="empty">Empty query result</div>
      ) : out.range && out.answer.data.resultType === 'matrix' ? (
        <Chart
          series={out.answer.data.result}
          start={out.range.start}
          end={out.range.end}
          step={out.range.step}
          stacked={s.stacked}
          onZoom={(a, b) => set({ end: Math.round(b * 1000), range: Math.max(1000, Math.round((b - a) * 1000)) })}
          onDrawn={() => {
            // For the browser suite: request start to chart drawn, in ms.
            const el = panelEl.current;
            if (el) el.setAttribute('data-drawn-ms', String(Math.round(performance.now() - t0.current)));
          }}
        />
      ) : out.answer.data.resultType !== 'matrix' ? (
        <div class="info">The graph needs a range query; this expression gives a {out.answer.data.resultType}.</div>
      ) : null)}
    </div>
  );
}

function resultCount(d: Result): number {
  return d.resultType === 'vector' || d.resultType === 'matrix' ? d.result.length : 1;
}

function TableControls({ s, set }: { s: PanelState; set: (p: Partial<PanelState>) => void }) {
  const [v, setV] = useState(s.moment === null ? '' : formatTime(s.moment));
  useEffect(() => setV(s.moment === null ? '' : formatTime(s.moment)), [s.moment]);
  return (
    <div class="controls">
      <label>
        Evaluation time (UTC){' '}
        <input class="time" placeholder="now" value={v} onInput={(e) => setV(e.currentTarget.value)} onChange={(e) => set({ moment: parseTime(e.currentTarget.value) })} />
      </label>
      {s.moment !== null && <button onClick={() => set({ moment: null })}>Now</button>}
    </div>
  );
}

const ranges = [60e3, 300e3, 900e3, 1800e3, 3600e3, 3 * 3600e3, 6 * 3600e3, 12 * 3600e3, 864e5, 2 * 864e5, 7 * 864e5, 14 * 864e5, 28 * 864e5];

function GraphControls({ s, set }: { s: PanelState; set: (p: Partial<PanelState>) => void }) {
  const [r, setR] = useState(formatDuration(s.range));
  const [e, setE] = useState(s.end === null ? '' : formatTime(s.end));
  const [st, setSt] = useState(s.step === null ? '' : String(s.step));
  useEffect(() => setR(formatDuration(s.range)), [s.range]);
  useEffect(() => setE(s.end === null ? '' : formatTime(s.end)), [s.end]);
  useEffect(() => setSt(s.step === null ? '' : String(s.step)), [s.step]);
  const shiftRange = (dir: number) => {
    const i = ranges.findIndex((x) => x >= s.range);
    const j = Math.min(ranges.length - 1, Math.max(0, (i < 0 ? ranges.length - 1 : i) + dir));
    set({ range: ranges[j] });
  };
  const shiftEnd = (dir: number) => set({ end: (s.end ?? Date.now()) + (dir * s.range) / 2 });
  return (
    <div class="controls">
      <button title="Shorter range" onClick={() => shiftRange(-1)}>−</button>
      <input class="range" title="Range" value={r} onInput={(ev) => setR(ev.currentTarget.value)} onChange={(ev) => { const d = parseDuration(ev.currentTarget.value); if (d) set({ range: d }); }} />
      <button title="Longer range" onClick={() => shiftRange(1)}>+</button>
      <button title="Earlier" onClick={() => shiftEnd(-1)}>◀</button>
      <input class="time" title="End time (UTC)" placeholder="end: now" value={e} onInput={(ev) => setE(ev.currentTarget.value)} onChange={(ev) => set({ end: parseTime(ev.currentTarget.value) })} />
      <button title="Later" onClick={() => shiftEnd(1)}>▶</button>
      {s.end !== null && <button onClick={() => set({ end: null })}>Now</button>}
      <input class="step" title="Resolution (step, seconds)" placeholder={`res: ${autoStep(s.range)}s`} value={st} onInput={(ev) => setSt(ev.currentTarget.value)} onChange={(ev) => { const d = parseDuration(ev.currentTarget.value); set({ step: d ? d / 1000 : null }); }} />
      <label><input type="checkbox" checked={s.stacked} onChange={(ev) => set({ stacked: ev.currentTarget.checked })} /> Stacked</label>
    </div>
  );
}

const maxRows = 10000;

function ResultTable({ data }: { data: Result }) {
  const rows = useMemo(() => {
    switch (data.resultType) {
      case 'vector':
        return data.result.map((r) => [formatLabels(r.metric), r.value ? r.value[1] : JSON.stringify(r.histogram?.[1])]);
      case 'matrix':
        return data.result.map((r) => [
          formatLabels(r.metric),
          (r.values || []).map(([t, v]) => `${v} @${t}`).join('\n') + (r.histograms?.length ? `\n(${r.histograms.length} histogram samples)` : ''),
        ]);
      case 'scalar':
        return [['scalar', data.result[1]]];
      case 'string':
        return [['string', data.result[1]]];
    }
  }, [data]);
  if (!rows.length) return <div class="empty">Empty query result</div>;
  return (
    <div>
      {rows.length > maxRows && <div class="warning">Showing {maxRows} of {rows.length} series.</div>}
      <table class="result data">
        <tbody>
          {rows.slice(0, maxRows).map(([l, v]) => (
            <tr>
              <td class="labels">{l}</td>
              <td class="value">{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
