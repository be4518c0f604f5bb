import { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Labels } from './api';

// useFetch runs load once (and again when deps change or reload() is called).
export function useFetch<T>(load: () => Promise<T>, deps: unknown[] = []): { data?: T; error?: string; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load()
      .then((data) => live && setState({ data, loading: false }))
      .catch((e) => live && setState({ error: String(e?.message || e), loading: false }));
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}

export function LabelBadges({ labels, skip }: { labels: Labels; skip?: string[] }) {
  return (
    <span class="badges">
      {Object.keys(labels || {})
        .filter((k) => !skip?.includes(k))
        .sort()
        .map((k) => (
          <span class="badge">
            {k}="{labels[k]}"
          </span>
        ))}
    </span>
  );
}

export function Loading({ loading, error }: { loading: boolean; error?: string }) {
  if (error) return <div class="error">Error: {error}</div>;
  if (loading) return <div class="loading">Loading…</div>;
  return null;
}

export function State({ state }: { state: string }) {
  return <span class={'state state-' + state.toLowerCase()}>{state}</span>;
}

export function Section(props: { title: ComponentChildren; children: ComponentChildren; open?: boolean; class?: string }) {
  const [open, setOpen] = useState(props.open ?? true);
  return (
    <section class={'group ' + (props.class || '')}>
      <h3 class="group-title" onClick={() => setOpen(!open)}>
        <span class="caret">{open ? '▾' : '▸'}</span> {props.title}
      </h3>
      {open && props.children}
    </section>
  );
}

export function Filter(props: { value: string; onInput: (v: string) => void; placeholder?: string }) {
  return <input class="filter" type="search" placeholder={props.placeholder || 'Filter by text'} value={props.value} onInput={(e) => props.onInput(e.currentTarget.value)} />;
}

export function matchesText(text: string, ...fields: (string | Labels | undefined)[]): boolean {
  if (!text) return true;
  const t = text.toLowerCase();
  return fields.some((f) => {
    if (!f) return false;
    if (typeof f === 'string') return f.toLowerCase().includes(t);
    return Object.entries(f).some(([k, v]) => `${k}="${v}"`.toLowerCase().includes(t));
  });
}
