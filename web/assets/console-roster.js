// The roster at the point console: search without diacritics, filters, and
// one line per member with its state and the operator's actions.

import { h } from './dom.js';
import { fmtClock } from './dom.js';

/** Text for matching: no diacritics (NFD, U+0300–U+036F removed), đ → d, lower case. */
export function fold(text) {
  return String(text || '')
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/đ/g, 'd');
}

export const FILTERS = ['all', 'todo', 'present', 'absent'];

/**
 * The state of one member line:
 * {kind, canUndo, at, point, reason} with kind one of pending_in,
 * pending_absent, pending_undo, in_here, in_other, absent, none.
 * ctx: {pointName, pending(code) → last queued op type | null,
 *       here(code) → ms when acknowledged here | null, undoMs, now}.
 */
export function classify(line, ctx) {
  const pending = ctx.pending(line.code);
  if (pending === 'checkin') return { kind: 'pending_in', canUndo: true };
  if (pending === 'undo') return { kind: 'pending_undo', canUndo: false };
  if (pending === 'absent') return { kind: 'pending_absent', canUndo: false };
  if (line.checked_in_at) {
    const ackedHere = ctx.here(line.code);
    const here = ackedHere !== null || line.checked_in_point === ctx.pointName;
    const since = ackedHere !== null ? ackedHere : Date.parse(line.checked_in_at);
    return {
      kind: here ? 'in_here' : 'in_other',
      canUndo: here && ctx.now - since < ctx.undoMs,
      at: line.checked_in_at,
      point: line.checked_in_point,
    };
  }
  if (line.absent) return { kind: 'absent', canUndo: false, reason: line.absent_reason };
  return { kind: 'none', canUndo: false };
}

export function inFilter(filter, kind) {
  switch (filter) {
    case 'todo': return kind === 'none';
    case 'present': return kind === 'pending_in' || kind === 'in_here' || kind === 'in_other';
    case 'absent': return kind === 'absent' || kind === 'pending_absent';
    default: return true;
  }
}

function stateLabel(st) {
  switch (st.kind) {
    case 'pending_in': return h('span', { class: 'state state-pending', i18n: 'console.state_pending_in' });
    case 'pending_absent': return h('span', { class: 'state state-pending', i18n: 'console.state_pending_absent' });
    case 'pending_undo': return h('span', { class: 'state state-pending', i18n: 'console.state_pending_undo' });
    case 'in_here': return h('span', { class: 'state state-in', i18n: 'console.state_in_here', vars: { time: fmtClock(st.at) } });
    case 'in_other': return h('span', { class: 'state state-in', i18n: 'console.state_in_other', vars: { time: fmtClock(st.at), point: st.point || '—' } });
    case 'absent': return st.reason
      ? h('span', { class: 'state state-absent', i18n: 'console.state_absent_reason', vars: { reason: st.reason } })
      : h('span', { class: 'state state-absent', i18n: 'console.state_absent' });
    default: return h('span', { class: 'state state-none', i18n: 'console.state_none' });
  }
}

/**
 * One roster line. actions: {present(line), absent(line), undo(line)}.
 * `n` makes the ids unique within the list.
 */
export function rosterRow(line, st, n, actions) {
  const nameId = `rn-${n}`;
  const btn = (act, key, cls, fn) => h('button', {
    type: 'button', class: `btn ${cls}`, i18n: key, 'data-act': act, 'aria-describedby': nameId,
    on: { click: () => fn(line) },
  });
  const buttons = [];
  if (st.kind === 'none' || st.kind === 'absent') buttons.push(btn('present', 'console.act_present', 'btn-primary btn-present', actions.present));
  if (st.kind === 'none') buttons.push(btn('absent', 'console.act_absent', 'btn-absent', actions.absent));
  if (st.canUndo) buttons.push(btn('undo', 'console.act_undo', 'btn-danger-outline btn-undo', actions.undo));
  return h('li', { class: `roster-row roster-${st.kind}`, 'data-code': line.code, 'data-state': st.kind, tabindex: '-1' },
    h('div', { class: 'roster-who' },
      h('span', { class: 'roster-name', id: nameId, text: line.full_name }),
      h('span', { class: 'roster-meta' },
        h('span', { class: 'mono', text: line.code }), ' · ', line.unit_name,
        line.category ? [' · ', h('span', { i18n: `category.${line.category}` })] : null)),
    h('div', { class: 'roster-state' }, stateLabel(st)),
    buttons.length ? h('div', { class: 'roster-actions' }, buttons) : null);
}
