// A small history router: paths are the app's own (/query), the prefix is added for the URL.
import { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { prefix } from './api';

export function currentPath(): string {
  let p = location.pathname;
  if (prefix && p.startsWith(prefix)) p = p.slice(prefix.length);
  return p.replace(/\/+$/, '') || '/';
}

const listeners = new Set<() => void>();
window.addEventListener('popstate', () => listeners.forEach((f) => f()));

export function navigate(to: string, replace = false): void {
  const url = prefix + to;
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  listeners.forEach((f) => f());
}

// useLocation re-renders on navigation; it returns path and search.
export function useLocation(): { path: string; search: string } {
  const [, set] = useState(0);
  useEffect(() => {
    const f = () => set((n) => n + 1);
    listeners.add(f);
    return () => {
      listeners.delete(f);
    };
  }, []);
  return { path: currentPath(), search: location.search };
}

export function Link(props: { href: string; class?: string; children: ComponentChildren; title?: string }) {
  return (
    <a
      href={prefix + props.href}
      class={props.class}
      title={props.title}
      onClick={(e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(props.href);
      }}
    >
      {props.children}
    </a>
  );
}
