// Egress policies of one account: the ordered list (move up/down, enable/disable, delete), an
// editor validated as you type, and a panel that explains how a connection would leave.

import { ApiError, call, get, seg } from './api.js';
import { accountPicker, fill, h, notice } from './dom.js';
import { clearProblems, itemPath, showFormError, showProblems } from './problems.js';

/** Validator field paths (under the policy) → form field names. */
const FIELDS = {
  '': 'name',
  'method.ipv4': 'ipv4',
  'method.ipv6': 'ipv6',
  'method.ipv4_fallback': 'ipv4_fallback',
};

const policyId = (p) => p.id ?? p.name;

function methodText(method) {
  if (method === 'default' || !method.dedicated) return 'default range';
  const d = method.dedicated;
  const fallback = d.ipv4_fallback === undefined || d.ipv4_fallback === null
    ? 'no fallback'
    : d.ipv4_fallback === '0.0.0.0' ? 'fallback: default range' : `fallback ${d.ipv4_fallback}`;
  return `dedicated ${d.ipv4}${d.ipv6 ? ` + ${d.ipv6}` : ''}, ${fallback}`;
}

/** A labelled control with its help and its error slot. */
function field(name, label, control, help) {
  control.id = `f-${name}`;
  control.name = name;
  control.setAttribute('aria-describedby', `err-${name}${help ? ` help-${name}` : ''}`);
  return h('div', { class: `field field-${name}` },
    h('label', { for: control.id }, label),
    control,
    help ? h('p', { class: 'help', id: `help-${name}` }, help) : null,
    h('p', { class: 'field-error', id: `err-${name}`, 'data-error-for': name, 'aria-live': 'polite' }));
}

export async function policiesPage(body, session) {
  if (!session.accounts.length) {
    fill(body, notice('This token sees no account.'));
    return;
  }
  const picker = accountPicker(session.accounts, (id) => {
    state.account = id;
    closeEditor();
    load().catch(showListError);
  });
  const state = { account: picker.chosen, policies: [], etag: null, ips: [], focus: null };
  const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const list = h('div', { class: 'policy-list' });
  const editor = h('div', { class: 'editor-slot' });
  const tester = h('div', { class: 'tester-slot' });
  const newButton = h('button', { type: 'button', id: 'new-policy', onclick: () => openEditor(null) }, 'New policy');
  fill(body, picker.element, h('p', {}, newButton), editor, status, list, tester);

  const base = () => `/v1/accounts/${seg(state.account)}`;
  const showListError = (e) => fill(status, e.message);

  async function load() {
    const [policies, ips] = await Promise.all([
      get(`${base()}/policies`),
      get(`${base()}/dedicated-ips`),
    ]);
    state.policies = policies.body;
    state.etag = policies.etag;
    state.ips = ips.body;
    renderList();
  }

  async function act(promise, focus, done) {
    state.focus = focus;
    try {
      await promise;
      fill(status, done);
    } catch (e) {
      fill(status, e.code === 'conflict'
        ? 'The policies changed elsewhere; the list is reloaded, try again.'
        : e.message);
    }
    await load().catch(showListError);
  }

  function move(index, to) {
    const policy = state.policies[index];
    const other = state.policies[to];
    // Moving down = moving the next policy above this one.
    const [mover, precedence] = to < index ? [policy, other.precedence] : [other, policy.precedence];
    const path = `${base()}/policies/${seg(policyId(mover))}/move`;
    const direction = to < index ? 'up' : 'down';
    return act(call('POST', path, { precedence }, state.etag),
      { id: policyId(policy), action: direction }, `Moved “${policy.name}” ${direction}.`);
  }

  function renderList() {
    const count = state.policies.length;
    const items = state.policies.map((p, i) => {
      const id = policyId(p);
      const button = (action, label, onclick, disabled) => h('button', {
        type: 'button', class: `act-${action}`, dataset: { action },
        'aria-label': `${label}: ${p.name}`, disabled, onclick,
      }, label);
      let deleteArmed = false;
      const del = button('delete', 'Delete', () => {
        if (!deleteArmed) {
          deleteArmed = true;
          del.textContent = 'Confirm delete';
          del.setAttribute('aria-label', `Confirm delete: ${p.name}`);
          return;
        }
        act(call('DELETE', `${base()}/policies/${seg(id)}`, undefined, state.etag),
          null, `Deleted “${p.name}”.`);
      });
      return h('li', { class: `policy${p.enabled ? '' : ' disabled'}`, dataset: { policy: id } },
        h('div', { class: 'policy-head' },
          h('span', { class: 'precedence', title: 'precedence' }, p.precedence),
          h('strong', { class: 'policy-name' }, p.name),
          h('span', { class: `badge ${p.enabled ? 'on' : 'off'}` }, p.enabled ? 'enabled' : 'disabled')),
        h('dl', { class: 'policy-body' },
          h('dt', {}, 'Traffic'), h('dd', {}, h('code', {}, p.traffic || '(all traffic)')),
          h('dt', {}, 'Identity'), h('dd', {}, h('code', {}, p.identity || '(everyone)')),
          h('dt', {}, 'Egress'), h('dd', {}, methodText(p.method))),
        h('div', { class: 'actions' },
          button('up', 'Move up', () => move(i, i - 1), i === 0),
          button('down', 'Move down', () => move(i, i + 1), i === count - 1),
          button(p.enabled ? 'disable' : 'enable', p.enabled ? 'Disable' : 'Enable', () => act(
            call('POST', `${base()}/policies/${seg(id)}/${p.enabled ? 'disable' : 'enable'}`, undefined, state.etag),
            { id, action: p.enabled ? 'enable' : 'disable' }, `${p.enabled ? 'Disabled' : 'Enabled'} “${p.name}”.`)),
          button('edit', 'Edit', () => openEditor(p)),
          del));
    });
    fill(list, count
      ? h('ol', { class: 'policies', 'aria-label': `Policies of ${state.account}, first match wins` }, items)
      : notice('No policies: unmatched traffic uses the closest dedicated IP.'));
    if (state.focus) {
      const row = [...list.querySelectorAll('li')].find((li) => li.dataset.policy === state.focus.id);
      const wanted = row?.querySelector(`[data-action="${state.focus.action}"]`);
      const target = wanted && !wanted.disabled ? wanted : row?.querySelector('button:not([disabled])');
      target?.focus();
      state.focus = null;
    }
  }

  function closeEditor() {
    fill(editor);
    newButton.hidden = false;
  }

  function openEditor(original) {
    newButton.hidden = true;
    const last = state.policies.at(-1);
    const p = original ?? {
      name: '', precedence: last ? last.precedence + 10 : 10, enabled: true,
      traffic: '', identity: '', method: 'default',
    };
    const dedicated = p.method !== 'default' && p.method.dedicated ? p.method.dedicated : {};
    const ipOptions = (selected) => state.ips.map((ip) => h('option', { value: ip.ipv4, selected: ip.ipv4 === selected },
      `${ip.ipv4} (${ip.location})`));
    const method = h('select', {}, h('option', { value: 'default' }, 'Default range'),
      h('option', { value: 'dedicated', selected: p.method !== 'default' }, 'Dedicated IP'));
    const fallback = h('select', {},
      h('option', { value: '' }, '— none —'),
      h('option', { value: '0.0.0.0', selected: dedicated.ipv4_fallback === '0.0.0.0' }, '0.0.0.0 (default range, closest location)'),
      ipOptions(dedicated.ipv4_fallback));
    const dedicatedFields = h('fieldset', { class: 'dedicated' }, h('legend', {}, 'Dedicated IP'),
      field('ipv4', 'IPv4', h('select', {}, ipOptions(dedicated.ipv4))),
      field('ipv6', 'IPv6 /64', h('input', { type: 'text', value: dedicated.ipv6 ?? '', placeholder: 'the one paired with the IPv4' })),
      field('ipv4_fallback', 'IPv4 fallback', fallback, 'Used when the IPv4’s location is down: another of the account’s IPv4s in a different location, or 0.0.0.0.'));
    const valid = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
    const form = h('form', { class: 'editor', novalidate: true, 'aria-labelledby': 'editor-title' },
      h('h2', { id: 'editor-title' }, original ? `Edit “${original.name}”` : 'New policy'),
      field('name', 'Name', h('input', { type: 'text', value: p.name, required: true })),
      field('precedence', 'Precedence', h('input', { type: 'number', min: 0, step: 1, value: p.precedence }),
        'Lower is evaluated first; the first enabled match decides.'),
      h('div', { class: 'field check' }, h('label', {},
        h('input', { type: 'checkbox', name: 'enabled', checked: p.enabled }), ' Enabled')),
      field('traffic', 'Traffic expression', h('textarea', { rows: 2, spellcheck: 'false', value: p.traffic }),
        'Such as net.dst.port == 443; empty matches all traffic.'),
      field('identity', 'Identity expression', h('textarea', { rows: 2, spellcheck: 'false', value: p.identity }),
        'Such as any(identity.groups.name[*] in {"finance"}); empty matches everyone.'),
      field('method', 'Egress method', method),
      dedicatedFields,
      valid,
      h('p', { class: 'field-error', 'data-error-for': 'form', role: 'alert' }),
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'primary' }, original ? 'Save' : 'Create'),
        h('button', { type: 'button', onclick: closeEditor }, 'Cancel')));
    const showDedicated = () => { dedicatedFields.hidden = method.value !== 'dedicated'; };
    showDedicated();

    const read = () => {
      const v = (name) => form.elements[name].value;
      const policy = {
        precedence: Number(v('precedence')),
        name: v('name'),
        enabled: form.elements.enabled.checked,
        traffic: v('traffic'),
        identity: v('identity'),
        method: 'default',
      };
      if (original && original.id !== undefined && original.id !== null) policy.id = original.id;
      if (method.value === 'dedicated') {
        const d = { ipv4: v('ipv4') };
        if (v('ipv6').trim()) d.ipv6 = v('ipv6').trim();
        if (v('ipv4_fallback')) d.ipv4_fallback = v('ipv4_fallback');
        policy.method = { dedicated: d };
      }
      return policy;
    };
    // Problems the API cannot see because the request would not parse.
    const localProblems = (policy) => {
      const problems = [];
      const item = itemPath(['accounts', state.account], ['policies', policy.name]);
      if (!Number.isInteger(policy.precedence) || policy.precedence < 0 || form.elements.precedence.value === '') {
        problems.push({ path: `${item}.precedence`, rule: 'precedence', message: 'a whole number, 0 or more' });
      }
      if (policy.method !== 'default' && !policy.method.dedicated.ipv4) {
        problems.push({ path: `${item}.method.ipv4`, rule: 'required', message: 'the account has no dedicated IP to choose' });
      }
      return problems;
    };
    const show = (policy, problems) => showProblems(form, problems,
      itemPath(['accounts', state.account], ['policies', policy.name]), FIELDS);

    let sequence = 0;
    let timer = null;
    const validate = async () => {
      const mine = ++sequence;
      const policy = read();
      const local = localProblems(policy);
      if (local.length) {
        show(policy, local);
        fill(valid);
        return;
      }
      try {
        await call('POST', `${base()}/policy-validation`,
          { policy, replaces: original ? policyId(original) : undefined });
        if (mine !== sequence) return;
        clearProblems(form);
        fill(valid, 'No problems found.');
      } catch (e) {
        if (mine !== sequence) return;
        fill(valid);
        if (e.problems.length) {
          show(policy, e.problems);
        } else {
          showFormError(form, e.message);
        }
      }
    };
    form.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(validate, 300);
    });
    method.addEventListener('change', showDedicated);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearTimeout(timer);
      sequence += 1;
      const policy = read();
      const local = localProblems(policy);
      if (local.length) {
        show(policy, local);
        return;
      }
      try {
        const path = original ? `${base()}/policies/${seg(policyId(original))}` : `${base()}/policies`;
        await call(original ? 'PUT' : 'POST', path, policy, state.etag);
      } catch (e) {
        fill(valid);
        if (e.problems.length) {
          show(policy, e.problems);
        } else if (e instanceof ApiError && e.code === 'conflict') {
          await load().catch(showListError);
          showFormError(form, 'The policies changed since this form opened; they are reloaded. Save again to apply your change to the latest.');
        } else {
          showFormError(form, e.message);
        }
        form.querySelector('[aria-invalid="true"]')?.focus();
        return;
      }
      closeEditor();
      state.focus = { id: policyId(policy), action: 'edit' };
      fill(status, `${original ? 'Saved' : 'Created'} “${policy.name}”.`);
      await load().catch(showListError);
    });
    fill(editor, form);
    form.elements.name.focus();
  }

  await load();
  renderTester();

  function renderTester() {
    const out = h('div', { class: 'explanation', 'aria-live': 'polite' });
    const input = (name, label, value, help) => field(`t-${name}`, label, h('input', { type: 'text', value }), help);
    const proto = h('select', {}, ['tcp', 'udp', 'icmp'].map((x) => h('option', { value: x }, x)));
    const form = h('form', { class: 'tester', novalidate: true, 'aria-labelledby': 'tester-title' },
      h('h2', { id: 'tester-title' }, 'Test a connection'),
      h('div', { class: 'grid' },
        input('user', 'User', '', 'Leave empty for a client authorised by source address.'),
        input('from', 'From (client address)', '10.20.1.5'),
        input('to', 'To (host or IP, with port)', '198.18.0.10:443'),
        field('t-proto', 'Transport', proto)),
      h('p', { class: 'field-error', 'data-error-for': 'form', role: 'alert' }),
      h('button', { type: 'submit' }, 'Explain'),
      out);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const v = (name) => form.elements[name].value.trim();
      const request = { account: state.account, from: v('t-from'), to: v('t-to'), proto: v('t-proto') };
      if (v('t-user')) request.user = v('t-user');
      clearProblems(form);
      try {
        const { body: result } = await call('POST', '/v1/explain', request);
        fill(out, explanation(result));
      } catch (e) {
        fill(out);
        showFormError(form, e.message);
      }
    });
    fill(tester, form);
  }
}

function route(family, r) {
  if (!r) return null;
  return h('li', {}, `${family}: from `, h('code', {}, r.source), ` (${r.kind}), leaves in ${r.egress_location}, geolocates to ${r.egress_ip_location}`,
    r.forwarded ? ', forwarded to a node there' : '', r.fallback !== 'none' ? `, fallback used: ${r.fallback}` : '');
}

function explanation(result) {
  const plan = result.plan;
  const summary = plan.Ok
    ? h('div', { class: 'plan ok' },
      h('p', {}, h('strong', {}, plan.Ok.policy ? `Policy “${plan.Ok.policy.name}” matched` : `No policy decided (${plan.Ok.reason})`),
        ` → ${plan.Ok.method} egress, entering at ${plan.Ok.ingress_location}.`),
      h('ul', {}, route('IPv4', plan.Ok.ipv4), route('IPv6', plan.Ok.ipv6)))
    : h('div', { class: 'plan refused' }, h('p', {}, h('strong', {}, 'Refused: '), plan.Err.code));
  const steps = result.policies.map((p) => h('li', { class: `outcome-${p.outcome}` },
    h('span', { class: 'precedence' }, p.precedence), ` ${p.name}: `, p.outcome.replaceAll('_', ' ')));
  return [summary, steps.length ? h('ol', { class: 'steps', 'aria-label': 'Every policy in order' }, steps) : null];
}
