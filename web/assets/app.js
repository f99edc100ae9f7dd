// The organizer / unit manager app at `/`: who is signed in, the header, and
// hash routing between the sections (#buoi-hoc, #don-vi, #thanh-vien, #tai-khoan).

import { initI18n, t } from './i18n.js';
import { api, setCsrf, setUnauthorizedHandler, toLogin } from './api.js';
import { h, clear } from './dom.js';
import { notice } from './ui.js';
import * as sessions from './sessions.js';
import * as units from './units.js';
import * as members from './members.js';
import * as accounts from './accounts.js';

const SECTIONS = {
  'buoi-hoc': sessions,
  'don-vi': units,
  'thanh-vien': members,
  'tai-khoan': accounts,
};

initI18n();

const main = document.getElementById('main');
let ctx = null;
let current = null; // { name, handle }

/** #don-vi/01840?x=1 → { name: 'don-vi', parts: ['01840'], params } */
export function parseRoute() {
  const raw = location.hash.replace(/^#/, '');
  const [path, query] = raw.split('?');
  const segs = path.split('/').filter(Boolean).map((s) => {
    try { return decodeURIComponent(s); } catch { return s; }
  });
  const name = SECTIONS[segs[0]] ? segs[0] : 'buoi-hoc';
  return { name, parts: SECTIONS[segs[0]] ? segs.slice(1) : [], params: new URLSearchParams(query || '') };
}

function setActiveTab(name) {
  for (const a of document.querySelectorAll('.tabs a')) {
    if (a.getAttribute('data-route') === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function route() {
  const r = parseRoute();
  setActiveTab(r.name);
  if (current && current.name === r.name && current.handle && current.handle.update && current.handle.update(r)) {
    return;
  }
  clear(main);
  const view = h('div', { class: 'view' });
  main.append(view);
  const sectionChanged = current && current.name !== r.name;
  current = { name: r.name, handle: null };
  try {
    const handle = await SECTIONS[r.name].render(view, r, ctx);
    if (current.name === r.name) current.handle = handle || null;
  } catch (err) {
    view.append(notice('error', String(err && err.message ? err.message : err)));
  }
  if (sectionChanged) {
    const heading = view.querySelector('h1');
    if (heading && document.activeElement && !view.contains(document.activeElement)) {
      heading.setAttribute('tabindex', '-1');
      heading.focus({ preventScroll: true });
    }
  }
}

function showAccount(account) {
  document.getElementById('account-name').textContent = account.display_name;
  const role = document.getElementById('account-role');
  role.setAttribute('data-i18n', `role.${account.role}`);
  role.textContent = t(`role.${account.role}`);
  const unit = document.getElementById('account-unit');
  if (account.unit_name) {
    unit.removeAttribute('data-i18n');
    unit.textContent = `${account.unit_name} (${account.unit_code})`;
  } else {
    unit.setAttribute('data-i18n', 'shell.all_units');
    unit.textContent = t('shell.all_units');
  }
  document.getElementById('account').hidden = false;
  const logout = document.getElementById('logout');
  logout.hidden = false;
  logout.addEventListener('click', async () => {
    logout.disabled = true;
    try { await api('POST', '/auth/logout', { noRedirect: true }); } catch { /* signed out anyway */ }
    location.assign('/dang-nhap');
  });
}

async function start() {
  setUnauthorizedHandler(toLogin);
  let me;
  try {
    me = await api('GET', '/auth/me');
  } catch (err) {
    if (err.status === 401) return; // redirected
    clear(main);
    main.append(notice('error', err.message));
    return;
  }
  setCsrf(me.csrf_token);
  const account = me.account;
  ctx = {
    account,
    isOrganizer: account.role === 'organizer',
    go: (hash) => { if (location.hash === hash) route(); else location.hash = hash; },
  };
  document.body.classList.add(ctx.isOrganizer ? 'role-organizer' : 'role-manager');
  showAccount(account);
  window.addEventListener('hashchange', route);
  await route();
  document.body.setAttribute('data-ready', 'true');
}

start();
