// Address space → Leased IPs: every dedicated IPv4 and /64 with who holds it, where, and how
// busy it is now (live connections and the port budget of its busiest destination).

import { get } from './api.js';
import { fill, h, notice, table } from './dom.js';

/** The 8 hextets of an IPv6 address, as numbers. */
export function hextets(address) {
  const [head, tail] = address.split('::');
  const part = (s) => (s ? s.split(':').map((x) => parseInt(x, 16)) : []);
  const left = part(head);
  const right = tail === undefined ? [] : part(tail);
  const zeros = new Array(8 - left.length - right.length).fill(0);
  return tail === undefined ? left : [...left, ...zeros, ...right];
}

/** Whether an address lies in a /64 written as `prefix::/64`. */
export function inSlash64(address, range) {
  if (!address || !address.includes(':')) return false;
  const a = hextets(address);
  const r = hextets(range.split('/')[0]);
  return a.slice(0, 4).every((x, i) => x === r[i]);
}

function meter(used, limit) {
  const share = limit ? used / limit : 0;
  const percent = (share * 100).toFixed(share < 0.01 && share > 0 ? 3 : 1);
  const bar = h('meter', { min: 0, max: limit || 1, value: used, 'aria-label': 'port budget used' });
  return h('span', { class: 'budget' }, bar, ` ${used} / ${limit} (${percent}%)`);
}

export async function addressSpacePage(body) {
  const load = async () => {
    const [ips, connections, usage] = await Promise.all([
      get('/v1/leased-ips'),
      get('/v1/connections?limit=10000'),
      get('/v1/port-usage?top=10000'),
    ]);
    const live = connections.body;
    const rows = ips.body.map((ip) => {
      const v4 = live.filter((c) => c.egress_ip === ip.ipv4).length;
      const v6 = live.filter((c) => inSlash64(c.egress_ip, ip.ipv6)).length;
      const pairs = usage.body.filter((u) => u.egress_ip === ip.ipv4);
      const busiest = pairs.reduce((max, u) => (u.connections > max.connections ? u : max),
        { connections: 0, limit: pairs[0]?.limit });
      return { ...ip, v4, v6, busiest };
    });
    const limit = usage.body[0]?.limit;
    fill(body,
      h('p', { class: 'help' }, `${rows.length} dedicated egress IPs. Connections are those open on this node now; the port budget is the busiest destination's share of max_connections_per_destination.`),
      table('Leased IPs', [
        ['IPv4', (r) => h('code', {}, r.ipv4)],
        ['IPv6 range', (r) => h('code', {}, r.ipv6)],
        ['Account', (r) => r.account],
        ['Location', (r) => r.location],
        ['City', (r) => `${r.city}${r.country ? `, ${r.country}` : ''}`],
        ['Source', (r) => (r.source === 'byoip' ? 'BYOIP' : `leased${r.pool ? ` (${r.pool})` : ''}`)],
        ['Geolocation check', () => h('span', { class: 'muted' }, 'not checked')],
        ['Connections', (r) => `${r.v4} IPv4 · ${r.v6} IPv6`],
        ['Port budget', (r) => meter(r.busiest.connections, r.busiest.limit ?? limit ?? 0)],
      ], rows, 'No dedicated egress IPs are configured.'),
      h('p', {}, h('button', { type: 'button', onclick: () => load().catch(show) }, 'Refresh')));
    if (!limit) {
      const budget = body.querySelectorAll('.budget');
      for (const cell of budget) fill(cell, h('span', { class: 'muted' }, '0 in use'));
    }
  };
  const show = (e) => fill(body, notice(e.status === 403
    ? `${e.message}. The address space needs an operator token.` : e.message, 'error'));
  await load().catch(show);
}
