import { render } from 'preact';
import { useEffect } from 'preact/hooks';
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

render(<App />, document.getElementById('app')!);
