// Đơn vị: the unit tree (children loaded when a node is opened), search,
// a unit's details with breadcrumbs, create / edit / delete, and CSV import.

import { h, append, clear, field, val, fmtNumber } from './dom.js';
import { t } from './i18n.js';
import { api } from './api.js';
import {
  checkForm, confirmDialog, showError, showOk, busy, collapsible, importPanel, unitSuggest,
  UNIT_KINDS, CATEGORIES, notice,
} from './ui.js';

const CHILD_PAGE = 500;
const UNITS_CSV = 'code,name,kind,parent_code[,expected_cadre,expected_party_member,expected_civil_servant,expected_public_employee,expected_worker,expected_guest]';

export async function render(view, route, ctx) {
  const state = { ctx, nodes: new Map(), selected: null };
  const treeMsg = h('div', { class: 'form-msg' });
  const tree = h('ul', { class: 'tree', i18nAttrs: { 'aria-label': 'units.tree' } });
  const results = h('div', { class: 'search-results', hidden: true });
  const detail = h('section', { class: 'detail-pane', 'aria-live': 'polite' });
  state.tree = tree;
  state.detail = detail;

  const q = h('input', { type: 'search', name: 'q', id: 'unit-q', maxlength: 100, autocomplete: 'off', 'aria-describedby': 'unit-q-hint' });
  const clearBtn = h('button', { type: 'button', class: 'btn', i18n: 'common.clear', hidden: true });
  const search = h('form', { role: 'search', class: 'search' },
    h('label', { for: 'unit-q', i18n: 'units.search' }),
    h('div', { class: 'search-row' }, q, h('button', { type: 'submit', class: 'btn btn-primary', i18n: 'common.search' }), clearBtn),
    h('p', { class: 'hint', id: 'unit-q-hint', i18n: 'units.search_hint' }));
  const endSearch = () => {
    q.value = '';
    results.hidden = true;
    tree.hidden = false;
    clearBtn.hidden = true;
  };
  clearBtn.addEventListener('click', () => { endSearch(); q.focus(); });
  search.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const term = q.value.trim();
    if (!term) { endSearch(); return; }
    clearBtn.hidden = false;
    tree.hidden = true;
    results.hidden = false;
    clear(results).append(h('p', { class: 'loading', i18n: 'common.loading' }));
    try {
      const r = await api('GET', '/units', { query: { q: term, limit: 100 } });
      clear(results);
      if (!r.items.length) { results.append(h('p', { class: 'empty', i18n: 'units.no_results' })); return; }
      results.append(
        h('p', { class: 'hint', i18n: 'units.results', vars: { total: r.total } }),
        h('ul', { class: 'result-list' }, r.items.map((u) => h('li', null,
          h('a', { href: `#don-vi/${encodeURIComponent(u.code)}`, text: u.name }),
          ' ', h('span', { class: 'sub-inline', text: `${u.code} · ` }), h('span', { class: 'sub-inline', i18n: `kind.${u.kind}` })))));
    } catch (err) {
      clear(results);
      showError(results, err);
    }
  });

  const head = h('div', { class: 'page-head' }, h('h1', { i18n: 'units.title' }));
  view.append(head);
  if (ctx.isOrganizer) {
    const rootForm = unitForm({ mode: 'root' }, state);
    view.append(collapsible('units.add_root', rootForm));
  }
  view.append(importPanel({
    titleKey: 'units.import', path: '/units/import', format: UNITS_CSV,
    onDone: () => loadRoots(state),
  }));
  view.append(h('div', { class: 'units-layout' },
    h('div', { class: 'tree-pane card' }, search, treeMsg, results, tree),
    detail));

  state.treeMsg = treeMsg;
  await loadRoots(state);
  await showDetail(state, route.parts[0]);

  return {
    update(r) {
      showDetail(state, r.parts[0]);
      return true;
    },
  };
}

// ---------------------------------------------------------------- tree

async function loadRoots(state) {
  clear(state.tree);
  state.nodes.clear();
  try {
    const r = await api('GET', '/units', { query: { limit: CHILD_PAGE } });
    for (const u of r.items) state.tree.append(treeNode(u, state));
    markSelected(state);
  } catch (err) {
    showError(state.treeMsg, err);
  }
}

function treeNode(u, state) {
  const children = h('ul', { class: 'tree-children', role: 'group', hidden: true });
  const node = { unit: u, children, loaded: false, toggle: null, li: null };
  const link = h('a', { class: 'tree-link', href: `#don-vi/${encodeURIComponent(u.code)}`, text: u.name });
  const meta = h('span', { class: 'tree-meta' },
    h('span', { i18n: `kind.${u.kind}` }), ` · ${u.code}`);
  const row = h('div', { class: 'tree-row' });
  node.li = h('li', { class: 'tree-node', 'data-code': u.code }, row, children);
  node.row = row;
  node.link = link;
  row.append(toggleFor(node, state), h('span', { class: 'tree-label' }, link, meta));
  state.nodes.set(u.code, node);
  return node.li;
}

function toggleFor(node, state) {
  if (node.unit.child_count <= 0) {
    node.toggle = null;
    return h('span', { class: 'tree-spacer', 'aria-hidden': 'true' });
  }
  const btn = h('button', {
    type: 'button', class: 'tree-toggle', 'aria-expanded': 'false',
    i18nAttrs: { 'aria-label': 'units.expand' }, vars: { name: node.unit.name },
  }, h('span', { class: 'tree-count', text: fmtNumber(node.unit.child_count) }));
  btn.addEventListener('click', () => setExpanded(node, state, btn.getAttribute('aria-expanded') !== 'true'));
  node.toggle = btn;
  return btn;
}

async function setExpanded(node, state, open) {
  if (!node.toggle) return;
  node.toggle.setAttribute('aria-expanded', String(open));
  node.children.hidden = !open;
  if (open && !node.loaded) await loadChildren(node, state);
}

async function loadChildren(node, state, offset = 0) {
  if (offset === 0) clear(node.children).append(h('li', { class: 'loading', i18n: 'common.loading' }));
  try {
    const r = await api('GET', '/units', { query: { parent: node.unit.code, limit: CHILD_PAGE, offset } });
    if (offset === 0) clear(node.children);
    const old = node.children.querySelector('.tree-more');
    if (old) old.remove();
    for (const u of r.items) node.children.append(treeNode(u, state));
    const loaded = offset + r.items.length;
    if (loaded < r.total) {
      node.children.append(h('li', { class: 'tree-more' }, h('button', {
        type: 'button', class: 'btn btn-small', i18n: 'common.more',
        on: { click: () => loadChildren(node, state, loaded) },
      })));
    }
    node.loaded = true;
    markSelected(state);
  } catch (err) {
    clear(node.children);
    node.children.append(h('li', null, notice('error', err.message)));
  }
}

/** Reloads a node's children after a change (and gives it a toggle if it gained some). */
async function refreshNode(state, code) {
  const node = state.nodes.get(code);
  if (!node) { await loadRoots(state); return; }
  try {
    const fresh = await api('GET', `/units/${encodeURIComponent(code)}`);
    node.unit = fresh;
    const first = node.row.firstChild;
    first.replaceWith(toggleFor(node, state));
    node.loaded = false;
    if (node.toggle) await setExpanded(node, state, true);
    else { clear(node.children); node.children.hidden = true; }
  } catch { /* the detail pane shows errors */ }
}

function markSelected(state) {
  for (const n of state.nodes.values()) {
    if (n.unit.code === state.selected) n.link.setAttribute('aria-current', 'true');
    else n.link.removeAttribute('aria-current');
  }
}

// ---------------------------------------------------------------- detail

async function showDetail(state, code) {
  const { detail, ctx } = state;
  state.selected = code || null;
  markSelected(state);
  clear(detail);
  if (!code) {
    detail.append(h('p', { class: 'empty', i18n: 'units.pick' }));
    return;
  }
  detail.append(h('p', { class: 'loading', i18n: 'common.loading' }));
  let u;
  try {
    u = await api('GET', `/units/${encodeURIComponent(code)}`);
  } catch (err) {
    clear(detail);
    showError(detail, err);
    return;
  }
  if (state.selected !== code) return; // another unit was chosen meanwhile
  clear(detail);
  const msg = h('div', { class: 'form-msg' });
  const crumbs = h('nav', { class: 'breadcrumbs', i18nAttrs: { 'aria-label': 'units.breadcrumbs' } },
    h('ol', null, u.ancestors.map((a, i) => h('li', null,
      i === u.ancestors.length - 1
        ? h('span', { 'aria-current': 'page', text: a.name })
        : h('a', { href: `#don-vi/${encodeURIComponent(a.code)}`, text: a.name })))));
  const row = (key, value) => [h('dt', { i18n: key }), h('dd', null, value)];
  const facts = h('dl', { class: 'facts' },
    row('units.code', h('code', { text: u.code })),
    row('units.kind', h('span', { i18n: `kind.${u.kind}` })),
    row('units.parent_code', u.parent_code ? h('a', { href: `#don-vi/${encodeURIComponent(u.parent_code)}`, text: u.parent_code }) : t('common.none')),
    row('units.children', fmtNumber(u.child_count)),
    row('units.members', fmtNumber(u.member_count)));
  const expected = CATEGORIES.filter((c) => u.expected[c] !== null && u.expected[c] !== undefined);
  const expectedList = expected.length
    ? h('div', null, h('h3', { i18n: 'units.expected' }),
      h('dl', { class: 'facts facts-compact' }, expected.map((c) => row(`category.${c}`, fmtNumber(u.expected[c])))))
    : null;

  const del = h('button', {
    type: 'button', class: 'btn btn-danger-outline', i18n: 'common.delete',
    on: {
      click: async () => {
        if (!await confirmDialog(t('units.delete_confirm', { name: u.name }), { danger: true, okKey: 'common.delete' })) return;
        await busy(del, null, async () => {
          try {
            await api('DELETE', `/units/${encodeURIComponent(u.code)}`);
            if (u.parent_code) await refreshNode(state, u.parent_code);
            else await loadRoots(state);
            const next = u.parent_code || '';
            history.pushState(null, '', next ? `#don-vi/${encodeURIComponent(next)}` : '#don-vi');
            await showDetail(state, next);
            state.detail.prepend(notice('ok', t('units.deleted')));
          } catch (err) { showError(msg, err); }
        });
      },
    },
  });
  const isOwnRoot = !ctx.isOrganizer && u.code === ctx.account.unit_code;
  append(detail, [
    crumbs,
    h('h2', { class: 'unit-name', text: u.name }),
    facts,
    expectedList,
    h('div', { class: 'actions' },
      h('a', { class: 'btn', href: `#thanh-vien?unit=${encodeURIComponent(u.code)}&subtree=true`, i18n: 'units.view_members' }),
      // Printable A4 sheets of signed member cards, for the consoles to scan.
      h('a', { class: 'btn', href: `/api/units/${encodeURIComponent(u.code)}/cards?subtree=true`, target: '_blank', rel: 'noopener', i18n: 'units.print_cards' }),
      isOwnRoot ? null : del),
    msg,
    collapsible('units.add_child', unitForm({ mode: 'child', parent: u }, state)),
    collapsible('units.edit', unitForm({ mode: 'edit', unit: u, isOwnRoot }, state))]);
}

// ---------------------------------------------------------------- forms

function unitForm({ mode, parent, unit, isOwnRoot }, state) {
  const msg = h('div', { class: 'form-msg' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', i18n: 'common.save' });
  const defaultKind = unit ? unit.kind : (mode === 'root' ? 'province' : defaultChildKind(parent));
  const parentField = mode === 'edit' && !isOwnRoot
    ? field({ label: 'units.parent_code', name: 'parent_code', value: unit.parent_code || '', hint: state.ctx.isOrganizer ? 'units.parent_hint' : null, maxlength: 64 })
    : null;
  if (parentField) unitSuggest(parentField.querySelector('input'));
  const form = h('form', { class: 'stack', novalidate: true },
    h('div', { class: 'grid-2' },
      mode === 'edit' ? null : field({ label: 'units.code', name: 'code', required: true, maxlength: 64, autocomplete: 'off', spellcheck: 'false' }),
      field({ label: 'units.name', name: 'name', required: true, maxlength: 255, value: unit ? unit.name : '' }),
      field({ label: 'units.kind', name: 'kind', value: defaultKind, options: UNIT_KINDS.map((k) => ({ value: k, i18n: `kind.${k}` })) }),
      parentField),
    h('fieldset', null,
      h('legend', { i18n: 'units.expected' }),
      h('div', { class: 'grid-3' }, CATEGORIES.map((c) => field({
        label: `category.${c}`, name: `expected_${c}`, type: 'number', min: 0, max: 10000000, inputmode: 'numeric',
        value: unit && unit.expected[c] !== null ? unit.expected[c] : '',
      })))),
    msg,
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!checkForm(form, msg)) return;
    const expected = {};
    for (const c of CATEGORIES) {
      const v = val(form, `expected_${c}`);
      expected[c] = v === '' ? null : Number(v);
    }
    await busy(submit, 'common.saving', async () => {
      try {
        if (mode === 'edit') {
          const payload = { name: val(form, 'name'), kind: val(form, 'kind'), expected };
          if (parentField) {
            const p = val(form, 'parent_code');
            if (p !== (unit.parent_code || '')) payload.parent_code = p;
          }
          await api('PATCH', `/units/${encodeURIComponent(unit.code)}`, { json: payload });
          if (payload.parent_code !== undefined || !unit.parent_code) await loadRoots(state);
          else await refreshNode(state, unit.parent_code);
          await showDetail(state, unit.code);
          state.detail.prepend(notice('ok', t('common.done')));
        } else {
          const payload = { code: val(form, 'code'), name: val(form, 'name'), kind: val(form, 'kind'), expected };
          if (mode === 'child') payload.parent_code = parent.code;
          const created = await api('POST', '/units', { json: payload });
          form.reset();
          showOk(msg, t('units.created', { name: created.name }));
          if (mode === 'child') await refreshNode(state, parent.code);
          else await loadRoots(state);
        }
      } catch (err) {
        showError(msg, err, form);
      }
    });
  });
  return form;
}

function defaultChildKind(parent) {
  switch (parent && parent.kind) {
    case 'province': return 'commune';
    case 'district': return 'commune';
    case 'commune': case 'ward': case 'special_zone': case 'party_committee': return 'cell';
    default: return 'other';
  }
}
