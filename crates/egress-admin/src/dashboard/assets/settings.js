// Traffic settings of one account: proxy, TCP, UDP and host selectors.

import { call, get, seg } from './api.js';
import { accountPicker, fill, h, notice } from './dom.js';
import { itemPath, showFormError, showProblems } from './problems.js';

const SWITCHES = [
  ['proxy', 'Proxy', 'Off: no dedicated egress for this account; everything uses the default range.'],
  ['tcp', 'TCP', 'Off: TCP is not proxied.'],
  ['udp', 'UDP', 'Off: UDP is refused and clients fall back to TCP (HTTP/3 → HTTP/2).'],
  ['host_selectors', 'Host selectors', 'Off: policies cannot match on host names (net.fqdn.*).'],
];

export async function settingsPage(body, session) {
  if (!session.accounts.length) {
    fill(body, notice('This token sees no account.'));
    return;
  }
  const slot = h('div');
  const picker = accountPicker(session.accounts, (id) => show(id).catch((e) => fill(slot, notice(e.message, 'error'))));
  fill(body, picker.element, slot);

  async function show(account) {
    const path = `/v1/accounts/${seg(account)}/traffic-settings`;
    const { body: settings, etag } = await get(path);
    let revision = etag;
    const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
    const form = h('form', { class: 'settings', novalidate: true },
      h('fieldset', {}, h('legend', {}, `Traffic settings of ${account}`),
        SWITCHES.map(([name, label, help]) => h('div', { class: 'field check' },
          h('label', {}, h('input', { type: 'checkbox', name, checked: settings[name], 'aria-describedby': `help-${name} err-${name}` }), ` ${label}`),
          h('p', { class: 'help', id: `help-${name}` }, help),
          h('p', { class: 'field-error', id: `err-${name}`, 'data-error-for': name })))),
      h('p', { class: 'field-error', 'data-error-for': 'form', role: 'alert' }),
      status,
      h('button', { type: 'submit', class: 'primary' }, 'Save'));
    // A "Saved." left from an earlier save would speak for choices not yet saved.
    form.addEventListener('change', () => fill(status));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      fill(status, 'Saving…');
      const wanted = Object.fromEntries(SWITCHES.map(([name]) => [name, form.elements[name].checked]));
      try {
        const saved = await call('PUT', path, wanted, revision);
        revision = saved.etag;
        fill(status, 'Saved.');
      } catch (e) {
        fill(status);
        if (e.problems.length) {
          showProblems(form, e.problems, `${itemPath(['accounts', account])}.traffic`, {});
        } else if (e.code === 'conflict') {
          revision = (await get(path)).etag;
          showFormError(form, 'The settings changed elsewhere since this page loaded. Your choices are kept; save again to apply them.');
        } else {
          showFormError(form, e.message);
        }
      }
    });
    fill(slot, form);
  }
  await show(picker.chosen);
}
