// /diem-cau#<secret>: the point operator's console. The secret from the
// operator link is kept on this device (so a refresh works) and taken off the
// address bar; the page shows the point and its session in large type.

import { initI18n, t, has } from './i18n.js';
import { api, ApiError, errorText } from './api.js';
import { h, clear, fmtRange, fmtTime, fmtClock } from './dom.js';
import { confirmDialog, notice, statusBadge } from './ui.js';

const KEY = 'diemcau.operator';
const REFRESH_MS = 60 * 1000;

initI18n();
const main = document.getElementById('main');

function storage(op, value) {
  try {
    if (op === 'get') return localStorage.getItem(KEY);
    if (op === 'set') localStorage.setItem(KEY, value);
    if (op === 'del') localStorage.removeItem(KEY);
  } catch { /* private mode: the hash still works for this visit */ }
  return null;
}

/** The secret: from the link's #fragment (then stored), else from storage. */
function takeSecret() {
  let fromHash = location.hash.replace(/^#/, '');
  try { fromHash = decodeURIComponent(fromHash); } catch { /* keep it as it is */ }
  fromHash = fromHash.trim();
  if (fromHash) {
    storage('set', fromHash);
    history.replaceState(null, '', location.pathname + location.search);
    return fromHash;
  }
  return storage('get');
}

let secret = takeSecret();
let last = null;
let timer = null;

function problem(titleKey, err) {
  clear(main);
  main.append(h('section', { class: 'card console-card console-problem', role: 'alert' },
    h('h1', { i18n: titleKey }),
    has(`err.${err.code}`) ? h('p', { class: 'big', i18n: `err.${err.code}` }) : h('p', { class: 'big', text: errorText(err) }),
    err.code === 'operator.link_invalid' ? null : h('p', { i18n: 'console.contact' })));
}

function big(key, value, extra) {
  return [h('dt', { i18n: key }), h('dd', null, value, extra || null)];
}

function show(data) {
  const { point: p, session: s } = data;
  const b = s.broadcast || {};
  clear(main);
  const placeholderKey = {
    ended: 'console.placeholder_ended',
    open: 'console.placeholder_open',
    live: 'console.placeholder_open',
  }[s.status] || 'console.placeholder';
  main.append(
    h('section', { class: 'card console-card', 'aria-labelledby': 'pt-name' },
      h('p', { class: 'eyebrow', i18n: 'console.point' }),
      h('h1', { id: 'pt-name', class: 'console-title', text: p.name }),
      h('dl', { class: 'console-facts' },
        big('console.unit', `${p.unit_name} (${p.unit_code})`),
        p.location ? big('console.location', p.location) : null,
        big('console.kind', h('span', { i18n: `pointkind.${p.kind}` })),
        p.capacity ? big('console.capacity', h('span', { i18n: 'console.capacity_n', vars: { n: p.capacity } })) : null,
        p.operator_name || p.operator_phone
          ? big('console.operator', p.operator_name || '', p.operator_phone ? [' · ', h('a', { href: `tel:${p.operator_phone}`, text: p.operator_phone })] : null)
          : null)),
    h('section', { class: 'card console-card', 'aria-labelledby': 'ss-theme' },
      h('p', { class: 'eyebrow', i18n: 'console.session' }),
      h('h2', { id: 'ss-theme', class: 'console-theme', text: s.theme }),
      h('p', { class: 'console-status' }, statusBadge(s.status)),
      h('dl', { class: 'console-facts' },
        big('console.schedule', fmtRange(s.starts_at, s.ends_at)),
        big('console.checkin', fmtRange(s.checkin_opens_at, s.checkin_closes_at)),
        b.tv_channel ? big('console.tv', b.tv_channel) : null,
        b.air_time ? big('console.air_time', fmtTime(b.air_time)) : null,
        b.stream_url ? big('console.stream', h('a', { href: b.stream_url, target: '_blank', rel: 'noopener noreferrer', class: 'break', text: b.stream_url })) : null)),
    h('section', { class: 'card console-card checkin-placeholder', id: 'checkin', 'aria-labelledby': 'ck-h' },
      h('h2', { id: 'ck-h', i18n: 'console.placeholder_title' }),
      h('p', { class: 'big', i18n: placeholderKey })),
    h('div', { class: 'console-foot' },
      h('span', { class: 'hint', i18n: 'console.updated', vars: { time: fmtClock(new Date()) } }),
      h('button', { type: 'button', class: 'btn', i18n: 'console.refresh', on: { click: () => load() } }),
      h('button', { type: 'button', class: 'btn btn-link', i18n: 'console.forget', on: { click: forget } })));
}

async function forget() {
  if (!await confirmDialog(t('console.forget_confirm'), { danger: true })) return;
  storage('del');
  secret = null;
  clearInterval(timer);
  clear(main);
  main.append(notice('ok', t('console.forgotten')));
}

async function load() {
  if (!secret) {
    problem('console.no_link_title', new ApiError(401, { error: { code: 'operator.link_required', message: t('err.operator.link_required') } }));
    return;
  }
  try {
    const data = await api('GET', '/operator/point', { headers: { Authorization: `Operator ${secret}` } });
    last = data;
    show(data);
    document.body.setAttribute('data-ready', 'true');
  } catch (err) {
    if (err.status === 401) {
      storage('del');
      clearInterval(timer);
      problem('console.invalid_title', err);
    } else if (last) {
      show(last);
      main.prepend(notice('error', t('console.offline')));
    } else {
      clear(main);
      main.append(notice('error', errorText(err)));
    }
  }
}

document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible' && secret) load(); });
window.addEventListener('hashchange', () => {
  const s = takeSecret();
  if (s && s !== secret) { secret = s; load(); }
});
timer = setInterval(() => { if (document.visibilityState === 'visible' && secret) load(); }, REFRESH_MS);
load();
