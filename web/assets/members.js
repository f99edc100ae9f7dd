// Thành viên: search the rosters (name without diacritics, or member code),
// a paginated table, add / edit / delete, CSV import, and each member's
// study history (for the year-end review).

import { h, clear, field, checkbox, val, fmtNumber, fmtTime } from './dom.js';
import { t, has } from './i18n.js';
import { api } from './api.js';
import {
  checkForm, confirmDialog, formDialog, showError, showOk, busy, collapsible, importPanel,
  unitSuggest, table, CATEGORIES, notice,
} from './ui.js';

const LIMIT = 50;
const MEMBERS_CSV = 'member_code,full_name,category,unit_code';

function readParams(route) {
  const p = route.params;
  const page = Math.max(1, parseInt(p.get('page') || '1', 10) || 1);
  return {
    q: p.get('q') || '',
    unit: p.get('unit') || '',
    subtree: p.get('subtree') !== 'false',
    category: p.get('category') || '',
    page,
  };
}

function toHash(f) {
  const p = new URLSearchParams();
  if (f.q) p.set('q', f.q);
  if (f.unit) p.set('unit', f.unit);
  if (f.unit && !f.subtree) p.set('subtree', 'false');
  if (f.category) p.set('category', f.category);
  if (f.page > 1) p.set('page', String(f.page));
  const s = p.toString();
  return s ? `#thanh-vien?${s}` : '#thanh-vien';
}

const categoryOptions = (withAll) => [
  ...(withAll ? [{ value: '', i18n: 'members.all_categories' }] : []),
  ...CATEGORIES.map((c) => ({ value: c, i18n: `category.${c}` })),
];

export async function render(view, route, ctx) {
  let filters = readParams(route);
  const msg = h('div', { class: 'form-msg' });
  const listSlot = h('div', { class: 'list-slot' });

  // Filters
  const unitField = field({ label: 'members.unit', name: 'unit', maxlength: 64, value: filters.unit });
  unitSuggest(unitField.querySelector('input'));
  const filterForm = h('form', { role: 'search', class: 'stack filters', i18nAttrs: { 'aria-label': 'members.filter' } },
    h('div', { class: 'grid-filters' },
      field({ label: 'members.q', name: 'q', type: 'search', maxlength: 100, value: filters.q }),
      unitField,
      field({ label: 'members.category', name: 'category', options: categoryOptions(true), value: filters.category })),
    h('div', { class: 'actions actions-left' },
      checkbox({ label: 'members.subtree', name: 'subtree', checked: filters.subtree }),
      h('button', { type: 'submit', class: 'btn btn-primary', i18n: 'common.search' })));
  filterForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    ctx.go(toHash({
      q: val(filterForm, 'q'),
      unit: val(filterForm, 'unit'),
      subtree: filterForm.elements.namedItem('subtree').checked,
      category: val(filterForm, 'category'),
      page: 1,
    }));
  });

  // Add
  const addMsg = h('div', { class: 'form-msg' });
  const addUnit = field({ label: 'members.unit', name: 'unit_code', required: true, maxlength: 64, value: filters.unit || ctx.account.unit_code || '' });
  unitSuggest(addUnit.querySelector('input'));
  const addSubmit = h('button', { type: 'submit', class: 'btn btn-primary', i18n: 'members.add' });
  const addForm = h('form', { class: 'stack', novalidate: true },
    h('div', { class: 'grid-2' },
      field({ label: 'members.code', name: 'code', required: true, maxlength: 64, autocomplete: 'off', spellcheck: 'false' }),
      field({ label: 'members.full_name', name: 'full_name', required: true, maxlength: 120, autocomplete: 'off' }),
      field({ label: 'members.category', name: 'category', options: categoryOptions(false), value: 'party_member' }),
      addUnit),
    addMsg,
    h('div', { class: 'actions' }, addSubmit));
  addForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!checkForm(addForm, addMsg)) return;
    await busy(addSubmit, 'common.saving', async () => {
      try {
        const m = await api('POST', '/members', {
          json: {
            code: val(addForm, 'code'), full_name: val(addForm, 'full_name'),
            category: val(addForm, 'category'), unit_code: val(addForm, 'unit_code'),
          },
        });
        addForm.elements.namedItem('code').value = '';
        addForm.elements.namedItem('full_name').value = '';
        showOk(addMsg, t('members.added', { name: m.full_name }));
        addForm.elements.namedItem('code').focus();
        await load();
      } catch (err) {
        showError(addMsg, err, addForm);
      }
    });
  });

  view.append(
    h('div', { class: 'page-head' }, h('h1', { i18n: 'members.title' })),
    filterForm,
    collapsible('members.add', addForm),
    importPanel({ titleKey: 'members.import', path: '/members/import', format: MEMBERS_CSV, onDone: () => load() }),
    msg,
    listSlot,
  );

  async function load() {
    showError(msg, null);
    clear(listSlot).append(h('p', { class: 'loading', i18n: 'common.loading' }));
    const f = filters;
    try {
      const r = await api('GET', '/members', {
        query: {
          q: f.q, unit: f.unit, subtree: f.unit ? String(f.subtree) : '', category: f.category,
          limit: LIMIT, offset: (f.page - 1) * LIMIT,
        },
      });
      if (filters !== f) return;
      clear(listSlot);
      listSlot.append(membersTable(r.items, { msg, reload: load }), pager(r.total, f, ctx));
    } catch (err) {
      clear(listSlot);
      showError(msg, err);
    }
  }

  await load();

  return {
    update(r) {
      filters = readParams(r);
      filterForm.elements.namedItem('q').value = filters.q;
      filterForm.elements.namedItem('unit').value = filters.unit;
      filterForm.elements.namedItem('category').value = filters.category;
      filterForm.elements.namedItem('subtree').checked = filters.subtree;
      load();
      return true;
    },
  };
}

function pager(total, f, ctx) {
  const pages = Math.max(1, Math.ceil(total / LIMIT));
  const go = (page) => ctx.go(toHash({ ...f, page }));
  return h('nav', { class: 'pager', i18nAttrs: { 'aria-label': 'common.page' }, vars: { page: f.page, pages, total: fmtNumber(total) } },
    h('button', { type: 'button', class: 'btn', disabled: f.page <= 1, i18n: 'common.prev', on: { click: () => go(f.page - 1) } }),
    h('span', { class: 'pager-info', i18n: 'common.page', vars: { page: f.page, pages, total: fmtNumber(total) } }),
    h('button', { type: 'button', class: 'btn', disabled: f.page >= pages, i18n: 'common.next', on: { click: () => go(f.page + 1) } }));
}

function membersTable(items, { msg, reload }) {
  return table([
    { key: 'members.code', cell: (m) => h('code', { text: m.code }) },
    { key: 'members.full_name', cell: (m) => h('span', { class: 'strong', text: m.full_name }) },
    { key: 'members.category', cell: (m) => h('span', { i18n: `category.${m.category}` }) },
    { key: 'members.unit_col', cell: (m) => [h('a', { href: `#don-vi/${encodeURIComponent(m.unit_code)}`, text: m.unit_name }), h('span', { class: 'sub', text: m.unit_code })] },
    {
      key: 'common.actions',
      cell: (m) => h('div', { class: 'row-actions' },
        h('button', {
          type: 'button', class: 'btn btn-small', i18n: 'history.action',
          i18nAttrs: { 'aria-label': 'history.action_for' }, vars: { name: m.full_name },
          on: { click: (ev) => showHistory(m, ev.currentTarget) },
        }),
        h('button', { type: 'button', class: 'btn btn-small', i18n: 'common.edit', on: { click: () => editMember(m, msg, reload) } }),
        h('button', {
          type: 'button', class: 'btn btn-small btn-danger-outline', i18n: 'common.delete',
          on: {
            click: async () => {
              if (!await confirmDialog(t('members.delete_confirm', { name: m.full_name }), { danger: true, okKey: 'common.delete' })) return;
              try {
                await api('DELETE', `/members/${encodeURIComponent(m.code)}`);
                await reload();
                msg.append(notice('ok', t('members.deleted')));
              } catch (err) { showError(msg, err); }
            },
          },
        })),
    },
  ], items, { captionKey: 'members.title', emptyKey: 'members.empty' });
}

async function editMember(m, msg, reload) {
  const unit = field({ label: 'members.unit', name: 'unit_code', required: true, maxlength: 64, value: m.unit_code });
  unitSuggest(unit.querySelector('input'));
  const errSlot = h('div', { class: 'form-msg' });
  const fields = [
    h('p', null, h('span', { i18n: 'members.code' }), ': ', h('code', { text: m.code })),
    field({ label: 'members.full_name', name: 'full_name', required: true, maxlength: 120, value: m.full_name }),
    field({ label: 'members.category', name: 'category', options: categoryOptions(false), value: m.category }),
    unit,
    errSlot,
  ];
  // Re-open the dialog until saved or cancelled, showing the server's answer.
  for (;;) {
    const form = await formDialog(t('members.edit'), fields);
    if (!form) return;
    try {
      await api('PATCH', `/members/${encodeURIComponent(m.code)}`, {
        json: { full_name: val(form, 'full_name'), category: val(form, 'category'), unit_code: val(form, 'unit_code') },
      });
      await reload();
      msg.append(notice('ok', t('common.done')));
      return;
    } catch (err) {
      showError(errSlot, err);
    }
  }
}

/** The sessions a member studied, how and when, in a dialog. */
async function showHistory(m, opener) {
  const body = h('div', { class: 'history-body' }, h('p', { class: 'loading', i18n: 'common.loading' }));
  const close = h('button', { type: 'submit', class: 'btn', i18n: 'common.close' });
  const dialog = h('dialog', { class: 'dialog dialog-wide', 'aria-labelledby': 'history-title' },
    h('form', { method: 'dialog', class: 'stack' },
      h('h2', { class: 'dialog-title', id: 'history-title', i18n: 'history.title', vars: { name: m.full_name } }),
      h('p', { class: 'history-head' }, h('code', { text: m.code }), ' · ', h('span', { text: m.unit_name })),
      body,
      h('div', { class: 'actions' }, close)));
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener && opener.isConnected) opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
  try {
    const hist = await api('GET', `/members/${encodeURIComponent(m.code)}/history`);
    clear(body);
    if (!hist.sessions.length) {
      body.append(h('p', { class: 'empty', i18n: 'history.empty' }));
      return;
    }
    body.append(
      h('p', { class: 'strong', i18n: 'history.count', vars: { n: fmtNumber(hist.sessions.length) } }),
      table([
        { key: 'history.theme', cell: (x) => h('a', { href: `#buoi-hoc/${x.session_id}`, text: x.theme, on: { click: () => dialog.close() } }) },
        { key: 'history.date', cell: (x) => h('span', { class: 'nowrap-sm', text: fmtTime(x.starts_at) }) },
        {
          key: 'history.method',
          cell: (x) => [
            h('span', has(`method.${x.method}`) ? { i18n: `method.${x.method}` } : { text: x.method_label }),
            x.replayed ? h('span', { class: 'sub', i18n: 'history.replayed' }) : null,
          ],
        },
        { key: 'history.point', cell: (x) => x.point || t('common.none') },
        { key: 'history.at', cell: (x) => fmtTime(x.at) },
      ], hist.sessions, { captionKey: 'history.action' }));
  } catch (err) {
    showError(body, err);
  }
}
