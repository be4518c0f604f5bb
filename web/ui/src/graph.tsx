// Time-series charts with uPlot: one x array for the range, one value array per series, gaps
// (missing points, stale series) as nulls, optional stacking, drag to zoom, legend with each
// series' labels and the hovered values.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { formatLabels } from './api';
import { buildData, RangeSeries } from './lib';
export type { RangeSeries } from './lib';


export interface Band {
  start: number; // unix seconds
  end: number;
  color: string;
  label: string;
}

const maxLiveLegend = 100;

function escapeHTML(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

export function color(i: number): string {
  // Golden-angle hues: neighbours differ, any count works.
  return `hsl(${(i * 137.508) % 360}, 65%, 45%)`;
}



export function Chart(props: {
  series: RangeSeries[];
  start: number;
  end: number;
  step: number;
  stacked?: boolean;
  bands?: Band[];
  onZoom?: (start: number, end: number) => void;
  onDrawn?: () => void;
  height?: number;
}) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const cb = useRef(props);
  cb.current = props;
  useEffect(() => {
    const el = host.current!;
    const tBuild = performance.now();
    const data = buildData(props.series, props.start, props.end, props.step, !!props.stacked);
    const series: uPlot.Series[] = [{}];
    props.series.forEach((s, i) => {
      series.push({
        label: formatLabels(s.metric),
        stroke: color(i),
        width: 1.25,
        fill: props.stacked ? color(i).replace('hsl', 'hsla').replace(')', ', 0.3)') : undefined,
        points: { show: false },
        spanGaps: false,
      });
    });
    // uPlot's live legend is a table row per series, updated on every cursor move: fine for
    // tens of series, the most expensive part of the chart for hundreds. Past maxLiveLegend a
    // plain list of the series' labels is drawn instead, and the hovered (nearest) series'
    // value is shown above the chart.
    const live = props.series.length <= maxLiveLegend;
    const bands: uPlot.Band[] = [];
    if (props.stacked) for (let i = 2; i < series.length; i++) bands.push({ series: [i, i - 1] });
    const opts: uPlot.Options = {
      width: Math.max(300, el.clientWidth),
      height: props.height || 320,
      series,
      bands,
      scales: { x: { time: true, range: [props.start, props.end] } },
      axes: [{ space: 80 }, { size: 70 }],
      cursor: { drag: { x: true, y: false, setScale: false }, focus: { prox: 16 } },
      focus: { alpha: 0.3 },
      legend: { show: live, live },
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width > 2 && cb.current.onZoom) {
              const a = u.posToVal(u.select.left, 'x');
              const b = u.posToVal(u.select.left + u.select.width, 'x');
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              cb.current.onZoom(a, b);
            }
          },
        ],
        drawClear: [
          (u) => {
            // Bands (e.g. a rule's pending and firing intervals) under the lines.
            const ctx = u.ctx;
            for (const b of cb.current.bands || []) {
              const x0 = u.valToPos(Math.max(b.start, props.start), 'x', true);
              const x1 = u.valToPos(Math.min(b.end, props.end), 'x', true);
              ctx.fillStyle = b.color;
              ctx.fillRect(x0, u.bbox.top, Math.max(1, x1 - x0), u.bbox.height);
            }
          },
        ],
      },
    };
    let drawn = false;
    opts.hooks!.draw = [
      () => {
        if (!drawn) {
          drawn = true;
          // For the browser suite: aligning the series, and building plus drawing the chart.
          el.setAttribute('data-build-ms', String(Math.round(tPlot - tBuild)));
          el.setAttribute('data-draw-ms', String(Math.round(performance.now() - tPlot)));
          cb.current.onDrawn?.();
        }
      },
    ];
    let hover: HTMLDivElement | null = null;
    if (!live) {
      hover = document.createElement('div');
      hover.className = 'hover';
      let focused = -1;
      opts.hooks!.setSeries = [(_u, i) => { focused = i ?? -1; }];
      opts.hooks!.setCursor = [
        (u) => {
          const i = u.cursor.idx;
          if (i == null || focused < 1) {
            hover!.textContent = '';
            return;
          }
          const v = u.data[focused][i];
          hover!.textContent = `${new Date((u.data[0][i] as number) * 1000).toISOString()}  ${series[focused].label}: ${v ?? '(no value)'}`;
        },
      ];
    }
    const tPlot = performance.now();
    plot.current = new uPlot(opts, data, el);
    el.setAttribute('data-series', String(props.series.length));
    if (hover) {
      el.insertBefore(hover, el.firstChild);
      const list = document.createElement('div');
      list.className = 'legend-list';
      list.innerHTML = props.series
        .map((s, i) => `<div><span class="swatch" style="background:${color(i)}"></span>${escapeHTML(formatLabels(s.metric))}</div>`)
        .join('');
      el.appendChild(list);
    }
    const onResize = () => plot.current?.setSize({ width: Math.max(300, el.clientWidth), height: props.height || 320 });
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      plot.current?.destroy();
      plot.current = null;
      el.textContent = '';
    };
  }, [props.series, props.start, props.end, props.step, props.stacked, props.bands]);
  return <div class="chart" ref={host} />;
}
