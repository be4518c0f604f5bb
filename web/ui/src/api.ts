export * from './lib';
import { formatDuration } from './lib';
import type { Labels } from './lib';
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


