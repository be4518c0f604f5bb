// Status pages: runtime and build information, WAL replay, TSDB status, flags, configuration.
import { useState } from 'preact/hooks';
import { prom } from './api';
import { Filter, Loading, useFetch } from './common';

function KV({ data }: { data: Record<string, unknown> }) {
  return (
    <table class="data kv">
      <tbody>
        {Object.entries(data).map(([k, v]) => (
          <tr><th>{k}</th><td>{typeof v === 'object' ? JSON.stringify(v) : String(v)}</td></tr>
        ))}
      </tbody>
    </table>
  );
}

export function StatusPage() {
  const rt = useFetch(() => prom<Record<string, unknown>>('/api/v1/status/runtimeinfo'));
  const bi = useFetch(() => prom<Record<string, unknown>>('/api/v1/status/buildinfo'));
  const wal = useFetch(() => prom<Record<string, unknown>>('/api/v1/status/walreplay'));
  return (
    <div>
      <h2>Runtime information</h2>
      <Loading loading={rt.loading && !rt.data} error={rt.error} />
      {rt.data && <KV data={rt.data.data} />}
      <h2>Build information</h2>
      <Loading loading={bi.loading && !bi.data} error={bi.error} />
      {bi.data && <KV data={bi.data.data} />}
      <h2>WAL replay</h2>
      <Loading loading={wal.loading && !wal.data} error={wal.error} />
      {wal.data && <KV data={wal.data.data} />}
    </div>
  );
}

interface TSDBStatus {
  headStats: Record<string, number>;
  seriesCountByMetricName: { name: string; value: number }[];
  labelValueCountByLabelName: { name: string; value: number }[];
  memoryInBytesByLabelName: { name: string; value: number }[];
  seriesCountByLabelValuePair: { name: string; value: number }[];
}

function Top({ title, rows }: { title: string; rows?: { name: string; value: number }[] }) {
  return (
    <div>
      <h3>{title}</h3>
      <table class="data top">
        <thead><tr><th>Name</th><th>Count</th></tr></thead>
        <tbody>{(rows || []).map((r) => <tr><td>{r.name}</td><td>{r.value.toLocaleString()}</td></tr>)}</tbody>
      </table>
    </div>
  );
}

export function TSDBStatusPage() {
  const s = useFetch(() => prom<TSDBStatus>('/api/v1/status/tsdb'));
  const d = s.data?.data;
  const hs = d?.headStats || {};
  const head: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(hs)) head[k] = /Time$/.test(k) && v > 0 ? `${new Date(v).toISOString()} (${v})` : v;
  return (
    <div>
      <h2>TSDB status</h2>
      <Loading loading={s.loading && !s.data} error={s.error} />
      {d && (
        <>
          <h3>Head block</h3>
          <KV data={head} />
          <div class="grid2">
            <Top title="Top 10 series count by metric name" rows={d.seriesCountByMetricName} />
            <Top title="Top 10 label names with value count" rows={d.labelValueCountByLabelName} />
            <Top title="Top 10 label names by memory used (bytes)" rows={d.memoryInBytesByLabelName} />
            <Top title="Top 10 series count by label value pair" rows={d.seriesCountByLabelValuePair} />
          </div>
        </>
      )}
    </div>
  );
}

export function FlagsPage() {
  const s = useFetch(() => prom<Record<string, string>>('/api/v1/status/flags'));
  const [text, setText] = useState('');
  const rows = Object.entries(s.data?.data || {})
    .filter(([k, v]) => !text || k.includes(text) || v.includes(text))
    .sort((a, b) => a[0].localeCompare(b[0]));
  return (
    <div>
      <h2>Command-line flags</h2>
      <Filter value={text} onInput={setText} placeholder="Filter by flag or value" />
      <Loading loading={s.loading && !s.data} error={s.error} />
      <table class="data kv flags">
        <tbody>{rows.map(([k, v]) => <tr><th>--{k}</th><td>{v}</td></tr>)}</tbody>
      </table>
    </div>
  );
}

export function ConfigPage() {
  const s = useFetch(() => prom<{ yaml: string }>('/api/v1/status/config'));
  return (
    <div>
      <h2>Configuration</h2>
      <p class="hint">The running configuration, secrets redacted.</p>
      <Loading loading={s.loading && !s.data} error={s.error} />
      {s.data && (
        <>
          <button onClick={() => navigator.clipboard?.writeText(s.data!.data.yaml)}>Copy to clipboard</button>
          <pre class="config">{s.data.data.yaml}</pre>
        </>
      )}
    </div>
  );
}
