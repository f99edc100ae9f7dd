// /diem-cau#<secret>: the point operator's console (docs/console-protocol.md).
//
// The secret from the operator link is kept on this device (so a refresh
// works) and taken off the address bar. The console talks to the server over
// a WebSocket (console-link.js); every change (check-in, absence, head count,
// undo) is first written to a queue in localStorage (console-store.js), then
// sent, and leaves the queue only when the server has answered it. Offline,
// the operator keeps working; the queue is replayed when the link returns.
// Member cards are checked on the device (console-card.js).

import { initI18n, t, has, lang } from './i18n.js';
import { h, clear, append, fmtRange, fmtTime, fmtClock, fmtNumber, field, val } from './dom.js';
import { formDialog, notice, statusBadge } from './ui.js';
import { Link } from './console-link.js';
import { Outbox, newId, load, save, remove, fingerprint } from './console-store.js';
import { parseCard, verifyCard, cameraScanAvailable, scanWithCamera } from './console-card.js';
import { fold, classify, inFilter, rosterRow, FILTERS } from './console-roster.js';

const SECRET_KEY = 'diemcau.operator';
const CURRENT_KEY = 'diemcau.console.current';
const PAGE = 50;
const MAX_INFLIGHT = 20;
const REFRESH_MS = 60_000;
const ROSTER_GAP_MS = 60_000;
const ROSTER_PERIOD_MS = 5 * 60_000;
const ROSTER_TIMEOUT_MS = 60_000;
const RETRY_MS = 5_000;
/** An answer not back after this long: the link is stuck; reconnect and send again. */
const ANSWER_TIMEOUT_MS = 45_000;
const LOG_MAX = 30;
const QR_GRACE_MS = 20_000; // the previous code is still accepted for one period
const ABSENCE_REASONS = ['console.reason_sick', 'console.reason_work', 'console.reason_family', 'console.reason_leave'];

initI18n();
const main = document.getElementById('main');

// ------------------------------------------------------------ the link's secret

function takeSecret() {
  let fromHash = location.hash.replace(/^#/, '');
  try { fromHash = decodeURIComponent(fromHash); } catch { /* keep it as it is */ }
  fromHash = fromHash.trim();
  if (fromHash) {
    try { localStorage.setItem(SECRET_KEY, fromHash); } catch { /* private mode: this visit only */ }
    history.replaceState(null, '', location.pathname + location.search);
    return fromHash;
  }
  try { return localStorage.getItem(SECRET_KEY); } catch { return null; }
}

let secret = takeSecret();
let link = null;
/** The open point: its cached data, queue and state. */
let P = null;
/** Elements of the rendered console. */
let ui = null;
const view = { filter: 'all', query: '', limit: PAGE };
let projecting = false;
let wakeLock = null;
let pumpTimer = null;

// ------------------------------------------------------------ per-point data

function openPoint(id) {
  const base = `diemcau.console.p${id}`;
  const st = load(`${base}.state`, {}) || {};
  P = {
    id,
    base,
    info: load(`${base}.info`),
    roster: load(`${base}.roster`),
    st: {
      stats: { checked_in: 0, head_count: null },
      here: {},   // member code → when this device's check-in was acknowledged
      local: {},  // member code → roster fields changed by answers since the last roster
      log: [],
      offset: 0,  // server clock − device clock, ms
      qr: null,
      rosterAt: 0,
      ...st,
    },
    outbox: new Outbox(`${base}.queue`),
    inflight: new Map(), // id → when sent on this connection
    welcomed: false,
    rosterFetching: false,
    lastRosterFetch: 0,
    index: new Map(),
    keys: [],
    cardEntry: null,
    headEntry: null,
  };
  reindex();
}

function reindex() {
  const lines = Array.isArray(P.roster) ? P.roster : [];
  P.index = new Map(lines.map((l) => [l.code, l]));
  P.keys = lines.map((l) => fold(`${l.full_name} ${l.code} ${l.unit_name}`));
}

function saveState() {
  if (!save(`${P.base}.state`, P.st)) {
    // Storage full: drop the log first, it is the least useful.
    P.st.log = P.st.log.slice(0, 5);
    save(`${P.base}.state`, P.st);
  }
}

function serverNow() {
  return Date.now() + ((P && P.st.offset) || 0);
}

function takenAt() {
  return new Date(serverNow()).toISOString();
}

function updateOffset(serverTime) {
  const ms = Date.parse(serverTime);
  if (P && !Number.isNaN(ms)) P.st.offset = ms - Date.now();
}

function effective(line) {
  const o = P.st.local[line.code];
  return o ? { ...line, ...o } : line;
}

function memberName(code) {
  const line = P.index.get(code);
  return line ? line.full_name : code;
}

/** code → type of the last queued operation for that member. */
function pendingMap() {
  const map = new Map();
  for (const it of P.outbox.list()) if (it.code && it.msg.type !== 'head_count') map.set(it.code, it.msg.type);
  return map;
}

function ctx() {
  const pm = pendingMap();
  return {
    pointName: P.info ? P.info.point.name : null,
    pending: (code) => pm.get(code) || null,
    here: (code) => (Object.prototype.hasOwnProperty.call(P.st.here, code) ? P.st.here[code] : null),
    undoMs: ((P.info && P.info.undo_window_seconds) || 600) * 1000,
    now: serverNow(),
  };
}

function isCheckedIn(code) {
  const line = P.index.get(code);
  if (Object.prototype.hasOwnProperty.call(P.st.here, code)) return true;
  return !!(line && effective(line).checked_in_at);
}

/**
 * Members checked in here: never less than what the server said, nor than
 * this device's acknowledged check-ins plus queued ones known to be new.
 */
function shownCount() {
  const server = (P.st.stats && P.st.stats.checked_in) || 0;
  const codes = new Set(Object.keys(P.st.here));
  for (const it of P.outbox.list()) {
    if (it.msg.type !== 'checkin' || !it.code || codes.has(it.code)) continue;
    const line = P.index.get(it.code);
    if (line && !effective(line).checked_in_at) codes.add(it.code);
  }
  return Math.max(server, codes.size);
}

function pendingHeadCount() {
  let last = null;
  for (const it of P.outbox.list()) if (it.msg.type === 'head_count') last = it.msg.count;
  return last;
}

// ------------------------------------------------------------ the activity log

function logAdd(entry) {
  P.st.log = [entry, ...P.st.log.filter((e) => e.id !== entry.id)].slice(0, LOG_MAX);
}

function logSet(id, patch) {
  const e = P.st.log.find((x) => x.id === id);
  if (e) Object.assign(e, patch);
}

function errText(code, message) {
  if (lang() === 'en' && has(`err.${code}`)) return t(`err.${code}`);
  if (message) return message;
  return has(`err.${code}`) ? t(`err.${code}`) : code;
}

function entryTitle(e) {
  if (e.op === 'head_count') return h('span', { i18n: 'console.log_head', vars: { n: fmtNumber(e.count) } });
  if (e.name && e.code && e.name !== e.code) return [h('strong', { text: e.name }), ' ', h('span', { class: 'sub-inline mono', text: e.code })];
  if (e.code) return h('strong', { class: 'mono', text: e.code });
  return h('strong', { i18n: 'console.log_card' });
}

function entryStatus(e) {
  switch (e.status) {
    case 'pending': return h('span', { i18n: e.op === 'undo' ? 'console.state_pending_undo' : 'console.log_pending' });
    case 'checked_in': return h('span', { i18n: 'console.log_checked_in', vars: { time: fmtClock(e.at_answer) } });
    case 'already': return e.point
      ? h('span', { i18n: 'console.log_already', vars: { time: fmtTime(e.at_answer), point: e.point } })
      : h('span', { i18n: 'console.log_already_nopoint', vars: { time: fmtTime(e.at_answer) } });
    case 'done': return h('span', { i18n: `console.log_done_${e.op}` });
    case 'forged': return h('span', { i18n: 'console.card_forged' });
    case 'cancelled': return h('span', { i18n: 'console.log_cancelled' });
    case 'refused':
    case 'error': return h('span', { text: errText(e.code_err, e.message) });
    default: return null;
  }
}

const ENTRY_KIND = { pending: 'pending', checked_in: 'ok', done: 'ok', already: 'warn', cancelled: 'info', forged: 'error', refused: 'error', error: 'error' };

function entryView(e, tag = 'li') {
  return h(tag, { class: `log-entry log-${ENTRY_KIND[e.status] || 'info'}`, 'data-id': e.id, 'data-status': e.status },
    h('span', { class: 'log-time', text: fmtClock(e.at) }),
    h('span', { class: 'log-title' }, entryTitle(e)),
    h('span', { class: 'log-status' }, entryStatus(e)));
}

// ------------------------------------------------------------ sending

function retryable(code) {
  return /^(internal|server\.)/.test(code || '');
}

function schedulePump(ms) {
  clearTimeout(pumpTimer);
  pumpTimer = setTimeout(pump, Math.max(50, ms));
}

/** Sends queued operations in order, a few at a time, while the link is up. */
function pump() {
  if (!P || !link || !link.isOpen() || !P.welcomed) return;
  for (const item of P.outbox.list()) {
    if (P.inflight.has(item.id)) continue;
    if (P.inflight.size >= MAX_INFLIGHT) break;
    if (item.hold && item.hold > Date.now()) { schedulePump(item.hold - Date.now()); break; }
    const msg = { ...item.msg };
    if (msg.type === 'checkin') msg.replayed = !!(item.offline || item.sends);
    if (!link.send(msg)) break;
    P.inflight.set(item.id, Date.now());
    P.outbox.update(item.id, { sent: true, sends: (item.sends || 0) + 1 });
  }
}

/** Queues an operation (stored first), shows it, then sends it when possible. */
function enqueue(msg, meta) {
  const online = !!(link && link.isOpen());
  const item = { id: msg.id, msg, code: meta.code || null, name: meta.name || null, offline: !online, sent: false, sends: 0, at: Date.now() };
  const stored = P.outbox.add(item);
  logAdd({ id: msg.id, op: meta.op || msg.type, code: item.code, name: item.name, count: msg.count, status: 'pending', at: serverNow() });
  saveState();
  if (!stored) showStorageWarning();
  refresh();
  pump();
  return item;
}

function hold(item) {
  if (!item) return;
  P.outbox.update(item.id, { hold: Date.now() + RETRY_MS });
  schedulePump(RETRY_MS);
}

// ------------------------------------------------------------ answers

function onAck(msg) {
  const item = P.outbox.get(msg.id);
  P.inflight.delete(msg.id);
  const a = msg.answer || {};
  if (a.result === 'refused' && retryable(a.code)) { hold(item); return; }
  if (msg.stats) P.st.stats = msg.stats;
  const code = (a.member && a.member.code) || (item && item.code);
  const now = Date.now();
  if ((a.result === 'checked_in' || a.result === 'already_checked_in') && code) {
    P.st.local[code] = { ...(P.st.local[code] || {}), checked_in_at: a.at, checked_in_point: a.point, checkin_method: a.method, t: now };
    if (a.result === 'checked_in') P.st.here[code] = now;
  }
  if (a.result === 'checked_in') {
    logSet(msg.id, { status: 'checked_in', at_answer: a.at, code, name: (a.member && a.member.full_name) || memberName(code) });
  } else if (a.result === 'already_checked_in') {
    logSet(msg.id, { status: 'already', at_answer: a.at, point: a.point, code, name: (a.member && a.member.full_name) || memberName(code) });
  } else {
    logSet(msg.id, { status: 'refused', code_err: a.code, message: a.message });
  }
  P.outbox.remove(msg.id);
  saveState();
  refresh();
  pump();
  maybeSyncRoster();
}

function onDone(msg) {
  const item = P.outbox.get(msg.id);
  P.inflight.delete(msg.id);
  if (msg.stats) P.st.stats = msg.stats;
  const now = Date.now();
  if (item && item.code && msg.op === 'absent') {
    P.st.local[item.code] = { ...(P.st.local[item.code] || {}), absent: true, absent_reason: item.msg.reason || null, t: now };
  }
  if (item && item.code && msg.op === 'undo') {
    P.st.local[item.code] = { ...(P.st.local[item.code] || {}), checked_in_at: null, checked_in_point: null, checkin_method: null, t: now };
    delete P.st.here[item.code];
  }
  logSet(msg.id, { status: 'done' });
  P.outbox.remove(msg.id);
  saveState();
  refresh();
  pump();
}

function onError(msg) {
  if (!msg.id) return; // e.g. operator.link_invalid: the 4401 close follows
  const item = P.outbox.get(msg.id);
  P.inflight.delete(msg.id);
  if (!item) return;
  if (retryable(msg.code)) { hold(item); return; }
  if (item.msg.type === 'undo' && msg.code === 'checkin.not_found' && item.sends > 1) {
    // Sent again after a dropped link: the first one was applied.
    onDone({ id: msg.id, op: 'undo', stats: null });
    return;
  }
  logSet(msg.id, { status: 'error', code_err: msg.code, message: msg.message });
  P.outbox.remove(msg.id);
  saveState();
  refresh();
  pump();
}

function onWelcome(msg) {
  if (!P || P.id !== msg.point.id) {
    openPoint(msg.point.id);
    ui = null;
  }
  save(CURRENT_KEY, { fp: fingerprint(secret), point: msg.point.id });
  P.info = {
    point: msg.point,
    session: msg.session,
    card_public_key: msg.card_public_key,
    undo_window_seconds: msg.undo_window_seconds,
  };
  save(`${P.base}.info`, P.info);
  updateOffset(msg.server_time);
  if (msg.stats) P.st.stats = msg.stats;
  if (msg.qr) P.st.qr = msg.qr;
  saveState();
  if (!ui) renderShell(); else renderHead();
  renderQr();
  refresh();
  if (!P.welcomed) {
    // A new connection: everything still queued is sent again, in order.
    P.welcomed = true;
    P.inflight.clear();
    pump();
    syncRoster(true);
  }
}

function onMessage(msg) {
  switch (msg.type) {
    case 'welcome': onWelcome(msg); break;
    case 'qr':
      if (!P) return;
      P.st.qr = { token: msg.token, link: msg.link, expires_at: msg.expires_at, svg: msg.svg };
      saveState();
      renderQr();
      break;
    case 'ack': if (P) onAck(msg); break;
    case 'done': if (P) onDone(msg); break;
    case 'error': if (P) onError(msg); break;
    case 'heartbeat': if (P) updateOffset(msg.server_time); break;
    default: break;
  }
}

function onStatus(status) {
  if (P && status !== 'online') {
    P.welcomed = false;
    P.inflight.clear();
  }
  renderConn();
}

function onRevoked(error) {
  try { localStorage.removeItem(SECRET_KEY); } catch { /* unavailable */ }
  remove(CURRENT_KEY);
  secret = null;
  closeProjector();
  const left = P ? P.outbox.size : 0;
  problem('console.invalid_title', error.code || 'operator.link_invalid', error.message);
  if (left) main.append(notice('info', h('span', { i18n: 'console.queue_kept', vars: { n: left } })));
}

// ------------------------------------------------------------ roster from the server

async function syncRoster(force) {
  if (!P || P.rosterFetching || !link || !link.isOpen() || !secret) return;
  const started = Date.now();
  if (!force && started - P.lastRosterFetch < ROSTER_GAP_MS) return;
  P.rosterFetching = true;
  P.lastRosterFetch = started;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ROSTER_TIMEOUT_MS);
  try {
    const res = await fetch('/api/operator/roster', {
      headers: { Authorization: `Operator ${secret}`, Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
      signal: abort.signal,
    });
    if (!res.ok) return;
    const lines = await res.json();
    if (!Array.isArray(lines) || !P) return;
    P.roster = lines;
    // What the server said is the truth as of the request; later answers still apply.
    for (const [code, o] of Object.entries(P.st.local)) if (!o.t || o.t < started) delete P.st.local[code];
    reindex();
    // A check-in acknowledged here but undone since (from another device with this link) no longer counts.
    const pointName = P.info && P.info.point.name;
    for (const [code, at] of Object.entries(P.st.here)) {
      const line = P.index.get(code);
      if (line && at < started && !(line.checked_in_at && line.checked_in_point === pointName)) delete P.st.here[code];
    }
    P.st.rosterAt = Date.now();
    save(`${P.base}.roster`, lines);
    saveState();
    refresh();
  } catch {
    /* offline: keep the cached roster */
  } finally {
    clearTimeout(timer);
    if (P) P.rosterFetching = false;
  }
}

/** Someone checked in here by other means (their own phone): fetch the roster again. */
function maybeSyncRoster() {
  if (!P || !Array.isArray(P.roster) || !P.info) return;
  const c = ctx();
  let here = 0;
  for (const line of P.roster) {
    const e = effective(line);
    if (e.checked_in_at && (c.here(e.code) !== null || e.checked_in_point === c.pointName)) here += 1;
  }
  if (((P.st.stats && P.st.stats.checked_in) || 0) > here) syncRoster(false);
}

// ------------------------------------------------------------ operator actions

function checkinMsg(extra) {
  return {
    type: 'checkin',
    id: newId(),
    taken_at: takenAt(),
    session_id: P.info.session.id,
    point_id: P.info.point.id,
    ...extra,
  };
}

const actions = {
  present(line) {
    if (isCheckedIn(line.code) || pendingMap().get(line.code) === 'checkin') return;
    enqueue(checkinMsg({ method: 'roster', member_code: line.code }), { op: 'checkin', code: line.code, name: line.full_name });
  },

  async absent(line) {
    const listId = 'absence-reasons';
    const reason = field({ label: 'console.absent_reason', name: 'reason', hint: 'console.absent_reason_hint', maxlength: 300, list: listId, autocomplete: 'off' });
    const options = h('datalist', { id: listId }, ABSENCE_REASONS.map((k) => h('option', { value: t(k) })));
    const form = await formDialog(t('console.absent_title', { name: line.full_name }), [reason, options], { okKey: 'console.absent_ok' });
    if (!form) return;
    const text = val(form, 'reason');
    enqueue({ type: 'absent', id: newId(), member_code: line.code, reason: text || null, taken_at: takenAt() },
      { op: 'absent', code: line.code, name: line.full_name });
  },

  async undo(line) {
    const queued = P.outbox.list().filter((it) => it.code === line.code && it.msg.type === 'checkin');
    const unsent = queued.length && queued.every((it) => !it.sent && !P.inflight.has(it.id));
    if (unsent) {
      if (!await ask(t('console.cancel_pending_confirm', { name: line.full_name }), 'console.cancel_pending_ok')) return;
      for (const it of queued) {
        if (P.inflight.has(it.id) || (P.outbox.get(it.id) || {}).sent) continue;
        P.outbox.remove(it.id);
        logSet(it.id, { status: 'cancelled' });
      }
      saveState();
      refresh();
      return;
    }
    if (!await ask(t('console.undo_confirm', { name: line.full_name }), 'console.undo_ok')) return;
    enqueue({ type: 'undo', id: newId(), member_code: line.code, reason: null }, { op: 'undo', code: line.code, name: line.full_name });
  },
};

async function takeCard(raw) {
  const text = String(raw || '').trim();
  if (!text) return;
  const card = parseCard(text);
  if (!card) {
    showCardMessage('error', 'console.card_unreadable');
    return;
  }
  let genuine = false;
  try {
    genuine = await verifyCard(P.info.card_public_key, card);
  } catch {
    genuine = false;
  }
  if (!genuine) {
    // Refused here, even offline; nothing is sent.
    const entry = { id: newId(), op: 'card', code: card.code, name: memberName(card.code), status: 'forged', at: serverNow() };
    logAdd(entry);
    saveState();
    P.cardEntry = entry.id;
    refresh();
    return;
  }
  const pending = pendingMap().get(card.code);
  if (pending === 'checkin') {
    showCardMessage('info', 'console.card_already_queued', { name: memberName(card.code) });
    return;
  }
  const line = P.index.get(card.code);
  const e = line ? effective(line) : null;
  if (e && e.checked_in_at) {
    const key = e.checked_in_point ? 'console.log_already' : 'console.log_already_nopoint';
    showCardMessage('warn', key, { time: fmtTime(e.checked_in_at), point: e.checked_in_point || '' }, e.full_name);
    return;
  }
  const item = enqueue(checkinMsg({ method: 'card', card: card.text }), { op: 'checkin', code: card.code, name: memberName(card.code) });
  P.cardEntry = item.id;
  refresh();
}

function reportHeadCount(count) {
  const item = enqueue({ type: 'head_count', id: newId(), count, taken_at: takenAt() }, { op: 'head_count' });
  P.headEntry = item.id;
  refresh();
}

// ------------------------------------------------------------ rendering

/** A yes/no question whose "no" is not another "Hủy" (cancel) next to "Hủy" (undo). */
function ask(message, okKey, noKey = 'console.keep') {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'submit', value: 'ok', class: 'btn btn-danger', i18n: okKey });
    const no = h('button', { type: 'submit', value: 'no', class: 'btn', i18n: noKey });
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'ask-msg' },
      h('form', { method: 'dialog' },
        h('p', { id: 'ask-msg', class: 'dialog-msg', text: message }),
        h('div', { class: 'actions' }, no, ok)));
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}

function problem(titleKey, code, message) {
  clear(main);
  main.append(h('section', { class: 'card console-card console-problem', role: 'alert' },
    h('h1', { i18n: titleKey }),
    has(`err.${code}`) ? h('p', { class: 'big', i18n: `err.${code}` }) : h('p', { class: 'big', text: message || code }),
    code === 'operator.link_invalid' ? null : h('p', { i18n: 'console.contact' })));
}

function fact(key, value) {
  return [h('dt', { i18n: key }), h('dd', null, value)];
}

function showStorageWarning() {
  if (!ui || ui.storageWarned) return;
  ui.storageWarned = true;
  ui.alerts.append(notice('error', h('span', { i18n: 'console.storage_failed' })));
}

function renderConn() {
  if (!ui && !connEl) return;
  const status = link ? link.status : 'connecting';
  const n = P ? P.outbox.size : 0;
  let key = 'console.conn_connecting';
  if (status === 'online') key = n ? 'console.conn_online_sending' : 'console.conn_online';
  else if (status === 'offline') key = 'console.conn_offline';
  connEl.className = `conn conn-${status}`;
  connEl.hidden = status === 'revoked';
  connEl.setAttribute('data-status', status);
  clear(connEl);
  connEl.append(h('span', { class: 'conn-dot', 'aria-hidden': 'true' }), h('span', { class: 'conn-text', i18n: key, vars: { n } }));
  if (ui) ui.projConn.className = `proj-conn conn-${status}`;
}

const connEl = h('div', { id: 'conn', class: 'conn conn-connecting', role: 'status' });

function renderLoading() {
  clear(main);
  main.append(connEl, h('p', { class: 'loading big', i18n: 'console.loading' }));
  renderConn();
}

function renderShell() {
  const camera = cameraScanAvailable();
  ui = {};
  ui.alerts = h('div', { class: 'console-alerts' });
  ui.sessionNote = h('div', { class: 'session-note' });

  // Head: the point, the session and the counts.
  ui.ptName = h('h1', { id: 'pt-name', class: 'console-title' });
  ui.ptUnit = h('p', { class: 'console-unit' });
  ui.theme = h('h2', { id: 'ss-theme', class: 'console-theme' });
  ui.statusBadge = h('span', { class: 'console-status' });
  ui.window = h('p', { class: 'console-window' });
  ui.count = h('strong', { id: 'count', class: 'count-value' });
  ui.head = h('strong', { id: 'head-value', class: 'count-value' });
  ui.headPending = h('span', { class: 'count-pending' });
  const head = h('section', { class: 'card console-card console-head', 'aria-labelledby': 'pt-name' },
    h('p', { class: 'eyebrow', i18n: 'console.point' }),
    ui.ptName, ui.ptUnit,
    h('div', { class: 'console-session' }, ui.theme, ui.statusBadge),
    ui.window,
    h('div', { class: 'console-counts' },
      h('p', { class: 'count-line', id: 'count-line' }, h('span', { class: 'count-label', i18n: 'console.count_label' }), ' ', ui.count),
      h('p', { class: 'count-line count-line-head', id: 'head-line' }, h('span', { class: 'count-label', i18n: 'console.head_label' }), ' ', ui.head, ' ', ui.headPending)));

  // QR code for the room screen.
  ui.qrImg = h('img', { id: 'qr-img', class: 'qr-img', width: '256', height: '256', i18nAttrs: { alt: 'console.qr_alt' } });
  ui.qrStale = h('p', { class: 'notice notice-error qr-stale', role: 'alert', i18n: 'console.qr_stale', hidden: true });
  ui.projectBtn = h('button', { type: 'button', class: 'btn btn-primary btn-block', id: 'project', i18n: 'console.project', on: { click: openProjector } });
  ui.qrPoint = h('strong', { class: 'qr-point' });
  ui.qrCard = h('section', { class: 'card console-card qr-card', id: 'qr', 'aria-labelledby': 'qr-h' },
    h('h2', { id: 'qr-h', i18n: 'console.qr_title' }),
    h('figure', { class: 'qr-figure' },
      ui.qrImg,
      h('figcaption', null, ui.qrPoint, h('span', { class: 'qr-scan', i18n: 'console.qr_scan' }))),
    ui.qrStale,
    h('p', { class: 'hint', i18n: 'console.qr_hint' }),
    ui.projectBtn);

  // Member cards: a USB/Bluetooth scanner types the code and presses Enter.
  ui.cardInput = h('input', {
    id: 'card-input', name: 'card', type: 'text', autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false',
    enterkeyhint: 'done', maxlength: '200', 'aria-describedby': 'card-hint',
  });
  ui.cardResult = h('div', { class: 'card-result', id: 'card-result', role: 'status', 'aria-live': 'polite' });
  const cardForm = h('form', { class: 'card-form', id: 'card-form', novalidate: true },
    h('label', { for: 'card-input', class: 'field-label', i18n: 'console.card_label' }),
    h('div', { class: 'search-row' }, ui.cardInput, h('button', { type: 'submit', class: 'btn btn-primary', i18n: 'console.card_submit' })),
    h('p', { class: 'hint', id: 'card-hint', i18n: 'console.card_hint' }));
  cardForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = ui.cardInput.value;
    ui.cardInput.value = '';
    takeCard(value);
  });
  ui.cameraBtn = camera
    ? h('button', { type: 'button', class: 'btn btn-block camera-btn', id: 'camera', i18n: 'console.camera', on: { click: openCamera } })
    : null;
  const cardSection = h('section', { class: 'card console-card', id: 'card-scan', 'aria-labelledby': 'card-h' },
    h('h2', { id: 'card-h', i18n: 'console.card_title' }), cardForm, ui.cameraBtn, ui.cardResult);

  // Head count of people not on any roster.
  const headField = field({ id: 'head-input', label: 'console.head_field', name: 'count', type: 'number', min: 0, max: 100000, step: 1, inputmode: 'numeric', required: true });
  ui.headInput = headField.querySelector('input');
  ui.headResult = h('div', { class: 'head-result', role: 'status', 'aria-live': 'polite' });
  const headForm = h('form', { class: 'head-form', id: 'head-form', novalidate: true },
    headField, h('button', { type: 'submit', class: 'btn btn-primary', i18n: 'console.head_submit' }));
  headForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const raw = ui.headInput.value.trim();
    const n = Number(raw);
    if (!raw || !Number.isInteger(n) || n < 0 || n > 100000) {
      clear(ui.headResult);
      ui.headResult.append(notice('error', h('span', { i18n: 'console.head_invalid' })));
      ui.headInput.setAttribute('aria-invalid', 'true');
      ui.headInput.focus();
      return;
    }
    ui.headInput.removeAttribute('aria-invalid');
    reportHeadCount(n);
  });
  const headSection = h('section', { class: 'card console-card', id: 'head-count', 'aria-labelledby': 'head-h' },
    h('h2', { id: 'head-h', i18n: 'console.head_title' }), headForm, ui.headResult);

  // The roster.
  ui.search = h('input', { id: 'roster-q', type: 'search', autocomplete: 'off', spellcheck: 'false', 'aria-controls': 'roster-list' });
  let searchTimer = null;
  ui.search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { view.query = ui.search.value; view.limit = PAGE; renderRoster(); }, 150);
  });
  ui.filterBtns = {};
  const filters = h('div', { class: 'filters', role: 'group', i18nAttrs: { 'aria-label': 'console.filter_group' } },
    FILTERS.map((f) => {
      const b = h('button', {
        type: 'button', class: 'filter-btn', 'data-filter': f, 'aria-pressed': String(view.filter === f),
        on: { click: () => { view.filter = f; view.limit = PAGE; renderRoster(); } },
      });
      ui.filterBtns[f] = b;
      return b;
    }));
  ui.list = h('ul', { class: 'roster-list', id: 'roster-list' });
  ui.rosterInfo = h('p', { class: 'hint roster-info' });
  ui.more = h('button', { type: 'button', class: 'btn btn-block', i18n: 'common.more', hidden: true, on: { click: () => { view.limit += PAGE; renderRoster(); } } });
  const rosterSection = h('section', { class: 'card console-card roster', id: 'checkin', 'aria-labelledby': 'roster-h' },
    h('h2', { id: 'roster-h', i18n: 'console.roster_title' }),
    h('div', { class: 'field' }, h('label', { for: 'roster-q', i18n: 'console.roster_search' }), ui.search),
    filters, ui.rosterInfo, ui.list, ui.more);

  // Recent operations.
  ui.log = h('ol', { class: 'log-list', id: 'log-list' });
  const logSection = h('section', { class: 'card console-card', id: 'log', 'aria-labelledby': 'log-h' },
    h('h2', { id: 'log-h', i18n: 'console.log_title' }), ui.log);

  // The session's details.
  ui.facts = h('dl', { class: 'console-facts' });
  const details = h('details', { class: 'panel console-details' },
    h('summary', { i18n: 'console.details' }), h('div', { class: 'panel-body' }, ui.facts));

  const foot = h('div', { class: 'console-foot' },
    h('button', { type: 'button', class: 'btn btn-link', i18n: 'console.forget', on: { click: forget } }));

  clear(main);
  main.append(connEl, ui.alerts,
    h('div', { class: 'console-grid' },
      h('div', { class: 'console-col' }, head, ui.sessionNote, ui.qrCard, cardSection, headSection),
      h('div', { class: 'console-col' }, rosterSection, logSection, details, foot)));

  // Full-screen QR for the projector.
  ui.projImg = h('img', { class: 'proj-img', i18nAttrs: { alt: 'console.qr_alt' } });
  ui.projName = h('h2', { id: 'proj-name', class: 'proj-name' });
  ui.projCount = h('p', { class: 'proj-count' });
  ui.projStale = h('p', { class: 'proj-stale', i18n: 'console.qr_stale', hidden: true });
  ui.projConn = h('span', { class: 'proj-conn', 'aria-hidden': 'true' });
  ui.projExit = h('button', { type: 'button', class: 'btn proj-exit', i18n: 'console.project_exit', on: { click: closeProjector } });
  if (ui.projector) ui.projector.remove();
  const old = document.getElementById('projector');
  if (old) old.remove();
  ui.projector = h('div', { id: 'projector', class: 'projector', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'proj-name', hidden: true },
    ui.projExit,
    ui.projName,
    ui.projImg,
    h('p', { class: 'proj-scan', i18n: 'console.qr_scan' }),
    ui.projStale,
    h('p', { class: 'proj-foot' }, ui.projConn, ui.projCount));
  document.body.append(ui.projector);

  renderHead();
  renderQr();
  refresh();
  document.body.setAttribute('data-ready', 'true');
}

function renderHead() {
  if (!ui || !P.info) return;
  const { point: p, session: s } = P.info;
  const b = s.broadcast || {};
  ui.ptName.textContent = p.name;
  ui.ptUnit.textContent = `${p.unit_name} (${p.unit_code})`;
  ui.theme.textContent = s.theme;
  clear(ui.statusBadge).append(statusBadge(s.status));
  clear(ui.window).append(h('span', { i18n: 'console.checkin' }), ': ', fmtRange(s.checkin_opens_at, s.checkin_closes_at));
  ui.qrPoint.textContent = p.name;
  ui.projName.textContent = p.name;

  clear(ui.sessionNote);
  const now = serverNow();
  let note = null;
  if (s.status === 'scheduled') note = h('span', { i18n: 'console.placeholder' });
  else if (s.status === 'ended') note = h('span', { i18n: 'console.placeholder_ended' });
  else if (now < Date.parse(s.checkin_opens_at)) note = h('span', { i18n: 'console.window_not_yet', vars: { time: fmtTime(s.checkin_opens_at) } });
  else if (now > Date.parse(s.checkin_closes_at)) note = h('span', { i18n: 'console.window_closed', vars: { time: fmtTime(s.checkin_closes_at) } });
  if (note) ui.sessionNote.append(notice('info', note));

  append(clear(ui.facts), [
    fact('console.unit', `${p.unit_name} (${p.unit_code})`),
    p.location ? fact('console.location', p.location) : null,
    fact('console.kind', h('span', { i18n: `pointkind.${p.kind}` })),
    p.capacity ? fact('console.capacity', h('span', { i18n: 'console.capacity_n', vars: { n: p.capacity } })) : null,
    p.operator_name || p.operator_phone
      ? fact('console.operator', [p.operator_name || '', p.operator_phone ? [' · ', h('a', { href: `tel:${p.operator_phone}`, text: p.operator_phone })] : null])
      : null,
    fact('console.schedule', fmtRange(s.starts_at, s.ends_at)),
    b.tv_channel ? fact('console.tv', b.tv_channel) : null,
    b.air_time ? fact('console.air_time', fmtTime(b.air_time)) : null,
    b.stream_url ? fact('console.stream', h('a', { href: b.stream_url, target: '_blank', rel: 'noopener noreferrer', class: 'break', text: b.stream_url })) : null]);
}

function renderQr() {
  if (!ui) return;
  const qr = P.st.qr;
  const src = qr && qr.svg ? `data:image/svg+xml;charset=utf-8,${encodeURIComponent(qr.svg)}` : null;
  for (const img of [ui.qrImg, ui.projImg]) {
    if (src && img.getAttribute('src') !== src) img.src = src;
    img.hidden = !src;
    if (qr && qr.token) img.setAttribute('data-token', qr.token);
  }
  checkQrStale();
}

function checkQrStale() {
  if (!ui) return;
  const qr = P.st.qr;
  const stale = !qr || serverNow() > Date.parse(qr.expires_at) + QR_GRACE_MS;
  ui.qrCard.classList.toggle('qr-is-stale', stale);
  ui.qrStale.hidden = !stale || !qr;
  ui.projStale.hidden = !stale || !qr;
  ui.projector.classList.toggle('qr-is-stale', stale);
}

function renderCounts() {
  if (!ui) return;
  const n = shownCount();
  ui.count.textContent = fmtNumber(n);
  const pendingHead = pendingHeadCount();
  const head = pendingHead !== null ? pendingHead : P.st.stats && P.st.stats.head_count;
  ui.head.textContent = head === null || head === undefined ? t('common.none') : fmtNumber(head);
  clear(ui.headPending);
  if (pendingHead !== null) ui.headPending.append(h('span', { i18n: 'console.log_pending' }));
  clear(ui.projCount).append(h('span', { i18n: 'console.count_label' }), ' ', h('strong', { text: fmtNumber(n) }));
}

function renderRoster() {
  if (!ui) return;
  const focused = document.activeElement && ui.list.contains(document.activeElement)
    ? { code: document.activeElement.closest('[data-code]')?.getAttribute('data-code'), act: document.activeElement.getAttribute('data-act') }
    : null;
  clear(ui.list);
  const counts = { all: 0, todo: 0, present: 0, absent: 0 };
  if (!Array.isArray(P.roster)) {
    for (const f of FILTERS) filterLabel(f, null);
    ui.rosterInfo.textContent = t(link && link.isOpen() ? 'common.loading' : 'console.roster_unavailable');
    ui.more.hidden = true;
    return;
  }
  const c = ctx();
  const words = fold(view.query).split(/\s+/).filter(Boolean);
  const shown = [];
  P.roster.forEach((raw, i) => {
    const line = effective(raw);
    const st = classify(line, c);
    for (const f of FILTERS) if (inFilter(f, st.kind)) counts[f] += 1;
    if (!inFilter(view.filter, st.kind)) return;
    if (words.length && !words.every((w) => P.keys[i].includes(w))) return;
    shown.push([line, st]);
  });
  for (const f of FILTERS) filterLabel(f, counts[f]);
  shown.slice(0, view.limit).forEach(([line, st], n) => ui.list.append(rosterRow(line, st, n, actions)));
  ui.more.hidden = shown.length <= view.limit;
  if (!P.roster.length) ui.rosterInfo.textContent = t('console.roster_none');
  else if (!shown.length) ui.rosterInfo.textContent = t('console.roster_no_match');
  else ui.rosterInfo.textContent = t('console.roster_shown', { shown: Math.min(view.limit, shown.length), total: shown.length });
  if (focused && focused.code) {
    const row = [...ui.list.children].find((li) => li.getAttribute('data-code') === focused.code);
    if (row) {
      const target = (focused.act && row.querySelector(`[data-act="${focused.act}"]`)) || row.querySelector('button') || row;
      target.focus();
    }
  }
}

function filterLabel(f, n) {
  const b = ui.filterBtns[f];
  b.setAttribute('aria-pressed', String(view.filter === f));
  const key = `console.filter_${f}`;
  b.setAttribute('data-i18n', n === null ? key : `${key}_n`);
  if (n !== null) b.setAttribute('data-i18n-vars', JSON.stringify({ n }));
  b.textContent = n === null ? t(key) : t(`${key}_n`, { n });
}

function renderLog() {
  if (!ui) return;
  clear(ui.log);
  const entries = P.st.log.slice(0, 12);
  if (!entries.length) ui.log.append(h('li', { class: 'empty', i18n: 'console.log_empty' }));
  for (const e of entries) ui.log.append(entryView(e));
}

function renderCardResult() {
  if (!ui || !P.cardEntry) return;
  const e = P.st.log.find((x) => x.id === P.cardEntry);
  if (!e) return;
  const status = e.status;
  if (ui.cardResult.getAttribute('data-shown') === `${e.id}:${status}`) return;
  ui.cardResult.setAttribute('data-shown', `${e.id}:${status}`);
  clear(ui.cardResult).append(entryView(e, 'div'));
}

function showCardMessage(kind, key, vars, name) {
  P.cardEntry = null;
  ui.cardResult.removeAttribute('data-shown');
  clear(ui.cardResult).append(h('div', { class: `log-entry log-${kind}` },
    name ? h('span', { class: 'log-title' }, h('strong', { text: name })) : null,
    h('span', { class: 'log-status', i18n: key, vars })));
}

function renderHeadResult() {
  if (!ui || !P.headEntry) return;
  const e = P.st.log.find((x) => x.id === P.headEntry);
  if (!e) return;
  if (ui.headResult.getAttribute('data-shown') === `${e.id}:${e.status}`) return;
  ui.headResult.setAttribute('data-shown', `${e.id}:${e.status}`);
  clear(ui.headResult).append(entryView(e, 'div'));
}

/** Everything that depends on the queue, the answers and the roster (batched). */
let refreshTimer = null;
function refresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refreshNow(); }, 16);
}

function refreshNow() {
  renderConn();
  if (!ui) return;
  renderCounts();
  renderRoster();
  renderLog();
  renderCardResult();
  renderHeadResult();
}

// ------------------------------------------------------------ projector and camera

async function openProjector() {
  if (!ui || projecting) return;
  projecting = true;
  ui.projector.hidden = false;
  document.body.classList.add('projecting');
  renderCounts();
  checkQrStale();
  ui.projExit.focus();
  try {
    if (document.documentElement.requestFullscreen) await document.documentElement.requestFullscreen();
  } catch { /* not allowed here: the overlay still fills the window */ }
  try {
    if (navigator.wakeLock) wakeLock = await navigator.wakeLock.request('screen');
  } catch { wakeLock = null; }
}

function closeProjector() {
  if (!projecting) return;
  projecting = false;
  ui.projector.hidden = true;
  document.body.classList.remove('projecting');
  if (document.fullscreenElement && document.exitFullscreen) document.exitFullscreen().catch(() => {});
  if (wakeLock) { wakeLock.release().catch(() => {}); wakeLock = null; }
  ui.projectBtn.focus();
}

document.addEventListener('fullscreenchange', () => {
  if (!document.fullscreenElement && projecting) closeProjector();
});
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && projecting) closeProjector();
});

function openCamera() {
  const video = h('video', { class: 'camera-video', playsinline: true, muted: true, autoplay: true, props: { muted: true } });
  const msg = h('p', { class: 'hint', role: 'status', i18n: 'console.camera_hint' });
  const stopBtn = h('button', { type: 'button', class: 'btn', i18n: 'console.camera_stop' });
  const dialog = h('dialog', { class: 'dialog camera-dialog', 'aria-labelledby': 'cam-h' },
    h('h2', { id: 'cam-h', class: 'dialog-title', i18n: 'console.camera' }), video, msg, h('div', { class: 'actions' }, stopBtn));
  document.body.append(dialog);
  const scan = scanWithCamera(video);
  stopBtn.addEventListener('click', () => scan.stop());
  dialog.addEventListener('cancel', () => scan.stop());
  dialog.showModal();
  scan.result.then((value) => {
    if (value && typeof value === 'object' && value.error) {
      clear(msg).append(h('span', { i18n: 'console.camera_failed' }));
      msg.setAttribute('role', 'alert');
      stopBtn.addEventListener('click', () => dialog.close(), { once: true });
      return;
    }
    dialog.close();
    dialog.remove();
    if (value) takeCard(value);
    ui.cameraBtn.focus();
  });
  dialog.addEventListener('close', () => { scan.stop(); dialog.remove(); });
}

// ------------------------------------------------------------ leaving

async function forget() {
  const left = P ? P.outbox.size : 0;
  const message = left ? `${t('console.forget_confirm')} ${t('console.forget_queue', { n: left })}` : t('console.forget_confirm');
  if (!await ask(message, 'console.forget_ok', 'common.cancel')) return;
  try { localStorage.removeItem(SECRET_KEY); } catch { /* unavailable */ }
  remove(CURRENT_KEY);
  secret = null;
  if (link) link.stop();
  closeProjector();
  clear(main);
  main.append(notice('ok', t('console.forgotten')));
}

window.addEventListener('beforeunload', (ev) => {
  // Reloading without a network would leave an error page; the queue itself is kept.
  if (P && P.outbox.size && link && link.status !== 'online') {
    ev.preventDefault();
    ev.returnValue = '';
  }
});

window.addEventListener('storage', (ev) => {
  if (P && ev.key === `${P.base}.queue`) refresh();
});

document.addEventListener('langchange', () => {
  if (!P) return;
  if (ui) { renderHead(); refresh(); }
  renderConn();
});

// ------------------------------------------------------------ start

function start() {
  if (!secret) {
    problem('console.no_link_title', 'operator.link_required');
    return;
  }
  const current = load(CURRENT_KEY);
  if (current && current.fp === fingerprint(secret) && current.point) {
    openPoint(current.point);
    if (P.info) renderShell(); else renderLoading();
  } else {
    renderLoading();
  }
  link = new Link(secret, { onStatus, onMessage, onRevoked });
  link.start();
  renderConn();
  // Fresh session status and counts now and then; the QR's staleness and undo windows.
  setInterval(() => {
    if (!P || !link || !link.isOpen()) return;
    link.send({ type: 'refresh' });
    if (Date.now() - P.lastRosterFetch > ROSTER_PERIOD_MS) syncRoster(true);
  }, REFRESH_MS);
  setInterval(() => {
    if (ui) checkQrStale();
    if (P && link && link.isOpen()) {
      const oldest = Math.min(...P.inflight.values());
      if (Date.now() - oldest > ANSWER_TIMEOUT_MS) { link.drop(); link.schedule(); }
    }
  }, 5_000);
  setInterval(() => { if (ui) renderRoster(); }, 30_000);
}

window.addEventListener('hashchange', () => {
  const s = takeSecret();
  if (s && s !== secret) location.reload();
});

start();
