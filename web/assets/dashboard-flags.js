// "Cần xem xét" on the live dashboard: possible proxy attendance (one phone
// for many members at a point, check-ins far from the member's commune or
// province), from GET /sessions/{id}/flags every 30 s. Flags never block a
// check-in; an organizer or manager marks one reviewed with a short note.
// Names go in as text, never as HTML.

import { t } from './i18n.js';
import { api, errorText } from './api.js';
import { h, clear, fmtTime } from './dom.js';
import { notice } from './ui.js';

const REFRESH_MS = 30_000;

let sessionId = '';
let last = null; // the last FlagsResponse
const drafts = new Map(); // flag key → note being typed (kept across refreshes)
const errors = new Map(); // flag key → error text of the last review attempt

const $ = (id) => document.getElementById(id);

function methodText(m) {
  return m ? t(`flags.method_${m}`) : '';
}

function flagTitle(f) {
  if (f.kind === 'shared_device') {
    return t('flags.shared_title', { n: f.members.length, point: f.point.name });
  }
  const m = f.members[0] || {};
  return t(f.kind === 'other_province' ? 'flags.province_title' : 'flags.commune_title', {
    name: m.full_name || '',
    from: f.member_region || m.unit_name || '',
    point: f.point.name,
    to: f.point_region || f.point.unit_name,
  });
}

function memberItem(m) {
  return h('li', { class: 'flag-member' },
    h('span', { class: 'strong', text: m.full_name }), ' ',
    h('span', { class: 'sub', text: `${m.code} · ${m.unit_name} · ${fmtTime(m.checked_in_at)}` }));
}

function reviewForm(f) {
  const input = h('input', {
    type: 'text', maxlength: '500', required: true, class: 'flag-note-input',
    i18nAttrs: { 'aria-label': 'flags.note_label', placeholder: 'flags.note_placeholder' },
    props: { value: drafts.get(f.key) || '' },
    on: { input: (ev) => drafts.set(f.key, ev.target.value) },
  });
  const form = h('form', { class: 'flag-review' }, input,
    h('button', { type: 'submit', class: 'btn btn-small', i18n: 'flags.review' }));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const note = input.value.trim();
    if (!note) { input.focus(); return; }
    form.querySelector('button').disabled = true;
    try {
      await api('POST', `/sessions/${encodeURIComponent(sessionId)}/flags/review`, { json: { key: f.key, note } });
      drafts.delete(f.key);
      errors.delete(f.key);
      await load();
    } catch (err) {
      errors.set(f.key, errorText(err));
      render();
    }
  });
  return form;
}

function flagItem(f) {
  const kindClass = f.kind === 'shared_device' ? 'review-shared' : 'review-far';
  return h('li', { class: ['review-item', kindClass, f.reviewed ? 'review-done' : null], 'data-key': f.key, 'data-kind': f.kind },
    h('p', { class: 'flag-title' },
      h('span', { class: 'badge', text: t(`flags.kind_${f.kind}`) }), ' ',
      h('span', { class: 'strong', text: flagTitle(f) })),
    h('p', { class: 'sub' },
      t('flags.at_point', { point: f.point.name, unit: f.point.unit_name }),
      f.device ? ` · ${t('flags.device', { device: f.device })}` : '',
      f.method ? ` · ${methodText(f.method)}` : ''),
    h('ul', { class: 'flag-members' }, f.members.map(memberItem)),
    f.reviewed
      ? h('p', { class: 'flag-done' },
        h('span', { class: 'strong', text: t('flags.reviewed') }), ' ',
        h('span', { text: f.reviewed.note }), ' ',
        h('span', { class: 'sub', text: t('flags.reviewed_by', { by: f.reviewed.by, time: fmtTime(f.reviewed.at) }) }))
      : reviewForm(f),
    errors.has(f.key) ? notice('error', errors.get(f.key)) : null);
}

function render() {
  const box = $('flags-body');
  if (!box || !last) return;
  // Do not pull the note field from under someone typing in it.
  const active = document.activeElement;
  if (active && box.contains(active) && active.tagName === 'INPUT') return;
  clear(box);
  const c = last.counts;
  $('flags-count').textContent = last.total ? String(last.total) : '';
  box.append(h('p', { class: 'flag-counts' },
    h('span', { 'data-count': 'shared_device', text: t('flags.count_shared', { n: c.shared_device, min: last.shared_device_threshold }) }), ' · ',
    h('span', { 'data-count': 'other_commune', text: t('flags.count_commune', { n: c.other_commune }) }), ' · ',
    h('span', { 'data-count': 'other_province', text: t('flags.count_province', { n: c.other_province }) })));
  if (!last.flags.length) {
    box.append(h('p', { class: 'empty', i18n: 'flags.none' }));
    return;
  }
  if (last.total > last.flags.length) {
    box.append(h('p', { class: 'hint', i18n: 'flags.more', vars: { shown: last.flags.length, total: last.total } }));
  }
  box.append(h('ul', { class: 'flag-list' }, last.flags.map(flagItem)));
}

async function load() {
  if (!navigator.onLine) return;
  try {
    last = await api('GET', `/sessions/${encodeURIComponent(sessionId)}/flags`);
    $('flags').hidden = false;
    render();
  } catch (err) {
    // Not allowed or not reachable: the section stays as it was (or hidden).
    if (err.status === 403 || err.status === 404) $('flags').hidden = true;
  }
}

/** Loads the flags now and every 30 s. */
export async function startFlags(id) {
  sessionId = id;
  document.addEventListener('langchange', render);
  await load();
  setInterval(load, REFRESH_MS);
}
