// Requests to Vigil's APIs, under the prefix the page was served with.

export const prefix: string = (() => {
  const m = document.querySelector('meta[name="vigil-prefix"]');
  const v = m ? m.getAttribute('content') || '' : '';
  return v === '{{PREFIX}}' ? '' : v;
})();

export class APIError extends Error {
  constructor(msg: string, public status = 0) {
    super(msg);
  }
}

// Prometheus's /api/v1 answer: data, warnings and infos.
export interface PromAnswer<T> {
  data: T;
  warnings?: string[];
  infos?: string[];
}

async function readError(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const j = JSON.parse(text);
    if (typeof j === 'string') return j;
    if (j && j.error) return j.error;
    if (j && j.message) return j.message;
  } catch {
    // not JSON
  }
  return text.trim() || res.status + ' ' + res.statusText;
}

// prom calls a Prometheus API endpoint (path starts with /api/v1/) and returns its data.
export async function prom<T>(path: string, params?: Record<string, string | string[]> | URLSearchParams, method: 'GET' | 'POST' = 'GET', signal?: AbortSignal): Promise<PromAnswer<T>> {
  const body = params instanceof URLSearchParams ? params : toParams(params || {});
  let res: Response;
  if (method === 'POST') {
    res = await fetch(prefix + path, { method, body, headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, signal });
  } else {
    const qs = body.toString();
    res = await fetch(prefix + path + (qs ? '?' + qs : ''), { signal });
  }
  if (!res.ok && !(res.headers.get('Content-Type') || '').includes('json')) {
    throw new APIError(await readError(res), res.status);
  }
  const j = await res.json();
  if (j.status !== 'success') {
    throw new APIError(j.error || 'request failed: ' + res.status, res.status);
  }
  return { data: j.data as T, warnings: j.warnings, infos: j.infos };
}

// am calls an Alertmanager v2 endpoint (path starts with /api/v2/).
export async function am<T>(path: string, init?: RequestInit & { params?: URLSearchParams }): Promise<T> {
  const qs = init?.params ? '?' + init.params.toString() : '';
  const res = await fetch(prefix + path + qs, init);
  if (!res.ok) throw new APIError(await readError(res), res.status);
  const text = await res.text();
  return (text ? JSON.parse(text) : null) as T;
}

export function toParams(p: Record<string, string | string[]>): URLSearchParams {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(p)) {
    if (Array.isArray(v)) v.forEach((x) => u.append(k, x));
    else u.append(k, v);
  }
  return u;
}

export type Labels = Record<string, string>;

export function formatLabels(l: Labels, skipName = false): string {
  const name = l.__name__ || '';
  const rest = Object.keys(l)
    .filter((k) => k !== '__name__')
    .sort()
    .map((k) => `${k}=${JSON.stringify(l[k])}`)
    .join(', ');
  if (skipName) return `{${rest}}`;
  return name + (rest || !name ? `{${rest}}` : '');
}

// Durations as Prometheus writes them: 1h30m, 15s, 250ms.
export function parseDuration(s: string): number | null {
  s = s.trim();
  if (!s) return null;
  if (/^\d+(\.\d+)?$/.test(s)) return parseFloat(s) * 1000;
  const re = /(\d+)(ms|y|w|d|h|m|s)/g;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  const unit: Record<string, number> = { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5, y: 31536e6 };
  while ((m = re.exec(s)) !== null) {
    if (m.index !== pos) return null;
    total += parseInt(m[1], 10) * unit[m[2]];
    pos = re.lastIndex;
  }
  return pos === s.length && pos > 0 ? total : null;
}

export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  const parts: string[] = [];
  const units: [string, number][] = [['y', 31536e6], ['w', 6048e5], ['d', 864e5], ['h', 36e5], ['m', 6e4], ['s', 1e3], ['ms', 1]];
  for (const [u, n] of units) {
    if (ms >= n) {
      const c = Math.floor(ms / n);
      parts.push(c + u);
      ms -= c * n;
    }
  }
  return parts.join('');
}

// ago renders a past time relative to now ("12.3s ago").
export function ago(t: string | number | undefined): string {
  if (!t) return 'never';
  const ms = typeof t === 'number' ? t : Date.parse(t);
  if (!ms || ms < 0 || new Date(ms).getUTCFullYear() < 1971) return 'never';
  const d = Date.now() - ms;
  if (d < 0) return 'in ' + formatDuration(-d);
  if (d < 60e3) return (d / 1000).toFixed(1) + 's ago';
  return formatDuration(Math.round(d / 1000) * 1000) + ' ago';
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function humanSeconds(s: number): string {
  if (s < 1e-3) return (s * 1e6).toFixed(0) + 'µs';
  if (s < 1) return (s * 1e3).toFixed(1) + 'ms';
  return s.toFixed(3) + 's';
}
