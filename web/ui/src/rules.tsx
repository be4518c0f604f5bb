// Rules (groups, health, last evaluation, evaluation time, last error) and Alerts (alerting
// rules with their pending and firing alerts), from /api/v1/rules.
import { useState } from 'preact/hooks';
import { ago, formatDuration, humanSeconds, Labels, prom } from './api';
import { Filter, LabelBadges, Loading, matchesText, Section, State, useFetch } from './common';
import { Link } from './router';

interface Alert {
  labels: Labels;
  annotations: Labels;
  state: string;
  activeAt?: string;
  keepFiringSince?: string;
  value: string;
}
interface Rule {
  type: 'alerting' | 'recording';
  name: string;
  query: string;
  duration?: number;
  keepFiringFor?: number;
  labels?: Labels;
  annotations?: Labels;
  alerts?: Alert[];
  state?: string;
  health: string;
  lastError?: string;
  evaluationTime: number;
  lastEvaluation: string;
}
interface Group {
  name: string;
  file: string;
  interval: number;
  rules: Rule[];
  evaluationTime: number;
  lastEvaluation: string;
}

function queryLink(expr: string): string {
  return '/query?' + new URLSearchParams({ 'g0.expr': expr, 'g0.tab': 'table' }).toString();
}

export function RulesPage() {
  const { data, error, loading } = useFetch(() => prom<{ groups: Group[] }>('/api/v1/rules'));
  const [text, setText] = useState('');
  const [health, setHealth] = useState<Record<string, boolean>>({ ok: true, err: true, unknown: true });
  return (
    <div>
      <h2>Rules</h2>
      <div class="toolbar">
        {['ok', 'err', 'unknown'].map((h) => (
          <label><input type="checkbox" checked={health[h]} onChange={(e) => setHealth({ ...health, [h]: e.currentTarget.checked })} /> {h}</label>
        ))}
        <Filter value={text} onInput={setText} placeholder="Filter by name, expression or labels" />
      </div>
      <Loading loading={loading && !data} error={error} />
      {data?.data.groups.map((g) => {
        const rules = g.rules.filter((r) => health[r.health] !== false && matchesText(text, r.name, r.query, r.labels));
        if (!rules.length && (text || !health.ok)) return null;
        return (
          <Section title={<>{g.name} <span class="count">{g.file} · every {formatDuration(g.interval * 1000)} · last evaluation {ago(g.lastEvaluation)} · took {humanSeconds(g.evaluationTime)}</span></>}>
            <table class="data rules">
              <thead><tr><th>Rule</th><th>State</th><th>Last evaluation</th><th>Evaluation time</th><th>Error</th></tr></thead>
              <tbody>
                {rules.map((r) => (
                  <tr class={'rule rule-' + r.health}>
                    <td>
                      <div class="rule-def">
                        <b>{r.type === 'alerting' ? 'alert' : 'record'}:</b> {r.name}
                        <br /><b>expr:</b> <Link href={queryLink(r.query)} class="expr">{r.query}</Link>
                        {r.duration ? <><br /><b>for:</b> {formatDuration(r.duration * 1000)}</> : null}
                        {r.keepFiringFor ? <><br /><b>keep_firing_for:</b> {formatDuration(r.keepFiringFor * 1000)}</> : null}
                        {r.labels && Object.keys(r.labels).length ? <><br /><b>labels:</b> <LabelBadges labels={r.labels} /></> : null}
                      </div>
                    </td>
                    <td><State state={r.health} /></td>
                    <td>{ago(r.lastEvaluation)}</td>
                    <td>{humanSeconds(r.evaluationTime || 0)}</td>
                    <td class="last-error">{r.lastError}</td>
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

export function AlertsPage() {
  const { data, error, loading } = useFetch(() => prom<{ groups: Group[] }>('/api/v1/rules', { type: 'alert' }));
  const [text, setText] = useState('');
  const [states, setStates] = useState<Record<string, boolean>>({ inactive: true, pending: true, firing: true });
  const all = (data?.data.groups || []).flatMap((g) => g.rules.filter((r) => r.type === 'alerting').map((r) => ({ g, r })));
  const count = (st: string) => all.filter(({ r }) => r.state === st).length;
  return (
    <div>
      <h2>Alerts</h2>
      <div class="toolbar">
        {['inactive', 'pending', 'firing'].map((st) => (
          <label><input type="checkbox" checked={states[st]} onChange={(e) => setStates({ ...states, [st]: e.currentTarget.checked })} /> <State state={st} /> ({count(st)})</label>
        ))}
        <Filter value={text} onInput={setText} placeholder="Filter by rule name or labels" />
      </div>
      <Loading loading={loading && !data} error={error} />
      {all
        .filter(({ r }) => states[r.state || 'inactive'] && matchesText(text, r.name, r.labels, ...(r.alerts || []).map((a) => a.labels)))
        .map(({ g, r }) => (
          <Section open={r.state !== 'inactive'} class={'alert-rule alert-' + r.state} title={<>{r.name} <State state={r.state || 'inactive'} /> <span class="count">{g.name} · {(r.alerts || []).length} active</span></>}>
            <div class="rule-def">
              <b>expr:</b> <Link href={queryLink(r.query)} class="expr">{r.query}</Link>
              {r.duration ? <><br /><b>for:</b> {formatDuration(r.duration * 1000)}</> : null}
              {r.keepFiringFor ? <><br /><b>keep_firing_for:</b> {formatDuration(r.keepFiringFor * 1000)}</> : null}
              {r.labels && Object.keys(r.labels).length ? <><br /><b>labels:</b> <LabelBadges labels={r.labels} /></> : null}
              {r.annotations && Object.keys(r.annotations).length ? <><br /><b>annotations:</b> <LabelBadges labels={r.annotations} /></> : null}
            </div>
            {(r.alerts || []).length > 0 && (
              <table class="data alerts">
                <thead><tr><th>Labels</th><th>State</th><th>Active since</th><th>Value</th><th>Annotations</th></tr></thead>
                <tbody>
                  {r.alerts!.map((a) => (
                    <tr class={'alert alert-' + a.state}>
                      <td><LabelBadges labels={a.labels} /></td>
                      <td><State state={a.state} /></td>
                      <td title={a.activeAt}>{ago(a.activeAt)}</td>
                      <td>{a.value}</td>
                      <td>{Object.entries(a.annotations || {}).map(([k, v]) => <div><b>{k}:</b> {v}</div>)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Section>
        ))}
    </div>
  );
}
