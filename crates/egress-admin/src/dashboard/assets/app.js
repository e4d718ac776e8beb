// The dashboard shell: sign in and out, the page router (#/page), and what pages share.

import { ApiError, get, setToken, token, whenUnauthorized } from './api.js';
import { fill, h, notice } from './dom.js';
import { addressSpacePage } from './address-space.js';
import { policiesPage } from './policies.js';
import { settingsPage } from './settings.js';
import { livePage } from './live.js';

const PAGES = {
  'address-space': { title: 'Leased IPs', render: addressSpacePage },
  policies: { title: 'Egress policies', render: policiesPage },
  'traffic-settings': { title: 'Traffic settings', render: settingsPage },
  live: { title: 'Live traffic', render: livePage },
};

const $ = (id) => document.getElementById(id);

/** What every page gets: where to draw, the accounts the token sees, and a stop hook. */
const session = { accounts: [], stoppers: [] };

function stopPage() {
  for (const stop of session.stoppers.splice(0)) stop();
}

function showSignIn(message) {
  stopPage();
  $('nav').hidden = true;
  $('sign-out').hidden = true;
  $('who').textContent = '';
  fill($('page'));
  $('sign-in').hidden = false;
  $('token-error').textContent = message || '';
  $('token').setAttribute('aria-invalid', message ? 'true' : 'false');
  $('token').focus();
}

async function signIn(secret) {
  setToken(secret);
  try {
    const { body } = await get('/v1/accounts');
    session.accounts = body;
  } catch (e) {
    setToken(null);
    const why = e instanceof ApiError && e.status === 401
      ? 'That token is unknown or revoked.'
      : e.message;
    showSignIn(why);
    return false;
  }
  $('sign-in').hidden = true;
  $('nav').hidden = false;
  $('sign-out').hidden = false;
  $('who').textContent = session.accounts.length === 1
    ? `account ${session.accounts[0].id}`
    : `${session.accounts.length} accounts`;
  return true;
}

function signOut(message) {
  setToken(null);
  session.accounts = [];
  showSignIn(message);
}

async function route() {
  if (!token()) {
    showSignIn();
    return;
  }
  stopPage();
  const name = location.hash.replace(/^#\//, '') || 'address-space';
  const page = PAGES[name] || PAGES['address-space'];
  for (const link of $('nav').querySelectorAll('a')) {
    if (link.getAttribute('href') === `#/${name}`) {
      link.setAttribute('aria-current', 'page');
    } else {
      link.removeAttribute('aria-current');
    }
  }
  document.title = `${page.title} · egressd`;
  const root = fill($('page'), h('h1', { id: 'page-title' }, page.title));
  const body = h('div', { class: 'page-body' }, notice('Loading…'));
  root.append(body);
  try {
    await page.render(body, session);
  } catch (e) {
    fill(body, notice(e.message, 'error'));
  }
}

whenUnauthorized(() => signOut('The node refused the token; sign in again.'));

$('sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const secret = $('token').value.trim();
  if (!secret) {
    showSignIn('Paste an admin token.');
    return;
  }
  if (await signIn(secret)) {
    $('token').value = '';
    await route();
    $('page-title')?.setAttribute('tabindex', '-1');
    $('page-title')?.focus();
  }
});

$('sign-out').addEventListener('click', () => signOut());
window.addEventListener('hashchange', route);

(async () => {
  if (token() && !(await signIn(token()))) return;
  await route();
})();
