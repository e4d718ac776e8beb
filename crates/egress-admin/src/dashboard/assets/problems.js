// Maps the API's 422 problems onto form fields: a problem's path names the item and field,
// such as accounts["acme"].policies["ssh"].method.ipv4_fallback.

/**
 * The field a problem concerns inside the item at `item` (such as
 * `accounts["acme"].policies["ssh"]`): `''` for the item itself, `method.ipv4_fallback` for a
 * field of it, null when the problem is about something else.
 */
export function fieldOf(path, item) {
  if (!path.startsWith(item)) return null;
  const rest = path.slice(item.length);
  if (rest !== '' && !rest.startsWith('.')) return null;
  return rest.slice(1);
}

/** The path of an item as the validator writes it: `accounts["acme"].policies["ssh"]`. */
export function itemPath(...steps) {
  return steps.map(([list, key]) => `${list}[${JSON.stringify(key)}]`).join('.');
}

/**
 * Shows each problem next to its field in `form` (an element with data-field=… and an error
 * slot #err-<field>), the rest in the form's general error slot. Returns how many were shown.
 */
export function showProblems(form, problems, item, aliases) {
  clearProblems(form);
  const general = [];
  for (const problem of problems) {
    const field = fieldOf(problem.path, item);
    const name = field === null ? null : (aliases[field] ?? field);
    const slot = name === null ? null : form.querySelector(`[data-error-for="${name}"]`);
    if (!slot) {
      general.push(problem);
      continue;
    }
    slot.append(line(problem));
    const input = form.querySelector(`[name="${name}"]`);
    input?.setAttribute('aria-invalid', 'true');
  }
  const rest = form.querySelector('[data-error-for="form"]');
  for (const problem of general) rest.append(line(problem));
  return problems.length;
}

function line(problem) {
  const p = document.createElement('span');
  p.className = 'problem';
  p.textContent = problem.message;
  p.dataset.rule = problem.rule;
  p.title = problem.path;
  return p;
}

export function clearProblems(form) {
  for (const slot of form.querySelectorAll('[data-error-for]')) slot.replaceChildren();
  for (const input of form.querySelectorAll('[aria-invalid]')) input.setAttribute('aria-invalid', 'false');
}

/** Shows a message that is no validation problem (400, 409, 403…) at the form level. */
export function showFormError(form, message) {
  clearProblems(form);
  form.querySelector('[data-error-for="form"]').append(line({ message, rule: '', path: '' }));
}
