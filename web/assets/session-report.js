// The "Báo cáo" block of a session's page: the official report of a unit's
// subtree (on screen, CSV, XLSX, printable A4) and the list of members who
// have not studied yet, with their make-up links and printable reminders.

import { h, clear, field, val, fmtTime, fmtNumber } from './dom.js';
import { t } from './i18n.js';
import { api } from './api.js';
import { showError, busy, unitSuggest, table, CATEGORIES } from './ui.js';

const ABSENTEES_SHOWN = 500;

/** 0.856 → "85,6%" */
export function fmtPercent(x) {
  if (x === null || x === undefined) return t('common.none');
  return `${(x * 100).toLocaleString('vi-VN', { maximumFractionDigits: 1 })}%`;
}

/** A coverage bar with its figure (null: no roster nor expected head count). */
function coverage(x) {
  if (x === null || x === undefined) return h('span', { class: 'sub-inline', i18n: 'report.no_base' });
  const fill = h('span', { class: `bar-fill ${x < 0.5 ? 'bar-low' : x < 0.9 ? 'bar-mid' : 'bar-high'}` });
  fill.style.width = `${Math.min(100, Math.max(0, x * 100)).toFixed(1)}%`;
  return h('span', { class: 'cov' },
    h('span', { class: 'bar', 'aria-hidden': 'true' }, fill),
    h('span', { class: 'cov-text', text: fmtPercent(x) }));
}

function reportTable(report) {
  const cols = [
    ['report.col_unit', null],
    ['report.col_points', true],
    ['report.col_roster', true],
    ['report.col_expected', true],
    ['report.col_categories', null],
    ['report.col_at_point', true],
    ['report.col_head_count', true],
    ['report.col_broadcast', true],
    ['report.col_makeup', true],
    ['report.col_live', true],
    ['report.col_total', true],
    ['report.col_cov_live', null],
    ['report.col_cov_total', null],
  ];
  const body = report.rows.map((r) => {
    const name = h('th', { scope: 'row', class: `rep-unit rep-level-${Math.min(r.level, 4)}` },
      h('span', { class: 'rep-name', text: r.name }),
      h('span', { class: 'sub', text: r.code }));
    name.style.paddingLeft = `${0.65 + Math.min(r.level, 8) * 1.1}rem`;
    const cats = CATEGORIES.map((c, i) => [c, r.by_category[i] || 0]).filter(([, n]) => n > 0);
    return h('tr', { 'data-code': r.code, 'data-level': r.level },
      name,
      h('td', { class: 'num', text: `${fmtNumber(r.points_connected)}/${fmtNumber(r.points_registered)}` }),
      h('td', { class: 'num', text: fmtNumber(r.roster) }),
      h('td', { class: 'num', text: fmtNumber(r.expected) }),
      h('td', { class: 'rep-cats' }, cats.length
        ? cats.map(([c, n]) => h('span', { class: 'sub' }, h('span', { i18n: `category.${c}` }), `: ${fmtNumber(n)}`))
        : t('common.none')),
      h('td', { class: 'num', text: fmtNumber(r.at_point) }),
      h('td', { class: 'num', text: fmtNumber(r.head_count) }),
      h('td', { class: 'num', text: fmtNumber(r.broadcast) }),
      h('td', { class: 'num', text: fmtNumber(r.makeup) }),
      h('td', { class: 'num strong', text: fmtNumber(r.participants_live) }),
      h('td', { class: 'num strong', text: fmtNumber(r.participants_total) }),
      h('td', null, coverage(r.coverage_live)),
      h('td', null, coverage(r.coverage_total)));
  });
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'table report-table' },
      h('caption', { i18n: 'report.caption', vars: { unit: report.unit_name, time: fmtTime(report.generated_at) } }),
      h('thead', null, h('tr', null, cols.map(([key, num]) => h('th', { scope: 'col', class: num ? 'num' : null, i18n: key })))),
      h('tbody', null, body)));
}

function absenteesTable(list) {
  const items = list.items.slice(0, ABSENTEES_SHOWN);
  return table([
    { key: 'members.code', cell: (a) => h('code', { text: a.member_code }) },
    { key: 'members.full_name', cell: (a) => h('span', { class: 'strong', text: a.full_name }) },
    { key: 'members.category', cell: (a) => h('span', { i18n: `category.${a.category}` }) },
    { key: 'members.unit_col', cell: (a) => [h('span', { text: a.unit_name }), h('span', { class: 'sub', text: a.unit_code })] },
    { key: 'report.reason', cell: (a) => (a.absent_reason ? h('span', { text: a.absent_reason }) : h('span', { class: 'sub-inline', i18n: 'report.no_reason' })) },
    { key: 'report.progress', cell: (a) => (a.makeup_progress === null || a.makeup_progress === undefined ? h('span', { class: 'sub-inline', i18n: 'report.not_started' }) : coverage(a.makeup_progress)) },
    {
      key: 'report.makeup_link',
      cell: (a) => h('a', {
        href: a.makeup_link, target: '_blank', rel: 'noopener noreferrer',
        i18n: 'report.open_makeup', i18nAttrs: { 'aria-label': 'report.open_makeup_for' }, vars: { name: a.full_name },
      }),
    },
  ], items, { captionKey: 'report.absentees' });
}

/** A download / print link that follows the chosen unit. */
function fileLink(key, kind, format, { print = false } = {}) {
  return h('a', {
    class: 'btn', i18n: key, 'data-kind': kind, 'data-format': format,
    target: print ? '_blank' : null, rel: print ? 'noopener' : null,
  });
}

export function renderReport(section, session) {
  const base = `/api/sessions/${encodeURIComponent(session.id)}`;
  const unitField = field({ label: 'report.unit', name: 'unit', maxlength: 64, hint: 'report.unit_hint', autocomplete: 'off', spellcheck: 'false' });
  const unitInput = unitField.querySelector('input');
  unitSuggest(unitInput);
  const msg = h('div', { class: 'form-msg' });
  const reportSlot = h('div', { class: 'report-slot', 'aria-live': 'polite' });
  const absentSlot = h('div', { class: 'absentees-slot', 'aria-live': 'polite' });
  const viewBtn = h('button', { type: 'submit', class: 'btn btn-primary', i18n: 'report.view' });
  const absentBtn = h('button', { type: 'button', class: 'btn btn-primary', i18n: 'report.absentees_view' });
  const links = [
    fileLink('report.csv', 'report', 'csv'),
    fileLink('report.xlsx', 'report', 'xlsx'),
    fileLink('report.print', 'report', 'html', { print: true }),
    fileLink('report.absentees_csv', 'absentees', 'csv'),
    fileLink('report.absentees_xlsx', 'absentees', 'xlsx'),
    fileLink('report.absentees_print', 'absentees', 'html', { print: true }),
  ];
  const unit = () => val(form, 'unit');
  const url = (kind, format) => {
    const q = new URLSearchParams();
    if (unit()) q.set('unit', unit());
    if (format !== 'json') q.set('format', format);
    const s = q.toString();
    return `${base}/${kind}${s ? `?${s}` : ''}`;
  };
  const syncLinks = () => {
    for (const a of links) {
      a.href = url(a.getAttribute('data-kind'), a.getAttribute('data-format'));
      if (a.getAttribute('data-format') !== 'html') a.setAttribute('download', '');
    }
  };
  const form = h('form', { class: 'stack report-form', novalidate: true },
    h('div', { class: 'grid-2' }, unitField),
    h('div', { class: 'actions actions-start', role: 'group', i18nAttrs: { 'aria-label': 'report.actions' } },
      viewBtn, links[0], links[1], links[2]));
  unitInput.addEventListener('input', syncLinks);
  unitInput.addEventListener('change', syncLinks);
  syncLinks();

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    syncLinks();
    await busy(viewBtn, null, async () => {
      showError(msg, null);
      try {
        const report = await api('GET', `/sessions/${encodeURIComponent(session.id)}/report`, { query: { unit: unit() } });
        clear(reportSlot).append(
          h('p', { class: 'report-summary', text: report.summary }),
          reportTable(report));
      } catch (err) {
        clear(reportSlot);
        showError(msg, err, form);
      }
    });
  });

  absentBtn.addEventListener('click', async () => {
    syncLinks();
    await busy(absentBtn, null, async () => {
      showError(msg, null);
      try {
        const list = await api('GET', `/sessions/${encodeURIComponent(session.id)}/absentees`, { query: { unit: unit() } });
        clear(absentSlot);
        if (!list.items.length) {
          absentSlot.append(h('p', { class: 'notice notice-ok', i18n: 'report.absentees_none', vars: { unit: list.unit_name } }));
          return;
        }
        absentSlot.append(
          h('p', { class: 'strong', i18n: 'report.absentees_total', vars: { n: fmtNumber(list.total), unit: list.unit_name } }),
          absenteesTable(list));
        if (list.total > ABSENTEES_SHOWN) {
          absentSlot.append(h('p', { class: 'hint', i18n: 'report.absentees_more', vars: { shown: fmtNumber(ABSENTEES_SHOWN), total: fmtNumber(list.total) } }));
        }
      } catch (err) {
        clear(absentSlot);
        showError(msg, err, form);
      }
    });
  });

  section.append(
    h('h2', { id: 'report-h', i18n: 'report.title' }),
    h('p', { class: 'hint', i18n: 'report.lead' }),
    form,
    msg,
    reportSlot,
    h('h3', { id: 'absentees-h', class: 'report-sub', i18n: 'report.absentees' }),
    h('p', { class: 'hint', i18n: 'report.absentees_lead' }),
    h('div', { class: 'actions actions-start', role: 'group', i18nAttrs: { 'aria-label': 'report.absentees_actions' } },
      absentBtn, links[3], links[4], links[5]),
    session.broadcast && session.broadcast.recording_url ? null : h('p', { class: 'hint', i18n: 'report.no_recording' }),
    absentSlot);
}
