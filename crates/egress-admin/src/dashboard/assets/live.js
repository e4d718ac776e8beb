// Live traffic: connections open now, recent connection logs with filters, per-location
// health, and charts of connections and bytes per egress IP over the last hour.

import { get } from './api.js';
import { fill, formatBytes, h, notice, table } from './dom.js';
import { legend, lineChart } from './chart.js';

const REFRESH_MS = 5000;
const FILTERS = [
  ['account', 'Account'],
  ['user', 'User'],
  ['policy', 'Policy'],
  ['egress_ip', 'Egress IP'],
  ['close_reason', 'Close reason'],
];

const ageText = (ms) => (ms < 60_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);
const dash = (v) => (v === null || v === undefined || v === '' ? '—' : v);
const dst = (r) => `${r.dst_host ? `${r.dst_host} ` : ''}${r.dst_ip ?? ''}:${r.dst_port}`;

export async function livePage(body, session) {
  const operator = session.accounts.length !== 1;
  const status = h('p', { class: 'status', role: 'status' });
  const pause = h('button', { type: 'button', 'aria-pressed': 'false', onclick: () => {
    paused = !paused;
    pause.setAttribute('aria-pressed', String(paused));
    pause.textContent = paused ? 'Resume updates' : 'Pause updates';
  } }, 'Pause updates');
  const connections = h('section', { 'aria-labelledby': 'h-connections' });
  const health = h('section', { 'aria-labelledby': 'h-health' });
  const charts = h('section', { 'aria-labelledby': 'h-charts' });
  const logs = h('div');
  const filters = h('form', { class: 'filters', novalidate: true, 'aria-label': 'Log filters' },
    FILTERS.map(([name, label]) => h('div', { class: 'field' },
      h('label', { for: `filter-${name}` }, label),
      h('input', { type: 'text', id: `filter-${name}`, name, spellcheck: 'false' }))),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Apply filters'),
      h('button', { type: 'reset' }, 'Clear')));
  filters.addEventListener('submit', (e) => { e.preventDefault(); refresh(); });
  filters.addEventListener('reset', () => setTimeout(refresh));
  fill(body, h('p', {}, pause, ' ', status), connections,
    h('section', { 'aria-labelledby': 'h-logs' }, h('h2', { id: 'h-logs' }, 'Recent connection logs'), filters, logs),
    health, charts);

  let paused = false;
  async function refresh() {
    const query = new URLSearchParams({ limit: '50' });
    for (const [name] of FILTERS) {
      const value = filters.elements[name].value.trim();
      if (value) query.set(name, value);
    }
    const [open, recent] = await Promise.all([
      get('/v1/connections?limit=200'),
      get(`/v1/logs?${query}`).catch((e) => ({ error: e })),
    ]);
    fill(connections, h('h2', { id: 'h-connections' }, `Active connections (${open.body.length})`),
      table('Open connections', [
        ['Age', (r) => ageText(r.age_ms)],
        ['Account', (r) => dash(r.account)],
        ['User', (r) => dash(r.user)],
        ['Client', (r) => `${r.src_ip}:${r.src_port}`],
        ['Destination', dst],
        ['Policy', (r) => h('span', { class: 'policy-cell' }, dash(r.policy_name))],
        ['Egress IP', (r) => h('code', {}, dash(r.egress_ip))],
        ['Leaves in', (r) => dash(r.egress_location)],
        ['Geolocates to', (r) => dash(r.egress_ip_location)],
        ['Transport', (r) => r.transport],
      ], open.body, 'No connection is open on this node.'));
    fill(logs, recent.error
      ? notice(recent.error.message, 'error')
      : table('Log records', [
        ['Ended', (r) => (r.end || '').replace('T', ' ').replace(/\.\d+Z$/, 'Z')],
        ['Account', (r) => dash(r.account)],
        ['User', (r) => dash(r.user)],
        ['Destination', dst],
        ['Policy', (r) => dash(r.policy_name)],
        ['Egress IP', (r) => h('code', {}, dash(r.egress_ip))],
        ['Fallback', (r) => dash(r.fallback)],
        ['Bytes ↑/↓', (r) => `${formatBytes(r.bytes_client_to_upstream)} / ${formatBytes(r.bytes_upstream_to_client)}`],
        ['Close reason', (r) => r.close_reason],
      ], recent.body, 'No log record matches.'));
    if (operator) {
      await Promise.all([drawHealth(open.body), drawCharts()]);
    } else {
      fill(health, h('h2', { id: 'h-health' }, 'Locations'), notice('Location health and charts need an operator token.'));
    }
    fill(status, `Updated ${new Date().toLocaleTimeString()}`);
  }

  // Another location as this node's fleet probes see it (GET /v1/status: fleet_peers, locations_down).
  function fleetState(status, code) {
    const peers = (status.fleet_peers || []).filter((p) => p.location === code);
    if ((status.locations_down || []).includes(code)) return 'down';
    if (peers.some((p) => p.up)) return 'up';
    return 'not reported';
  }

  async function drawHealth(open) {
    const [locations, nodes, node, recent] = await Promise.all([
      get('/v1/locations'), get('/v1/nodes'), get('/v1/status'), get('/v1/logs?limit=1000'),
    ]);
    const rows = locations.body.map((l) => {
      const here = node.body.location === l.code;
      const ended = recent.body.filter((r) => r.egress_location === l.code);
      const failed = ended.filter((r) => !['closed', 'idle_timeout'].includes(r.close_reason));
      return {
        code: l.code, city: l.city,
        nodes: nodes.body.filter((n) => n.location === l.code).map((n) => n.id).join(', ') || '—',
        state: here ? (node.body.revision === node.body.latest_revision ? 'up' : 'up (applying)') : fleetState(node.body, l.code),
        open: open.filter((c) => c.egress_location === l.code).length,
        failed: `${failed.length} of ${ended.length}`,
      };
    });
    fill(health, h('h2', { id: 'h-health' }, 'Per-location health'),
      h('p', { class: 'help' }, `Seen from node ${node.body.node_id}: other locations are up while one of their nodes answers its probes (a node without --fleet-dir probes none).`),
      table('Locations', [
        ['Location', (r) => `${r.code} (${r.city})`],
        ['Nodes', (r) => r.nodes],
        ['State', (r) => h('span', { class: `state ${r.state === 'up' ? 'up' : r.state === 'down' ? 'down' : 'unknown'}` }, r.state)],
        ['Open connections leaving here', (r) => r.open],
        ['Recent connections ended abnormally', (r) => r.failed],
      ], rows, 'No locations are configured.'));
  }

  async function drawCharts() {
    const { body: history } = await get('/v1/traffic-history');
    const end = Date.now();
    const start = end - 3600_000;
    const series = (key) => history.series.map((s) => ({
      label: s.egress_ip,
      points: s.samples.map((p) => ({ t: Date.parse(p.at), v: p[key] })),
    }));
    const labels = history.series.map((s) => s.egress_ip);
    fill(charts, h('h2', { id: 'h-charts' }, 'The last hour per egress IP'),
      h('p', { class: 'help' }, `One sample every ${history.interval_secs} s. Bytes are counted when a connection ends.`),
      labels.length ? null : notice('No egress IP has carried traffic in the last hour.'),
      h('div', { class: 'charts' },
        h('figure', {}, h('figcaption', {}, 'Open connections'),
          lineChart({ title: 'Open connections per egress IP', series: series('connections'), start, end, format: (v) => String(Math.round(v)) })),
        h('figure', {}, h('figcaption', {}, 'Bytes per interval'),
          lineChart({ title: 'Bytes per egress IP', series: series('bytes'), start, end, format: (v) => formatBytes(Math.round(v)) }))),
      legend(labels));
  }

  const tick = async () => {
    if (!paused) await refresh().catch((e) => fill(status, e.message));
  };
  await tick();
  const timer = setInterval(tick, REFRESH_MS);
  session.stoppers.push(() => clearInterval(timer));
}
