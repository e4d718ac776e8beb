// A tiny element builder: h('button', { type: 'button', onclick }, 'Save').

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'value' || key === 'checked' || key === 'selected') {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A table whose rows come from `rows`; `columns` is [[heading, row => cell], …]. */
export function table(caption, columns, rows, empty) {
  const body = rows.length
    ? rows.map((row) => h('tr', {}, columns.map(([, cell]) => h('td', {}, cell(row)))))
    : [h('tr', {}, h('td', { colspan: columns.length, class: 'empty' }, empty))];
  return h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': caption },
    h('table', {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, columns.map(([heading]) => h('th', { scope: 'col' }, heading)))),
      h('tbody', {}, body)));
}

/** A status line that screen readers announce. */
export function notice(text, kind) {
  return h('p', { class: `notice ${kind || ''}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

export function formatBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** A labelled account picker; remembers the choice for the tab. */
export function accountPicker(accounts, onChange) {
  const remembered = sessionStorage.getItem('egressd.account');
  const chosen = accounts.some((a) => a.id === remembered) ? remembered : accounts[0]?.id;
  const select = h('select', { id: 'account', onchange: () => {
    sessionStorage.setItem('egressd.account', select.value);
    onChange(select.value);
  } }, accounts.map((a) => h('option', { value: a.id, selected: a.id === chosen }, `${a.name} (${a.id})`)));
  return { element: h('p', { class: 'picker' }, h('label', { for: 'account' }, 'Account '), select), chosen };
}
