import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { prefix } from './api';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { Link, navigate, useLocation } from './router';
import { QueryPage } from './query';
import { TargetsPage, ServiceDiscoveryPage } from './targets';
import { RulesPage, AlertsPage } from './rules';
import { AlertGroupsPage, SilencesPage, ExplainPage } from './alertmanager';
import { TryRulePage } from './tryrule';
import { StatusPage, TSDBStatusPage, FlagsPage, ConfigPage } from './status';

interface Page {
  path: string;
  title: string;
  menu?: string;
  render: () => preact.JSX.Element;
}

const pages: Page[] = [
  { path: '/query', title: 'Query', render: () => <QueryPage /> },
  { path: '/alerts', title: 'Alerts', render: () => <AlertsPage /> },
  { path: '/alertmanager', title: 'Alert groups', menu: 'Alertmanager', render: () => <AlertGroupsPage /> },
  { path: '/silences', title: 'Silences', menu: 'Alertmanager', render: () => <SilencesPage /> },
  { path: '/explain', title: 'Why (not) paged?', menu: 'Alertmanager', render: () => <ExplainPage /> },
  { path: '/try-rule', title: 'Try a rule', menu: 'Alertmanager', render: () => <TryRulePage /> },
  { path: '/targets', title: 'Targets', menu: 'Status', render: () => <TargetsPage /> },
  { path: '/service-discovery', title: 'Service discovery', menu: 'Status', render: () => <ServiceDiscoveryPage /> },
  { path: '/rules', title: 'Rules', menu: 'Status', render: () => <RulesPage /> },
  { path: '/status', title: 'Runtime & build', menu: 'Status', render: () => <StatusPage /> },
  { path: '/tsdb-status', title: 'TSDB status', menu: 'Status', render: () => <TSDBStatusPage /> },
  { path: '/flags', title: 'Flags', menu: 'Status', render: () => <FlagsPage /> },
  { path: '/config', title: 'Configuration', menu: 'Status', render: () => <ConfigPage /> },
];

function Nav({ path }: { path: string }) {
  const menus = ['Alertmanager', 'Status'];
  return (
    <nav class="top">
      <Link href="/query" class="brand">Vigil</Link>
      {pages.filter((p) => !p.menu).map((p) => (
        <Link href={p.path} class={path === p.path ? 'active' : ''}>{p.title}</Link>
      ))}
      {menus.map((m) => (
        <div class="menu">
          <span class={pages.some((p) => p.menu === m && p.path === path) ? 'active' : ''}>{m} ▾</span>
          <div class="items">
            {pages.filter((p) => p.menu === m).map((p) => (
              <Link href={p.path} class={path === p.path ? 'active' : ''}>{p.title}</Link>
            ))}
          </div>
        </div>
      ))}
    </nav>
  );
}

function App() {
  const { path } = useLocation();
  // Prometheus's old /graph links: the same parameters on /query.
  const p = path === '/graph' ? '/query' : path;
  useEffect(() => {
    if (path === '/graph' || path === '/') navigate('/query' + location.search, true);
  }, [path]);
  const page = pages.find((x) => x.path === p);
  useEffect(() => {
    document.title = (page ? page.title + ' - ' : '') + 'Vigil';
  }, [page]);
  return (
    <div>
      <Nav path={p} />
      <main>{page ? page.render() : <div class="error">No page at {path}.</div>}</main>
    </div>
  );
}

// Until the server is ready (e.g. replaying its WAL) its APIs answer 503: the page says Vigil
// is starting and shows itself once /-/ready answers 200.
function Boot() {
  const [ready, setReady] = useState<boolean | null>(null);
  const [since] = useState(Date.now());
  const [, tick] = useState(0);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout>;
    const poll = () =>
      fetch(prefix + '/-/ready', { cache: 'no-store' })
        .then((r) => r.ok)
        .catch(() => false)
        .then((ok) => {
          if (!live) return;
          setReady(ok);
          if (!ok) {
            tick((n) => n + 1);
            timer = setTimeout(poll, 1000);
          }
        });
    poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, []);
  if (ready === null) return null;
  if (!ready) {
    return (
      <div>
        <nav class="top"><span class="brand" style="color:#fff;font-weight:700;font-size:16px">Vigil</span></nav>
        <main>
          <h2 class="starting">Vigil is starting up…</h2>
          <p class="hint">Storage is being opened (WAL replay); this page continues by itself when Vigil is ready ({Math.round((Date.now() - since) / 1000)}s).</p>
        </main>
      </div>
    );
  }
  return <App />;
}

render(<Boot />, document.getElementById('app')!);
