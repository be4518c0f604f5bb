// Pure helpers (no DOM): parsing and formatting of URLs, durations, label sets, matchers,
// rule text and range results. Unit-tested with node (tests/unit.test.ts).
import type uPlot from 'uplot';

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

export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function humanSeconds(s: number): string {
  if (s < 1e-3) return (s * 1e6).toFixed(0) + 'µs';
  if (s < 1) return (s * 1e3).toFixed(1) + 'ms';
  return s.toFixed(3) + 's';
}

export interface PanelState {
  expr: string;
  tab: 'graph' | 'table';
  range: number; // ms
  end: number | null; // ms, null = now
  moment: number | null; // table evaluation time, null = now
  step: number | null; // seconds, null = automatic
  stacked: boolean;
}

export const defaultPanel = (): PanelState => ({ expr: '', tab: 'table', range: 3600e3, end: null, moment: null, step: null, stacked: false });

export function parseTime(s: string | null): number | null {
  if (!s) return null;
  s = s.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return parseFloat(s) * 1000;
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s.replace(' ', 'T') : s.replace(' ', 'T') + 'Z');
  return Number.isFinite(t) ? t : null;
}

export function formatTime(ms: number): string {
  return isoTime(ms).replace('T', ' ').replace('Z', '');
}

export function parsePanels(search: string): PanelState[] {
  const q = new URLSearchParams(search);
  const panels: PanelState[] = [];
  for (let i = 0; q.has(`g${i}.expr`) || q.has(`g${i}.tab`); i++) {
    const g = (k: string) => q.get(`g${i}.${k}`);
    const p = defaultPanel();
    p.expr = g('expr') || '';
    const tab = g('tab');
    // Prometheus 2: 0 = graph, 1 = table; Prometheus 3: graph, table.
    p.tab = tab === '0' || tab === 'graph' ? 'graph' : 'table';
    p.range = parseDuration(g('range_input') || '') || 3600e3;
    p.end = parseTime(g('end_input'));
    p.moment = parseTime(g('moment_input'));
    const step = g('step_input');
    p.step = step && g('res_type') !== 'auto' ? (parseDuration(step) || 0) / 1000 || null : null;
    p.stacked = g('stacked') === '1' || g('display_mode') === 'stacked';
    panels.push(p);
  }
  return panels.length ? panels : [defaultPanel()];
}

export function panelsToSearch(panels: PanelState[]): string {
  const q = new URLSearchParams();
  panels.forEach((p, i) => {
    q.set(`g${i}.expr`, p.expr);
    q.set(`g${i}.tab`, p.tab);
    q.set(`g${i}.range_input`, formatDuration(p.range));
    if (p.end !== null) q.set(`g${i}.end_input`, formatTime(p.end));
    if (p.moment !== null) q.set(`g${i}.moment_input`, formatTime(p.moment));
    if (p.step !== null) {
      q.set(`g${i}.res_type`, 'fixed');
      q.set(`g${i}.step_input`, String(p.step));
    }
    q.set(`g${i}.display_mode`, p.stacked ? 'stacked' : 'lines');
  });
  return '?' + q.toString();
}

// autoStep is Prometheus's: about 250 points over the range, at least 1s.
export function autoStep(rangeMs: number): number {
  return Math.max(Math.floor(rangeMs / 250 / 1000), 1);
}

export interface RangeSeries {
  metric: Labels;
  values?: [number, string][];
  histograms?: [number, unknown][];
}

export function toNumber(s: string): number | null {
  // "NaN", "+Inf", "-Inf" and anything unparsable are gaps in a chart.
  const v = parseFloat(s);
  return Number.isFinite(v) ? v : null;
}

// buildData aligns the series on the range's steps (start, end, step in seconds).
export function buildData(series: RangeSeries[], start: number, end: number, step: number, stacked: boolean): uPlot.AlignedData {
  const n = Math.floor((end - start) / step + 1e-9) + 1;
  const xs = new Float64Array(n);
  for (let i = 0; i < n; i++) xs[i] = start + i * step;
  const ys: (number | null)[][] = [];
  const sums = stacked ? new Float64Array(n) : null;
  for (const s of series) {
    const y: (number | null)[] = new Array(n).fill(null);
    for (const [t, v] of s.values || []) {
      const i = Math.round((t - start) / step);
      if (i >= 0 && i < n) y[i] = toNumber(v);
    }
    if (sums) {
      for (let i = 0; i < n; i++) {
        if (y[i] !== null) {
          sums[i] += y[i] as number;
          y[i] = sums[i];
        }
      }
    }
    ys.push(y);
  }
  return [xs as unknown as number[], ...ys] as uPlot.AlignedData;
}

export interface Matcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual?: boolean;
}

export function matcherString(m: Matcher): string {
  return `${m.name}${matcherOp(m)}${JSON.stringify(m.value)}`;
}

export function matcherOp(m: Matcher): string {
  return m.isEqual === false ? (m.isRegex ? '!~' : '!=') : m.isRegex ? '=~' : '=';
}

export function setOp(m: Matcher, op: string): Matcher {
  return { ...m, isRegex: op.includes('~'), isEqual: !op.startsWith('!') };
}

// parseLabelSet reads {a="b", c="d"} or a=b lines.
export function parseLabelSet(s: string): Labels {
  const out: Labels = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^,\n}]*)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    let v = m[2].trim();
    if (v.startsWith('"')) {
      try {
        v = JSON.parse(v);
      } catch {
        v = v.slice(1, -1);
      }
    } else if (v.startsWith("'")) v = v.slice(1, -1);
    out[m[1]] = v;
  }
  return out;
}

export function labelSetString(l: Labels): string {
  return '{' + Object.keys(l).sort().map((k) => `${k}=${JSON.stringify(l[k])}`).join(', ') + '}';
}

// ruleExpr finds the rule's expr in its YAML: plain, quoted, or a | / > block.
export function ruleExpr(yaml: string): string {
  const lines = yaml.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*-?\s*)expr:\s*(.*)$/.exec(lines[i]);
    if (!m) continue;
    let v = m[2].trim();
    if (/^[|>][-+]?$/.test(v)) {
      const out: string[] = [];
      const indent = m[1].length;
      for (let j = i + 1; j < lines.length; j++) {
        const l = lines[j];
        if (l.trim() && l.length - l.trimStart().length <= indent) break;
        out.push(l.trim());
      }
      return out.join(v.startsWith('>') ? ' ' : '\n').trim();
    }
    if (v.startsWith('"')) {
      try {
        return JSON.parse(v);
      } catch {
        return v.slice(1, -1);
      }
    }
    if (v.startsWith("'")) return v.slice(1, -1).replace(/''/g, "'");
    v = v.replace(/\s+#.*$/, '');
    return v;
  }
  return '';
}
