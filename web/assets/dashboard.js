// The organizers' live dashboard (/truc-tiep/<session id>): headline figures,
// check-ins per minute, the unit tree with its points, and the readiness
// board. Figures come over the dashboard WebSocket (a snapshot, then versioned
// changes of the nodes the page shows); without it, the page polls the HTTP
// tally until the socket is back. Everything goes in as text, never as HTML.

import { initI18n, t, lang } from './i18n.js';
import { api, errorText, setUnauthorizedHandler, toLogin } from './api.js';
import { h, clear, fmtRange, fmtClock, fmtTime } from './dom.js';
import { notice, statusBadge } from './ui.js';
import { startFlags } from './dashboard-flags.js';

const SVG = 'http://www.w3.org/2000/svg';
const CHART_MINUTES = 60;
const BOARD_REFRESH_MS = 10_000;
const POLL_MS = 5_000;
const BACKOFF_S = [1, 2, 4, 8, 15, 30];
/** A point's head count and check-ins are "far apart" beyond this ratio… */
const GAP_RATIO = 3;
/** …and this absolute difference (1 against 4 is not worth a flag). */
const GAP_MIN = 10;

const sessionId = decodeURIComponent(location.pathname.split('/')[2] || '');
const $ = (id) => document.getElementById(id);
const vn = new Intl.NumberFormat('vi-VN');
const pct = new Intl.NumberFormat('vi-VN', { style: 'percent', maximumFractionDigits: 1 });
const collator = new Intl.Collator('vi', { sensitivity: 'base', numeric: true });

const state = {
  session: null,
  version: 0,
  headline: null,
  summary: '',
  nodes: new Map(), // code → NodeView
  points: new Map(), // id → PointLiveView
  perMinute: new Map(), // minute (ms since epoch / 60000) → count
  expanded: new Set(), // codes of expanded units (the root is always open)
  sort: 'name',
  query: '',
  focusAfterSnapshot: null,
};
/** The readiness board: id → PointView (from GET /points, statuses kept live). */
const board = new Map();
let boardLoadedAt = null;

export function num(n) {
  return vn.format(Number(n) || 0);
}

/** Lower case without diacritics, for searching "hoa binh" → "Hòa Bình". */
export function fold(s) {
  return String(s || '').normalize('NFD').replace(/[\u0300-\u036f]/g, '')
    .replace(/đ/g, 'd').replace(/Đ/g, 'D').toLowerCase().trim();
}

/** online | stale | never (offline, never seen) | lost (offline, seen before). */
export function readiness(p) {
  if (p.status === 'online') return 'online';
  if (p.status === 'stale') return 'stale';
  return p.last_seen_at ? 'lost' : 'never';
}

/** True when a point reports both check-ins and a head count, far apart. */
export function farApart(checkedIn, headCount) {
  const a = Number(checkedIn) || 0;
  const b = Number(headCount) || 0;
  if (a <= 0 || b <= 0) return false;
  return Math.abs(a - b) >= GAP_MIN && (a > GAP_RATIO * b || b > GAP_RATIO * a);
}

const minuteOf = (iso) => Math.round(Date.parse(iso) / 60_000);

// ------------------------------------------------------------ applying data

function setMinutes(list, replace) {
  if (replace) state.perMinute.clear();
  for (const m of list || []) {
    const k = minuteOf(m.minute);
    if (Number.isFinite(k)) state.perMinute.set(k, m.count);
  }
}

function applyHeadline(msg) {
  state.version = msg.version;
  state.headline = msg.headline;
  state.summary = msg.summary;
  state.nodes.set(msg.headline.code, msg.headline);
}

/** A snapshot replaces what the page knows (merge: keep the rest, see connect()). */
function applySnapshot(msg, { merge = false } = {}) {
  if (!merge) {
    state.nodes.clear();
    state.points.clear();
  }
  for (const n of msg.nodes || []) state.nodes.set(n.code, n);
  for (const p of msg.points || []) state.points.set(p.id, p);
  applyHeadline(msg);
  setMinutes(msg.per_minute, true);
  livePoints(msg.points);
}

/** `base` with a JSON merge patch applied (RFC 7396), as a new object. */
function merged(base, patch) {
  const out = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const was = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && was && typeof was === 'object'
      ? merged(was, v)
      : v;
  }
  return out;
}

/**
 * An update's nodes and points carry their key and only the fields that
 * changed: merge them into what the page has. False (nothing applied) when
 * one is unknown here, which a snapshot must repair.
 */
function applyUpdate(msg) {
  const nodes = msg.nodes || [];
  const points = msg.points || [];
  if (nodes.some((n) => !state.nodes.has(n.code)) || points.some((p) => !state.points.has(p.id))) {
    return false;
  }
  for (const n of nodes) state.nodes.set(n.code, merged(state.nodes.get(n.code), n));
  const now = points.map((p) => merged(state.points.get(p.id), p));
  for (const p of now) state.points.set(p.id, p);
  applyHeadline(msg);
  setMinutes(msg.per_minute, false);
  livePoints(now);
  return true;
}

/** Live statuses of points also go to the readiness board. */
function livePoints(points) {
  let changed = false;
  for (const p of points || []) {
    const b = board.get(p.id);
    if (b && (b.status !== p.status || b.last_seen_at !== p.last_seen_at)) {
      b.status = p.status;
      b.last_seen_at = p.last_seen_at;
      changed = true;
    }
  }
  if (changed) scheduleBoard();
}

// ------------------------------------------------------------ the socket

let ws = null;
let wsOpen = false;
let attempts = 0;
let everConnected = false;
let firstOnSocket = false;
/** Watches and resyncs sent whose snapshot has not come back yet. */
let inFlight = 0;
let pollTimer = null;
let reconnectTimer = null;

function setConn(kind) {
  const el = $('conn');
  el.className = `dash-conn ${kind === 'live' ? 'conn-online' : kind === 'connecting' ? 'conn-connecting' : 'conn-offline'}`;
  el.setAttribute('data-state', kind);
  const key = { live: 'dash.conn_live', connecting: 'dash.conn_connecting', reconnecting: 'dash.conn_reconnecting', polling: 'dash.conn_polling' }[kind];
  $('conn-text').setAttribute('data-i18n', key);
  $('conn-text').textContent = t(key);
}

function send(msg) {
  if (!ws || !wsOpen) return;
  ws.send(JSON.stringify(msg));
  if (msg.type === 'watch' || msg.type === 'resync') inFlight += 1;
}

function sendWatch() {
  send({ type: 'watch', units: [...state.expanded].slice(0, 500) });
}

function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const socket = new WebSocket(`${proto}//${location.host}/api/sessions/${encodeURIComponent(sessionId)}/live`);
  ws = socket;
  wsOpen = false;
  socket.addEventListener('open', () => {
    if (ws !== socket) return;
    wsOpen = true;
    everConnected = true;
    attempts = 0;
    stopPolling();
    setConn('live');
    // The first message is a snapshot of the top unit only: ask at once
    // for the units this page has open.
    inFlight = 0;
    firstOnSocket = true;
    if (state.expanded.size) sendWatch();
  });
  socket.addEventListener('message', (ev) => {
    if (ws !== socket) return;
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    if (msg.type === 'snapshot') {
      // While later watches are on their way, a snapshot lacks units the page
      // has opened since: merge it; the answer to the last one replaces all.
      if (firstOnSocket) firstOnSocket = false;
      else if (inFlight > 0) inFlight -= 1;
      applySnapshot(msg, { merge: inFlight > 0 });
      scheduleRender();
    } else if (msg.type === 'update') {
      // Missed a change, or a patch for something unknown here: ask for a
      // snapshot (one is enough).
      if (msg.base_version !== state.version || !applyUpdate(msg)) {
        if (inFlight === 0) send({ type: 'resync' });
        return;
      }
      scheduleRender();
    } else if (msg.type === 'error') {
      console.warn('dashboard socket:', msg.code, msg.message);
    }
  });
  socket.addEventListener('close', () => {
    if (ws !== socket) return;
    const wasOpen = wsOpen;
    wsOpen = false;
    ws = null;
    setConn(everConnected ? 'reconnecting' : 'connecting');
    // Without a network, wait for the browser's "online" event.
    if (!navigator.onLine) return;
    startPolling();
    const delay = BACKOFF_S[Math.min(attempts, BACKOFF_S.length - 1)] * 1000;
    attempts += 1;
    const jitter = delay * (0.8 + Math.random() * 0.4);
    reconnectTimer = setTimeout(async () => {
      reconnectTimer = null;
      if (ws) return;
      // A refused upgrade (signed out, no longer allowed) looks like a close:
      // ask the server why before trying again.
      if (!wasOpen && attempts >= 2) {
        try { await api('GET', `/sessions/${encodeURIComponent(sessionId)}`); } catch (err) {
          if (err.status === 401) return; // redirected to sign in
          if (err.status === 404 || err.status === 403) { showProblem(err); return; }
        }
      }
      connect();
    }, wasOpen ? 500 : jitter);
  });
}

window.addEventListener('offline', () => {
  if (ws) ws.close();
  stopPolling();
});
window.addEventListener('online', () => {
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  attempts = 0;
  if (!ws) connect();
  loadBoard();
});

// ------------------------------------------------------------ polling fallback

function stopPolling() {
  clearTimeout(pollTimer);
  pollTimer = null;
}

function startPolling() {
  if (pollTimer) return;
  pollTimer = setTimeout(async function tick() {
    if (wsOpen || !navigator.onLine) { pollTimer = null; return; }
    try {
      await pollOnce();
      if (!wsOpen) setConn('polling');
    } catch { /* keep the figures shown */ }
    if (!wsOpen) pollTimer = setTimeout(tick, POLL_MS);
    else pollTimer = null;
  }, 1000);
}

function tally(unit) {
  return api('GET', `/sessions/${encodeURIComponent(sessionId)}/tally`, { query: { unit } });
}

/** The HTTP tally of the top unit and each open one, as one snapshot. */
async function pollOnce() {
  if (!navigator.onLine) return;
  const units = [null, ...[...state.expanded].slice(0, 20)];
  const answers = await Promise.all(units.map((u) => tally(u).catch((err) => (u ? null : Promise.reject(err)))));
  if (wsOpen) return;
  const nodes = [];
  const points = [];
  for (const a of answers) {
    if (!a) continue;
    nodes.push(a.node, ...a.children);
    points.push(...a.points);
  }
  const top = answers[0];
  applySnapshot({ version: top.version, headline: top.headline, summary: top.summary, nodes, points, per_minute: top.per_minute });
  scheduleRender();
}

// ------------------------------------------------------------ rendering

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

function render() {
  if (!state.headline) return;
  renderHeadline();
  renderChart();
  renderTree();
  if (state.focusAfterSnapshot) focusPending();
}

function renderHeadline() {
  const n = state.headline;
  const connected = n.points.online + n.points.stale;
  $('version').textContent = t('dash.version', { v: state.version });
  $('summary').textContent = lang() === 'vi' && state.summary
    ? state.summary
    : t('dash.summary', { name: n.name, points: num(connected), people: num(n.participants) });
  $('v-participants').textContent = num(n.participants);
  $('s-participants').textContent = t('dash.participants_sub', { members: num(n.members), guests: num(n.guests), viewers: num(n.public_viewers) });
  $('v-points').textContent = `${num(connected)}/${num(n.points.registered)}`;
  $('s-points').textContent = t('dash.points_sub', { online: num(n.points.online), stale: num(n.points.stale), offline: num(n.points.offline) });
  if (n.coverage === null || n.coverage === undefined) {
    $('v-coverage').textContent = t('common.none');
    $('s-coverage').textContent = t('dash.coverage_none');
    setBar($('b-coverage'), 0);
  } else {
    $('v-coverage').textContent = pct.format(n.coverage);
    $('s-coverage').textContent = t('dash.coverage_sub', { base: num(n.base) });
    setBar($('b-coverage'), n.coverage);
  }
  $('v-broadcast').textContent = num(n.by_method.broadcast + n.public_viewers);
  $('s-broadcast').textContent = t('dash.broadcast_sub', { members: num(n.by_method.broadcast), viewers: num(n.public_viewers) });
}

/** Sets a bar's width by CSSOM (allowed by the CSP, unlike style attributes). */
function setBar(fill, ratio) {
  const r = Math.max(0, Math.min(1, Number(ratio) || 0));
  fill.style.width = `${(r * 100).toFixed(1)}%`;
  fill.classList.toggle('bar-low', r < 0.5);
  fill.classList.toggle('bar-mid', r >= 0.5 && r < 0.8);
  fill.classList.toggle('bar-high', r >= 0.8);
}

function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = String(text);
  return el;
}

/** A round upper bound for the axis: 1, 2, 5, 10, 20, 50… */
function niceMax(v) {
  if (v <= 5) return Math.max(1, v);
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function renderChart() {
  const now = Math.floor(Date.now() / 60_000);
  const newest = Math.max(now, ...state.perMinute.keys());
  const minutes = [];
  for (let i = CHART_MINUTES - 1; i >= 0; i--) {
    const m = newest - i;
    minutes.push([m, state.perMinute.get(m) || 0]);
  }
  const total = minutes.reduce((s, [, c]) => s + c, 0);
  const peak = minutes.reduce((s, [, c]) => Math.max(s, c), 0);
  const top = niceMax(peak);
  const W = 960; const H = 180; const L = 40; const R = 8; const T = 10; const B = 26;
  const plotW = W - L - R; const plotH = H - T - B;
  const slot = plotW / CHART_MINUTES;
  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`, class: 'chart-svg', role: 'img',
    'aria-label': t('dash.chart_label', { total: num(total), max: num(peak) }),
  });
  for (const v of [0, top / 2, top]) {
    if (v !== Math.round(v)) continue;
    const y = T + plotH - (v / top) * plotH;
    root.append(svg('line', { x1: L, x2: W - R, y1: y, y2: y, class: 'chart-grid' }));
    root.append(svg('text', { x: L - 6, y: y + 4, class: 'chart-axis', 'text-anchor': 'end' }, num(v)));
  }
  minutes.forEach(([m, c], i) => {
    const hgt = (c / top) * plotH;
    const bar = svg('rect', {
      x: (L + i * slot + slot * 0.12).toFixed(2), y: (T + plotH - hgt).toFixed(2),
      width: (slot * 0.76).toFixed(2), height: Math.max(0, hgt).toFixed(2),
      class: i === minutes.length - 1 ? 'chart-bar chart-bar-now' : 'chart-bar',
      'data-minute': m, 'data-count': c,
    });
    bar.append(svg('title', null, t('dash.chart_bar', { time: fmtClock(m * 60_000), n: num(c) })));
    root.append(bar);
  });
  for (const i of [0, 15, 30, 45, CHART_MINUTES - 1]) {
    const x = L + i * slot + slot / 2;
    const anchor = i === 0 ? 'start' : i === CHART_MINUTES - 1 ? 'end' : 'middle';
    root.append(svg('text', { x: x.toFixed(2), y: H - 8, class: 'chart-axis', 'text-anchor': anchor }, fmtClock(minutes[i][0] * 60_000)));
  }
  const box = $('chart');
  clear(box);
  box.append(root);
  $('chart-total').textContent = t('dash.chart_total', { total: num(total) });
}

// ------------------------------------------------------------ the tree

const rows = new Map(); // 'u:CODE' | 'p:ID' → { li, … }

function compareUnits(a, b) {
  if (state.sort === 'coverage') {
    const ca = a.coverage ?? Infinity;
    const cb = b.coverage ?? Infinity;
    if (ca !== cb) return ca - cb;
  } else if (state.sort === 'participants') {
    if (a.participants !== b.participants) return b.participants - a.participants;
  }
  return collator.compare(a.name, b.name) || collator.compare(a.code, b.code);
}

function expandable(n) {
  return n.child_count > 0 || n.points.registered > 0;
}

function unitRow(n, isRoot) {
  const key = `u:${n.code}`;
  let r = rows.get(key);
  if (!r) {
    const toggle = isRoot ? h('span', { class: 'dtoggle-spacer' }) : h('button', {
      type: 'button', class: 'dtoggle', 'aria-expanded': 'false',
      on: { click: () => toggleUnit(n.code) },
    });
    const name = h('span', { class: 'dname-text', tabindex: '-1' });
    const kind = h('span', { class: 'dkind' });
    const part = h('span', { class: 'dnum' });
    const fill = h('div', { class: 'bar-fill' });
    const covText = h('span', { class: 'dcov-text' });
    const covSub = h('span', { class: 'dcov-sub' });
    const pts = h('span', { class: 'dpts' });
    const children = h('ul', { class: 'dchildren', hidden: true });
    const row = h('div', { class: 'drow' },
      h('span', { class: 'dcell-name' }, toggle, h('span', { class: 'dname' }, name, kind)),
      h('span', { class: 'dcell-num' }, part),
      h('span', { class: 'dcell-cov' }, h('div', { class: 'bar', 'aria-hidden': 'true' }, fill), covText, covSub),
      h('span', { class: 'dcell-pts' }, pts));
    const li = h('li', { class: isRoot ? 'dunit droot' : 'dunit', 'data-code': n.code }, row, children);
    r = { li, toggle, name, kind, part, fill, covText, covSub, pts, children, isRoot };
    rows.set(key, r);
  }
  r.name.textContent = n.name;
  r.kind.textContent = t(`kind.${n.kind}`);
  r.part.textContent = num(n.participants);
  r.part.setAttribute('title', t('dash.participants_n', { n: num(n.participants) }));
  const none = n.coverage === null || n.coverage === undefined;
  setBar(r.fill, none ? 0 : n.coverage);
  r.covText.textContent = none ? t('common.none') : pct.format(n.coverage);
  r.covSub.textContent = n.base || n.roster ? t('dash.base_sub', { roster: num(n.roster), base: num(n.base) }) : '';
  const connected = n.points.online + n.points.stale;
  r.pts.textContent = n.points.registered ? t('dash.points_n', { connected: num(connected), registered: num(n.points.registered) }) : t('dash.no_points');
  r.pts.setAttribute('title', t('dash.points_title', { connected: num(connected), registered: num(n.points.registered) }));
  r.pts.classList.toggle('dpts-gap', n.points.registered > 0 && connected < n.points.registered);
  if (!r.isRoot) {
    const open = state.expanded.has(n.code);
    r.toggle.hidden = !expandable(n);
    r.toggle.setAttribute('aria-expanded', String(open));
    r.toggle.setAttribute('aria-label', t('dash.expand', { name: n.name }));
  }
  return r;
}

function pointRow(p) {
  const key = `p:${p.id}`;
  let r = rows.get(key);
  if (!r) {
    const dot = h('span', { class: 'dot', 'aria-hidden': 'true' });
    const status = h('span', { class: 'pt-status' });
    const name = h('span', { class: 'dname-text', tabindex: '-1' });
    const label = h('span', { class: 'dkind' });
    const checked = h('span', { class: 'pt-fig' });
    const head = h('span', { class: 'pt-fig' });
    const seen = h('span', { class: 'pt-seen' });
    const flag = h('span', { class: 'flag', hidden: true });
    const li = h('li', { class: 'dpoint', 'data-point': p.id },
      h('div', { class: 'drow' },
        h('span', { class: 'dcell-name' }, h('span', { class: 'dtoggle-spacer' }, dot),
          h('span', { class: 'dname' }, name, h('span', { class: 'pt-line' }, label, status, seen))),
        h('span', { class: 'dcell-pt' }, checked, head, flag)));
    r = { li, dot, status, name, label, checked, head, seen, flag };
    rows.set(key, r);
  }
  const st = readiness(p);
  r.li.setAttribute('data-status', st);
  r.dot.className = `dot dot-${st}`;
  r.name.textContent = p.name;
  r.label.textContent = t('dash.point');
  r.status.textContent = t(`dash.st_${st}`);
  r.seen.textContent = p.last_seen_at ? t('dash.pt_seen', { time: fmtClock(p.last_seen_at) }) : '';
  r.checked.textContent = t('dash.pt_checked_in', { n: num(p.checked_in) });
  r.head.textContent = p.head_count === null || p.head_count === undefined
    ? t('dash.pt_head_none') : t('dash.pt_head', { n: num(p.head_count) });
  const gap = farApart(p.checked_in, p.head_count);
  r.flag.hidden = !gap;
  r.flag.textContent = t('dash.flag_gap');
  if (gap) r.flag.setAttribute('title', t('dash.flag_gap_title', { head: num(p.head_count), checked: num(p.checked_in) }));
  return r;
}

/** Puts exactly `items` in `ul`, in order, moving only what is out of place. */
function syncList(ul, items) {
  items.forEach((li, i) => {
    if (ul.children[i] !== li) ul.insertBefore(li, ul.children[i] || null);
  });
  while (ul.children.length > items.length) ul.lastElementChild.remove();
}

function renderTree() {
  const root = state.headline;
  const kids = new Map(); // parent code → [NodeView]
  for (const n of state.nodes.values()) {
    if (n.code === root.code || !n.parent_code) continue;
    if (!kids.has(n.parent_code)) kids.set(n.parent_code, []);
    kids.get(n.parent_code).push(n);
  }
  const pts = new Map(); // unit code → [PointLiveView]
  for (const p of state.points.values()) {
    if (!pts.has(p.unit_code)) pts.set(p.unit_code, []);
    pts.get(p.unit_code).push(p);
  }
  // Search among what is loaded: matching rows and their ancestors.
  const q = fold(state.query);
  let visible = null;
  let matches = 0;
  if (q) {
    visible = new Set();
    const showUp = (code) => {
      let c = code;
      while (c && !visible.has(`u:${c}`)) {
        visible.add(`u:${c}`);
        c = c === root.code ? null : state.nodes.get(c)?.parent_code;
      }
    };
    for (const n of state.nodes.values()) {
      if (fold(n.name).includes(q) || fold(n.code) === q) { matches += 1; showUp(n.code); }
    }
    for (const p of state.points.values()) {
      if (fold(p.name).includes(q)) { matches += 1; visible.add(`p:${p.id}`); showUp(p.unit_code); }
    }
  }
  const used = new Set();
  const build = (n, isRoot) => {
    const r = unitRow(n, isRoot);
    used.add(`u:${n.code}`);
    r.li.hidden = visible !== null && !visible.has(`u:${n.code}`);
    const open = isRoot || state.expanded.has(n.code);
    r.children.hidden = !open;
    if (!open) {
      syncList(r.children, []);
      return r.li;
    }
    const items = [];
    for (const p of (pts.get(n.code) || []).sort((a, b) => collator.compare(a.name, b.name))) {
      const pr = pointRow(p);
      used.add(`p:${p.id}`);
      pr.li.hidden = visible !== null && !visible.has(`p:${p.id}`) && !(visible.has(`u:${n.code}`) && fold(n.name).includes(q));
      items.push(pr.li);
    }
    for (const c of (kids.get(n.code) || []).sort(compareUnits)) items.push(build(c, false));
    if (!items.length) {
      const loaded = isRoot || kids.has(n.code) || pts.has(n.code) || !expandable(n);
      items.push(h('li', { class: loaded ? 'dempty' : 'dempty loading', i18n: loaded ? 'dash.empty_unit' : 'common.loading' }));
    }
    syncList(r.children, items);
    return r.li;
  };
  syncList($('tree'), [build(root, true)]);
  for (const k of rows.keys()) if (!used.has(k)) rows.delete(k);
  const info = $('search-info');
  if (!q) info.textContent = '';
  else info.textContent = matches ? t('dash.search_shown', { n: num(matches) }) : t('dash.search_none');
}

function toggleUnit(code) {
  if (state.expanded.has(code)) {
    // Collapsing also closes everything under it.
    for (const c of [...state.expanded]) {
      if (c === code || isUnder(c, code)) state.expanded.delete(c);
    }
  } else {
    state.expanded.add(code);
  }
  sendWatch();
  if (!wsOpen) pollOnce().catch(() => {});
  render();
}

function isUnder(code, ancestor) {
  let c = state.nodes.get(code)?.parent_code;
  for (let i = 0; c && i < 64; i++) {
    if (c === ancestor) return true;
    c = state.nodes.get(c)?.parent_code;
  }
  return false;
}

function focusPending() {
  if (inFlight > 0) return; // the rows may still change
  const code = state.focusAfterSnapshot;
  const r = rows.get(`u:${code}`);
  if (!r || r.li.hidden) return;
  state.focusAfterSnapshot = null;
  // Show what is under it too (its points, its subunits).
  const n = state.nodes.get(code);
  if (n && expandable(n) && !state.expanded.has(code)) {
    state.expanded.add(code);
    sendWatch();
    if (!wsOpen) pollOnce().catch(() => {});
    scheduleRender();
  }
  r.li.classList.add('flash');
  r.name.focus({ preventScroll: true });
  r.li.scrollIntoView({ block: 'center' });
  setTimeout(() => r.li.classList.remove('flash'), 4000);
}

// ------------------------------------------------------------ server search, jump

async function searchServer(q) {
  const box = $('search-results');
  clear(box);
  if (!q) return;
  box.append(h('p', { class: 'loading', i18n: 'common.loading' }));
  try {
    const r = await api('GET', '/units', { query: { q, limit: 20 } });
    clear(box);
    if (!r.items.length) { box.append(h('p', { class: 'empty', i18n: 'dash.search_empty' })); return; }
    box.append(h('h3', { class: 'results-title', i18n: 'dash.search_results' }),
      h('ul', { class: 'result-list' }, r.items.map((u) => h('li', null,
        h('button', {
          type: 'button', class: 'btn-link jump',
          on: { click: () => jump(u.code, u.name) },
        }, h('span', { class: 'strong', text: u.name }), ' ', h('span', { class: 'sub-inline', text: `${t(`kind.${u.kind}`)} · ${u.code}` }))))));
  } catch (err) {
    clear(box);
    box.append(notice('error', errorText(err)));
  }
}

/** Opens the tree down to `code` and shows it. */
async function jump(code, name) {
  const box = $('search-results');
  let detail;
  try {
    detail = await api('GET', `/units/${encodeURIComponent(code)}`);
  } catch (err) {
    clear(box);
    box.append(notice('error', errorText(err)));
    return;
  }
  const chain = detail.ancestors.map((a) => a.code);
  if (chain[chain.length - 1] !== detail.code) chain.push(detail.code);
  const from = chain.indexOf(state.headline.code);
  if (from < 0) {
    clear(box);
    box.append(notice('error', t('dash.jump_outside', { name: name || detail.name })));
    return;
  }
  const path = chain.slice(from + 1); // below the top unit, down to the target
  for (const c of path.slice(0, -1)) state.expanded.add(c);
  state.query = '';
  $('q').value = '';
  clear(box);
  state.focusAfterSnapshot = code === state.headline.code ? null : code;
  sendWatch();
  if (!wsOpen) pollOnce().catch(() => {});
  render();
}

// ------------------------------------------------------------ readiness board

let boardQueued = false;
function scheduleBoard() {
  if (boardQueued) return;
  boardQueued = true;
  requestAnimationFrame(() => { boardQueued = false; renderBoard(); });
}

async function loadBoard() {
  if (!navigator.onLine) return;
  try {
    const list = await api('GET', `/sessions/${encodeURIComponent(sessionId)}/points`);
    board.clear();
    for (const p of list) {
      // A fresher live status than this list wins.
      const live = state.points.get(p.id);
      board.set(p.id, live && (live.last_seen_at || '') > (p.last_seen_at || '') ? { ...p, status: live.status, last_seen_at: live.last_seen_at } : p);
    }
    boardLoadedAt = new Date();
    renderBoard();
  } catch { /* keep the last board */ }
}

const GROUPS = ['online', 'stale', 'never', 'lost'];
/** A national session has thousands of points: list this many per group. */
const GROUP_LIST_MAX = 300;

function renderBoard() {
  const groups = Object.fromEntries(GROUPS.map((g) => [g, []]));
  for (const p of board.values()) groups[readiness(p)].push(p);
  const ready = groups.online.length + groups.stale.length;
  const tab = $('tab-ready');
  tab.setAttribute('data-i18n', 'dash.tab_ready_n');
  tab.setAttribute('data-i18n-vars', JSON.stringify({ ready: num(ready), total: num(board.size) }));
  tab.textContent = t('dash.tab_ready_n', { ready: num(ready), total: num(board.size) });
  const box = $('ready');
  clear(box);
  if (!board.size) {
    box.append(h('p', { class: 'empty', i18n: 'dash.ready_empty' }));
  } else {
    for (const g of GROUPS) {
      const items = groups[g].sort((a, b) => collator.compare(a.unit_name, b.unit_name) || collator.compare(a.name, b.name));
      box.append(h('section', { class: `ready-group ready-${g}`, 'data-group': g, 'aria-labelledby': `rg-${g}` },
        h('h3', { id: `rg-${g}` }, h('span', { class: `dot dot-${g}`, 'aria-hidden': 'true' }), ' ',
          h('span', { class: 'ready-title', text: t(`dash.ready_${g}`) }), ' ',
          h('span', { class: 'ready-count', text: num(items.length) })),
        h('p', { class: 'hint', i18n: `dash.ready_${g}_hint` }),
        items.length > GROUP_LIST_MAX
          ? h('p', { class: 'ready-more', i18n: 'dash.ready_more', vars: { n: num(items.length - GROUP_LIST_MAX) } })
          : null,
        items.length
          ? h('ul', { class: 'ready-list' }, items.slice(0, GROUP_LIST_MAX).map((p) => h('li', { class: 'ready-item', 'data-point': p.id },
            h('span', { class: 'strong', text: p.name }),
            h('span', { class: 'sub', text: p.unit_name }),
            p.operator_name || p.operator_phone
              ? h('span', { class: 'sub' },
                p.operator_name ? `${p.operator_name} ` : '',
                p.operator_phone ? h('a', { href: `tel:${p.operator_phone}`, text: p.operator_phone }) : null)
              : null,
            p.last_seen_at ? h('span', { class: 'sub', text: t('dash.ready_seen', { time: fmtTime(p.last_seen_at) }) }) : null)))
          : h('p', { class: 'empty', i18n: 'dash.ready_none' })));
    }
  }
  $('ready-updated').textContent = boardLoadedAt ? t('dash.ready_updated', { time: fmtClock(boardLoadedAt) }) : '';
}

// ------------------------------------------------------------ tabs

function selectTab(which) {
  for (const [tab, panel] of [['tab-units', 'panel-units'], ['tab-ready', 'panel-ready']]) {
    const on = tab === which;
    $(tab).setAttribute('aria-selected', String(on));
    $(tab).tabIndex = on ? 0 : -1;
    $(panel).hidden = !on;
  }
  if (which === 'tab-ready') loadBoard();
}

function wireTabs() {
  const tabs = ['tab-units', 'tab-ready'];
  for (const id of tabs) {
    $(id).addEventListener('click', () => selectTab(id));
    $(id).addEventListener('keydown', (ev) => {
      if (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft') return;
      const next = tabs[(tabs.indexOf(id) + 1) % tabs.length];
      selectTab(next);
      $(next).focus();
    });
  }
}

// ------------------------------------------------------------ start

function showProblem(err) {
  $('loading').hidden = true;
  $('dash').hidden = true;
  const box = $('problem');
  clear(box);
  box.append(h('div', { class: 'card' },
    h('h1', { i18n: err.status === 404 ? 'sessions.not_found' : 'dash.error_title' }),
    notice('error', errorText(err)),
    h('p', null, h('a', { href: '/#buoi-hoc', i18n: 'sessions.back' }))));
}

function showSession(s) {
  document.title = `${s.theme} · ${t('dash.title')}`;
  $('theme').textContent = s.theme;
  clear($('status')).append(statusBadge(s.status));
  $('when').textContent = fmtRange(s.starts_at, s.ends_at);
  $('scope').textContent = s.scope.name;
  $('link-manage').href = `/#buoi-hoc/${s.id}`;
  $('link-public').href = `/s/${s.id}`;
  $('link-overlay').href = `/tv/${s.id}/overlay`;
}

async function start() {
  initI18n();
  setUnauthorizedHandler(toLogin);
  let session;
  let first;
  try {
    [session, first] = await Promise.all([
      api('GET', `/sessions/${encodeURIComponent(sessionId)}`),
      tally(null),
    ]);
  } catch (err) {
    if (err.status === 401) return;
    showProblem(err);
    document.body.setAttribute('data-ready', 'true');
    return;
  }
  state.session = session;
  showSession(session);
  applySnapshot({
    version: first.version, headline: first.headline, summary: first.summary,
    nodes: [first.node, ...first.children], points: first.points, per_minute: first.per_minute,
  });
  $('loading').hidden = true;
  $('dash').hidden = false;
  wireTabs();
  $('sort').addEventListener('change', () => { state.sort = $('sort').value; render(); });
  $('q').addEventListener('input', () => { state.query = $('q').value; clear($('search-results')); render(); });
  $('search-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    searchServer($('q').value.trim());
  });
  document.addEventListener('langchange', () => {
    for (const r of rows.values()) r.li.remove();
    rows.clear();
    if (state.session) showSession(state.session);
    render();
    renderBoard();
  });
  render();
  connect();
  startFlags(sessionId);
  await loadBoard();
  setInterval(loadBoard, BOARD_REFRESH_MS);
  setInterval(renderChart, 20_000); // the minutes move on without check-ins
  document.body.setAttribute('data-ready', 'true');
}

start();
