// Unit tests of the UI's pure helpers (src/lib.ts), run by node's test runner after esbuild
// bundles this file (npm test; make ui-check).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildData, formatDuration, formatLabels, labelSetString, matcherString, panelsToSearch, parseDuration, parseLabelSet, parsePanels, parseTime, ruleExpr, autoStep } from '../src/lib';

test('parseDuration and formatDuration', () => {
  const cases: [string, number | null][] = [
    ['1h', 3600e3], ['1h30m', 5400e3], ['15s', 15e3], ['250ms', 250], ['1d12h', 1.5 * 864e5], ['2w', 2 * 6048e5], ['1y', 31536e6],
    ['15', 15e3], ['0.5', 500], ['', null], ['h', null], ['1x', null], ['1h 2m', null], ['m5', null],
  ];
  for (const [s, want] of cases) assert.equal(parseDuration(s), want, s);
  for (const ms of [1000, 60e3, 5400e3, 864e5 + 1000, 250]) assert.equal(parseDuration(formatDuration(ms)), ms, String(ms));
  assert.equal(formatDuration(5400e3), '1h30m');
});

test('parsePanels reads Prometheus 2 and 3 links; panelsToSearch round-trips', () => {
  let [p] = parsePanels('?g0.expr=up&g0.tab=0&g0.range_input=1h');
  assert.equal(p.expr, 'up');
  assert.equal(p.tab, 'graph');
  assert.equal(p.range, 3600e3);
  [p] = parsePanels('?g0.expr=up&g0.tab=1&g0.stacked=1');
  assert.equal(p.tab, 'table');
  assert.equal(p.stacked, true);
  const ps = parsePanels('?g0.expr=a&g0.tab=graph&g0.range_input=6h&g0.end_input=2026-01-02%2015%3A04%3A05&g0.res_type=fixed&g0.step_input=30&g0.display_mode=stacked&g1.expr=b%7Bx%3D%22y%22%7D&g1.tab=table&g1.moment_input=2026-01-02%2000%3A00%3A00');
  assert.equal(ps.length, 2);
  assert.equal(ps[0].end, Date.UTC(2026, 0, 2, 15, 4, 5));
  assert.equal(ps[0].step, 30);
  assert.equal(ps[0].stacked, true);
  assert.equal(ps[1].expr, 'b{x="y"}');
  assert.equal(ps[1].moment, Date.UTC(2026, 0, 2));
  assert.deepEqual(parsePanels(panelsToSearch(ps)), ps);
  assert.deepEqual(parsePanels(''), [{ expr: '', tab: 'table', range: 3600e3, end: null, moment: null, step: null, stacked: false }]);
  [p] = parsePanels('?g0.expr=x&g0.res_type=auto&g0.step_input=30');
  assert.equal(p.step, null);
});

test('parseTime', () => {
  assert.equal(parseTime('1700000000'), 1700000000e3);
  assert.equal(parseTime('2026-01-02 03:04:05'), Date.UTC(2026, 0, 2, 3, 4, 5));
  assert.equal(parseTime('2026-01-02T03:04:05Z'), Date.UTC(2026, 0, 2, 3, 4, 5));
  assert.equal(parseTime('2026-01-02T03:04:05+01:00'), Date.UTC(2026, 0, 2, 2, 4, 5));
  assert.equal(parseTime('yesterday'), null);
  assert.equal(parseTime(''), null);
});

test('autoStep: about 250 points, at least 1s', () => {
  assert.equal(autoStep(3600e3), 14);
  assert.equal(autoStep(60e3), 1);
});

test('buildData aligns series on the steps, gaps as nulls, stacking', () => {
  const series = [
    { metric: { a: '1' }, values: [[100, '1'], [130, '3']] as [number, string][] },
    { metric: { a: '2' }, values: [[110, '+Inf'], [120, 'NaN'], [130, '-2.5']] as [number, string][] },
  ];
  const d = buildData(series, 100, 130, 10, false);
  assert.deepEqual(Array.from(d[0] as ArrayLike<number>), [100, 110, 120, 130]);
  assert.deepEqual(d[1], [1, null, null, 3]);
  assert.deepEqual(d[2], [null, null, null, -2.5]);
  const s = buildData(series, 100, 130, 10, true);
  assert.deepEqual(s[2], [null, null, null, 0.5]);
});

test('label sets: format and parse', () => {
  assert.equal(formatLabels({ __name__: 'up', job: 'a', instance: 'x"y' }), 'up{instance="x\\"y", job="a"}');
  assert.equal(formatLabels({}), '{}');
  assert.deepEqual(parseLabelSet('{alertname="Disk \\"slow\\"", severity="warning"}'), { alertname: 'Disk "slow"', severity: 'warning' });
  assert.deepEqual(parseLabelSet("a=b\nc='d e'"), { a: 'b', c: 'd e' });
  const l = { b: 'x', a: 'y,z' };
  assert.deepEqual(parseLabelSet(labelSetString(l)), l);
});

test('matcherString: Alertmanager filter syntax', () => {
  assert.equal(matcherString({ name: 'a', value: 'b', isRegex: false, isEqual: true }), 'a="b"');
  assert.equal(matcherString({ name: 'a', value: 'b.*', isRegex: true, isEqual: true }), 'a=~"b.*"');
  assert.equal(matcherString({ name: 'a', value: 'b', isRegex: false, isEqual: false }), 'a!="b"');
  assert.equal(matcherString({ name: 'a', value: 'b', isRegex: true, isEqual: false }), 'a!~"b"');
  assert.equal(matcherString({ name: 'a', value: 'q"', isRegex: false }), 'a="q\\""');
});

test('ruleExpr finds the expression in a rule', () => {
  assert.equal(ruleExpr('alert: X\nexpr: up == 0\nfor: 5m'), 'up == 0');
  assert.equal(ruleExpr('- alert: X\n  expr: "rate(x[5m]) > 1"'), 'rate(x[5m]) > 1');
  assert.equal(ruleExpr("alert: X\nexpr: 'a{b=\"c\"} > 1'"), 'a{b="c"} > 1');
  assert.equal(ruleExpr('alert: X\nexpr: |\n  sum(rate(x[5m]))\n    > 1\nfor: 1m'), 'sum(rate(x[5m]))\n> 1');
  assert.equal(ruleExpr('alert: X\nexpr: >-\n  sum(x)\n  > 1\nlabels: {}'), 'sum(x) > 1');
  assert.equal(ruleExpr('alert: X\nexpr: up # comment'), 'up');
  assert.equal(ruleExpr('alert: X'), '');
});
