// Alertmanager pages: alerts as routed into groups, silences (list, create, edit, expire, with
// a preview of the alerts a silence would mute), and "why was I (not) paged?" (the explain
// answer for a label set). Data from /api/v2.
import { useEffect, useState } from 'preact/hooks';
import { ago, am, Labels, isoTime, parseDuration, formatDuration } from './api';
import { Filter, LabelBadges, Loading, matchesText, Section, State, useFetch } from './common';
import { Link, navigate } from './router';
import { labelSetString, Matcher, matcherOp, matcherString, parseLabelSet, setOp } from './lib';

interface AMAlert {
  labels: Labels;
  annotations: Labels;
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  fingerprint: string;
  receivers: { name: string }[];
  status: { state: 'active' | 'suppressed' | 'unprocessed'; silencedBy: string[]; inhibitedBy: string[]; mutedBy?: string[] };
}
interface AMGroup {
  labels: Labels;
  receiver: { name: string };
  alerts: AMAlert[];
}
interface Silence {
  id: string;
  matchers: Matcher[];
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  createdBy: string;
  comment: string;
  status: { state: 'active' | 'pending' | 'expired' };
}

function alertState(a: AMAlert): string {
  if (a.status.silencedBy?.length) return 'silenced';
  if (a.status.inhibitedBy?.length) return 'inhibited';
  return a.status.state;
}

function explainLink(l: Labels): string {
  return '/explain?' + new URLSearchParams(l).toString();
}

function silenceLink(l: Labels): string {
  return '/silences?' + new URLSearchParams({ new: '1', matchers: JSON.stringify(Object.entries(l).filter(([k]) => k !== '__name__').map(([name, value]) => ({ name, value, isRegex: false, isEqual: true }))) }).toString();
}

export function AlertGroupsPage() {
  const { data, error, loading } = useFetch(() => am<AMGroup[]>('/api/v2/alerts/groups', { params: new URLSearchParams({ silenced: 'true', inhibited: 'true', active: 'true' }) }));
  const [text, setText] = useState('');
  const [muted, setMuted] = useState(true);
  const groups = (data || [])
    .map((g) => ({ ...g, alerts: g.alerts.filter((a) => (muted || a.status.state !== 'suppressed') && matchesText(text, a.labels, g.receiver.name)) }))
    .filter((g) => g.alerts.length);
  return (
    <div>
      <h2>Alert groups</h2>
      <div class="toolbar">
        <label><input type="checkbox" checked={muted} onChange={(e) => setMuted(e.currentTarget.checked)} /> show silenced and inhibited</label>
        <Filter value={text} onInput={setText} placeholder="Filter by labels or receiver" />
      </div>
      <Loading loading={loading && !data} error={error} />
      {data && !groups.length && <div class="empty">No alerts.</div>}
      {groups.map((g) => (
        <Section class="am-group" title={<><span class="receiver">{g.receiver.name}</span> <LabelBadges labels={g.labels} /> <span class="count">{g.alerts.length} alert{g.alerts.length === 1 ? '' : 's'}</span></>}>
          <table class="data am-alerts">
            <thead><tr><th>Labels</th><th>State</th><th>Since</th><th>Annotations</th><th></th></tr></thead>
            <tbody>
              {g.alerts.map((a) => (
                <tr class={'am-alert am-' + alertState(a)}>
                  <td><LabelBadges labels={a.labels} /></td>
                  <td><State state={alertState(a)} /></td>
                  <td title={a.startsAt}>{ago(a.startsAt)}</td>
                  <td>{Object.entries(a.annotations || {}).map(([k, v]) => <div><b>{k}:</b> {v}</div>)}</td>
                  <td class="actions">
                    <Link href={silenceLink(a.labels)}>Silence</Link> <Link href={explainLink(a.labels)}>Explain</Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>
      ))}
    </div>
  );
}




export function SilencesPage() {
  const q = new URLSearchParams(location.search);
  const [editing, setEditing] = useState<Partial<Silence> | null>(() => {
    if (q.get('new')) {
      let ms: Matcher[] = [];
      try {
        ms = JSON.parse(q.get('matchers') || '[]');
      } catch {
        ms = [];
      }
      return { matchers: ms.length ? ms : [{ name: '', value: '', isRegex: false, isEqual: true }] };
    }
    return null;
  });
  const list = useFetch(() => am<Silence[]>('/api/v2/silences'));
  const editId = q.get('edit');
  useEffect(() => {
    if (editId && list.data) {
      const s = list.data.find((x) => x.id === editId);
      if (s) setEditing(s);
    }
  }, [editId, list.data]);
  const [text, setText] = useState('');
  const [msg, setMsg] = useState('');
  const expire = async (id: string) => {
    try {
      await am(`/api/v2/silence/${encodeURIComponent(id)}`, { method: 'DELETE' });
      setMsg(`Silence ${id} expired.`);
      list.reload();
    } catch (e) {
      setMsg('Error: ' + String((e as Error).message));
    }
  };
  const states = ['active', 'pending', 'expired'] as const;
  const silences = (list.data || []).filter((s) => matchesText(text, s.comment, s.createdBy, s.id, ...s.matchers.map(matcherString)));
  return (
    <div>
      <h2>Silences</h2>
      {msg && <div class="info notice">{msg}</div>}
      {editing ? (
        <SilenceEditor
          initial={editing}
          onDone={(id) => {
            setEditing(null);
            if (id) setMsg(`Silence ${id} saved.`);
            navigate('/silences', true);
            list.reload();
          }}
        />
      ) : (
        <div class="toolbar">
          <button class="primary new-silence" onClick={() => setEditing({ matchers: [{ name: '', value: '', isRegex: false, isEqual: true }] })}>New silence</button>
          <Filter value={text} onInput={setText} placeholder="Filter by matcher, comment or author" />
        </div>
      )}
      <Loading loading={list.loading && !list.data} error={list.error} />
      {states.map((st) => {
        const ss = silences.filter((s) => s.status.state === st);
        return (
          <Section open={st !== 'expired'} title={<><State state={st} /> <span class="count">{ss.length}</span></>}>
            {ss.length ? (
              <table class="data silences">
                <thead><tr><th>Matchers</th><th>{st === 'expired' ? 'Ended' : st === 'pending' ? 'Starts' : 'Ends'}</th><th>Created by</th><th>Comment</th><th></th></tr></thead>
                <tbody>
                  {ss.map((s) => (
                    <tr class="silence" data-id={s.id}>
                      <td>{s.matchers.map((m) => <span class="badge">{matcherString(m)}</span>)}</td>
                      <td title={st === 'pending' ? s.startsAt : s.endsAt}>{ago(st === 'pending' ? s.startsAt : s.endsAt)}</td>
                      <td>{s.createdBy}</td>
                      <td>{s.comment}</td>
                      <td class="actions">
                        <button class="edit" onClick={() => setEditing(st === 'expired' ? { ...s, id: undefined } : s)}>{st === 'expired' ? 'Recreate' : 'Edit'}</button>
                        {st !== 'expired' && <button class="expire danger" onClick={() => expire(s.id)}>Expire</button>}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : (
              <div class="empty">None.</div>
            )}
          </Section>
        );
      })}
    </div>
  );
}

function SilenceEditor(props: { initial: Partial<Silence>; onDone: (id?: string) => void }) {
  const init = props.initial;
  const now = Date.now();
  const [matchers, setMatchers] = useState<Matcher[]>(init.matchers?.map((m) => ({ ...m, isEqual: m.isEqual !== false })) || []);
  const [start, setStart] = useState(init.startsAt && Date.parse(init.startsAt) > now ? init.startsAt : isoTime(now));
  const [dur, setDur] = useState(() => {
    if (init.endsAt && init.id) {
      const d = Date.parse(init.endsAt) - Math.max(now, Date.parse(init.startsAt || '') || now);
      if (d > 0) return formatDuration(Math.round(d / 60e3) * 60e3);
    }
    return '2h';
  });
  const [createdBy, setCreatedBy] = useState(init.createdBy || localStorage.getItem('vigil.silence.author') || '');
  const [comment, setComment] = useState(init.comment || '');
  const [error, setError] = useState('');
  const [preview, setPreview] = useState<{ alerts?: AMAlert[]; error?: string }>({});
  const valid = matchers.filter((m) => m.name);
  const filterKey = JSON.stringify(valid);
  // Preview: the current alerts (muted or not) these matchers select.
  useEffect(() => {
    if (!valid.length) {
      setPreview({});
      return;
    }
    let live = true;
    const t = setTimeout(() => {
      const params = new URLSearchParams({ silenced: 'true', inhibited: 'true', active: 'true', unprocessed: 'true' });
      valid.forEach((m) => params.append('filter', matcherString(m)));
      am<AMAlert[]>('/api/v2/alerts', { params })
        .then((alerts) => live && setPreview({ alerts }))
        .catch((e) => live && setPreview({ error: String(e.message || e) }));
    }, 250);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [filterKey]);
  const d = parseDuration(dur);
  const startMs = Date.parse(start);
  const save = async () => {
    setError('');
    if (!valid.length) return setError('At least one matcher is needed.');
    if (!d) return setError(`Duration ${JSON.stringify(dur)} is not a duration like 2h or 1d12h.`);
    if (!Number.isFinite(startMs)) return setError('Start is not a time.');
    if (!createdBy.trim()) return setError('Creator is required.');
    if (!comment.trim()) return setError('Comment is required.');
    localStorage.setItem('vigil.silence.author', createdBy);
    const body: Record<string, unknown> = {
      matchers: valid.map((m) => ({ name: m.name, value: m.value, isRegex: m.isRegex, isEqual: m.isEqual !== false })),
      startsAt: new Date(startMs).toISOString(),
      endsAt: new Date(startMs + d).toISOString(),
      createdBy,
      comment,
    };
    if (init.id) body.id = init.id;
    try {
      const r = await am<{ silenceID: string }>('/api/v2/silences', { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
      props.onDone(r.silenceID);
    } catch (e) {
      setError(String((e as Error).message));
    }
  };
  const upd = (i: number, m: Matcher) => setMatchers(matchers.map((x, j) => (i === j ? m : x)));
  return (
    <div class="silence-editor card">
      <h3>{init.id ? `Edit silence ${init.id}` : 'New silence'}</h3>
      <div class="form-row">
        <label>Start <input class="silence-start" value={start} onInput={(e) => setStart(e.currentTarget.value)} /></label>
        <label>Duration <input class="silence-duration" value={dur} onInput={(e) => setDur(e.currentTarget.value)} /></label>
        <span class="hint">{d && Number.isFinite(startMs) ? 'ends ' + isoTime(startMs + d) : ''}</span>
      </div>
      <div class="matchers">
        <div class="hint">Matchers (all must match):</div>
        {matchers.map((m, i) => (
          <div class="matcher-row">
            <input class="matcher-name" placeholder="label" value={m.name} onInput={(e) => upd(i, { ...m, name: e.currentTarget.value })} />
            <select class="matcher-op" value={matcherOp(m)} onChange={(e) => upd(i, setOp(m, e.currentTarget.value))}>
              {['=', '!=', '=~', '!~'].map((o) => <option value={o}>{o}</option>)}
            </select>
            <input class="matcher-value" placeholder="value" value={m.value} onInput={(e) => upd(i, { ...m, value: e.currentTarget.value })} />
            <button title="Remove matcher" onClick={() => setMatchers(matchers.filter((_, j) => j !== i))}>✕</button>
          </div>
        ))}
        <button class="add-matcher" onClick={() => setMatchers([...matchers, { name: '', value: '', isRegex: false, isEqual: true }])}>Add matcher</button>
      </div>
      <div class="form-row">
        <label>Creator <input class="silence-author" value={createdBy} onInput={(e) => setCreatedBy(e.currentTarget.value)} /></label>
      </div>
      <div class="form-row">
        <label class="wide">Comment <textarea class="silence-comment" value={comment} onInput={(e) => setComment(e.currentTarget.value)} /></label>
      </div>
      <div class="preview">
        <b>Preview:</b>{' '}
        {preview.error ? <span class="error">{preview.error}</span> : preview.alerts ? <span class="preview-count">{preview.alerts.length} current alert{preview.alerts.length === 1 ? '' : 's'} would be muted</span> : <span class="hint">add a matcher</span>}
        {preview.alerts && preview.alerts.length > 0 && (
          <table class="data preview-alerts">
            <tbody>
              {preview.alerts.map((a) => (
                <tr>
                  <td><LabelBadges labels={a.labels} /></td>
                  <td><State state={alertState(a)} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      {error && <div class="error">{error}</div>}
      <div class="form-row">
        <button class="primary save-silence" onClick={save}>{init.id ? 'Update' : 'Create'}</button>
        <button onClick={() => props.onDone()}>Cancel</button>
      </div>
    </div>
  );
}

interface Explanation {
  labels: Labels;
  fingerprint: string;
  alert?: { startsAt: string; endsAt: string; updatedAt: string; resolved: boolean };
  routes: {
    routeId: string;
    receiver: string;
    matchers: string[];
    groupBy: string[];
    groupKey: string;
    groupLabels: Labels;
    groupWait: string;
    groupInterval: string;
    repeatInterval: string;
    muteTimeIntervals?: string[];
    activeTimeIntervals?: string[];
    mutedNowBy?: string[];
    notifications: { integration: string; index: number; lastSent?: string; includedFiring: boolean; includedResolved: boolean; firingAlerts: number; resolvedAlerts: number }[];
  }[];
  silencedBy: { id: string; matchers: string[]; startsAt: string; endsAt: string; createdBy: string; comment: string }[];
  inhibitedBy: { rule: number; name?: string; sourceMatchers: string[]; targetMatchers: string[]; equal: string[]; sourceFingerprint: string; sourceLabels?: Labels }[];
  summary: string[];
}



export function ExplainPage() {
  const fromURL = (): Labels => Object.fromEntries(new URLSearchParams(location.search).entries());
  const [labels, setLabels] = useState<Labels>(fromURL);
  const [text, setText] = useState(() => (Object.keys(labels).length ? labelSetString(labels) : ''));
  const alerts = useFetch(() => am<AMAlert[]>('/api/v2/alerts', { params: new URLSearchParams({ silenced: 'true', inhibited: 'true', active: 'true' }) }));
  const res = useFetch<Explanation | null>(
    () => (Object.keys(labels).length ? am<Explanation>('/api/v2/alerts/explain', { params: new URLSearchParams(labels) }) : Promise.resolve(null)),
    [JSON.stringify(labels)],
  );
  const run = (l: Labels) => {
    setLabels(l);
    setText(labelSetString(l));
    history.replaceState(null, '', location.pathname + '?' + new URLSearchParams(l).toString());
  };
  const ex = res.data;
  return (
    <div>
      <h2>Why was I (not) paged?</h2>
      <div class="explain-form">
        <input class="explain-labels wide" placeholder='{alertname="HighLatency", severity="page"}' value={text} onInput={(e) => setText(e.currentTarget.value)} onKeyDown={(e) => e.key === 'Enter' && run(parseLabelSet(text))} />
        <button class="primary explain-run" onClick={() => run(parseLabelSet(text))}>Explain</button>
        <select class="explain-pick" onChange={(e) => { const i = parseInt(e.currentTarget.value, 10); if (alerts.data && i >= 0) run(alerts.data[i].labels); }}>
          <option value="-1">…or pick a current alert</option>
          {(alerts.data || []).map((a, i) => <option value={String(i)}>{labelSetString(a.labels)}</option>)}
        </select>
      </div>
      <Loading loading={res.loading && !!Object.keys(labels).length} error={res.error} />
      {ex && (
        <div class="explanation">
          <div class="card summary">
            {ex.summary.map((s) => <p>{s}</p>)}
          </div>
          <h3>Alert</h3>
          {ex.alert ? (
            <p class="alert-state">
              Stored alert {ex.fingerprint}: {ex.alert.resolved ? 'resolved' : 'firing'} since {ex.alert.startsAt} (updated {ago(ex.alert.updatedAt)}, ends {ex.alert.endsAt}).
            </p>
          ) : (
            <p class="alert-state">No alert with exactly these labels is held; the routing below is what such an alert would get.</p>
          )}
          <h3>Routes ({ex.routes.length})</h3>
          {ex.routes.map((r) => (
            <div class="card route">
              <div><b>Receiver:</b> <span class="receiver">{r.receiver}</span> <span class="hint">route {r.routeId}</span></div>
              <div><b>Matchers:</b> {r.matchers?.length ? r.matchers.map((m) => <span class="badge">{m}</span>) : 'root'}</div>
              <div><b>Grouped by:</b> {r.groupBy?.join(', ') || '(none)'} → <LabelBadges labels={r.groupLabels} /> <span class="hint">key {r.groupKey}</span></div>
              <div><b>Timing:</b> group_wait {r.groupWait}, group_interval {r.groupInterval}, repeat_interval {r.repeatInterval}</div>
              {r.mutedNowBy?.length ? <div class="warning">Muted now by time intervals: {r.mutedNowBy.join(', ')}</div> : null}
              {r.notifications.length === 0 && <div class="hint">Receiver {r.receiver} has no integrations: nothing is sent.</div>}
              {r.notifications.length > 0 && <table class="data notifications">
                <thead><tr><th>Integration</th><th>Last sent</th><th>Alerts in it</th></tr></thead>
                <tbody>
                  {r.notifications.map((n) => (
                    <tr>
                      <td>{n.integration}[{n.index}]</td>
                      <td>{n.lastSent ? <span title={n.lastSent}>{ago(n.lastSent)}</span> : 'never'}</td>
                      <td>{n.lastSent ? `${n.firingAlerts} firing, ${n.resolvedAlerts} resolved${n.includedFiring ? ' (this alert firing)' : n.includedResolved ? ' (this alert resolved)' : ''}` : ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>}
            </div>
          ))}
          <h3>Silenced by ({ex.silencedBy.length})</h3>
          {ex.silencedBy.map((s) => (
            <div class="card silenced-by">
              <div><b>Silence</b> <Link href={'/silences?edit=' + s.id}>{s.id}</Link> by {s.createdBy}: {s.comment}</div>
              <div>{s.matchers.map((m) => <span class="badge">{m}</span>)} until {s.endsAt}</div>
            </div>
          ))}
          <h3>Inhibited by ({ex.inhibitedBy.length})</h3>
          {ex.inhibitedBy.map((i) => (
            <div class="card inhibited-by">
              <div><b>inhibit_rules[{i.rule}]</b>{i.name ? ` (${i.name})` : ''}: source {i.sourceMatchers.map((m) => <span class="badge">{m}</span>)} target {i.targetMatchers.map((m) => <span class="badge">{m}</span>)} equal [{i.equal.join(', ')}]</div>
              {i.sourceLabels && <div>Source alert: <Link href={explainLink(i.sourceLabels)}><LabelBadges labels={i.sourceLabels} /></Link></div>}
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
