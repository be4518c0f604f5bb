// Targets by scrape pool, and service discovery (labels before and after relabeling, dropped
// targets), from /api/v1/targets.
import { useState } from 'preact/hooks';
import { ago, humanSeconds, Labels, prom } from './api';
import { Filter, LabelBadges, Loading, matchesText, Section, State, useFetch } from './common';

interface ActiveTarget {
  discoveredLabels: Labels;
  labels: Labels;
  scrapePool: string;
  scrapeUrl: string;
  globalUrl: string;
  lastError: string;
  lastScrape: string;
  lastScrapeDuration: number;
  health: 'up' | 'down' | 'unknown';
  scrapeInterval: string;
  scrapeTimeout: string;
}
interface DroppedTarget {
  discoveredLabels: Labels;
  scrapePool?: string;
}
interface TargetsData {
  activeTargets: ActiveTarget[];
  droppedTargets: DroppedTarget[];
  droppedTargetCounts?: Record<string, number>;
}

function byPool<T extends { scrapePool?: string; discoveredLabels: Labels }>(ts: T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const t of ts) {
    const p = t.scrapePool || t.discoveredLabels?.job || '';
    if (!m.has(p)) m.set(p, []);
    m.get(p)!.push(t);
  }
  return new Map([...m.entries()].sort((a, b) => a[0].localeCompare(b[0])));
}

export function TargetsPage() {
  const { data, error, loading } = useFetch(() => prom<TargetsData>('/api/v1/targets', { state: 'active' }));
  const [text, setText] = useState('');
  const [health, setHealth] = useState<Record<string, boolean>>({ up: true, down: true, unknown: true });
  const targets = (data?.data.activeTargets || []).filter((t) => health[t.health] && matchesText(text, t.scrapeUrl, t.labels, t.lastError, t.scrapePool));
  const pools = byPool(targets);
  return (
    <div>
      <h2>Targets</h2>
      <div class="toolbar">
        {(['up', 'down', 'unknown'] as const).map((h) => (
          <label>
            <input type="checkbox" class={'health-' + h} checked={health[h]} onChange={(e) => setHealth({ ...health, [h]: e.currentTarget.checked })} /> {h}
          </label>
        ))}
        <Filter value={text} onInput={setText} placeholder="Filter by endpoint, labels or error" />
      </div>
      <Loading loading={loading && !data} error={error} />
      {[...pools.entries()].map(([pool, ts]) => {
        const up = ts.filter((t) => t.health === 'up').length;
        return (
          <Section title={<>{pool} <span class="count">({up}/{ts.length} up)</span></>} class="pool">
            <table class="data targets">
              <thead>
                <tr><th>Endpoint</th><th>State</th><th>Labels</th><th>Last scrape</th><th>Scrape duration</th><th>Error</th></tr>
              </thead>
              <tbody>
                {ts.map((t) => (
                  <tr class={'target target-' + t.health}>
                    <td><a href={t.globalUrl || t.scrapeUrl} target="_blank" rel="noreferrer">{t.scrapeUrl}</a></td>
                    <td><State state={t.health} /></td>
                    <td><LabelBadges labels={t.labels} /></td>
                    <td>{ago(t.lastScrape)}</td>
                    <td>{humanSeconds(t.lastScrapeDuration || 0)}</td>
                    <td class="last-error">{t.lastError}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Section>
        );
      })}
      {data && !targets.length && <div class="empty">No targets{text || !health.up || !health.down ? ' match the filter' : ''}.</div>}
    </div>
  );
}

export function ServiceDiscoveryPage() {
  const { data, error, loading } = useFetch(() => prom<TargetsData>('/api/v1/targets', { state: 'any' }));
  const [text, setText] = useState('');
  const [showDropped, setShowDropped] = useState(true);
  type Row = { pool: string; discovered: Labels; labels: Labels | null };
  const rows: Row[] = [];
  for (const t of data?.data.activeTargets || []) rows.push({ pool: t.scrapePool, discovered: t.discoveredLabels, labels: t.labels });
  if (showDropped) for (const t of data?.data.droppedTargets || []) rows.push({ pool: t.scrapePool || t.discoveredLabels?.job || '', discovered: t.discoveredLabels, labels: null });
  const shown = rows.filter((r) => matchesText(text, r.discovered, r.labels || undefined, r.pool));
  const pools = new Map<string, Row[]>();
  for (const r of shown) {
    if (!pools.has(r.pool)) pools.set(r.pool, []);
    pools.get(r.pool)!.push(r);
  }
  return (
    <div>
      <h2>Service discovery</h2>
      <div class="toolbar">
        <label><input type="checkbox" checked={showDropped} onChange={(e) => setShowDropped(e.currentTarget.checked)} /> show dropped targets</label>
        <Filter value={text} onInput={setText} placeholder="Filter by labels" />
      </div>
      <Loading loading={loading && !data} error={error} />
      {[...pools.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([pool, rs]) => {
        const active = rs.filter((r) => r.labels).length;
        return (
          <Section title={<>{pool} <span class="count">({active} active / {rs.length - active} dropped)</span></>}>
            <table class="data sd">
              <thead><tr><th>Discovered labels</th><th>Target labels</th></tr></thead>
              <tbody>
                {rs.map((r) => (
                  <tr>
                    <td><LabelBadges labels={r.discovered} /></td>
                    <td>{r.labels ? <LabelBadges labels={r.labels} /> : <span class="dropped">Dropped</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Section>
        );
      })}
    </div>
  );
}
