// Shared widgets: confirmation dialogs, messages, form errors, the import
// panel, "shown once" secrets with a copy button, and unit-code suggestions.

import { h, clear } from './dom.js';
import { t } from './i18n.js';
import { api, errorText, ApiError } from './api.js';

/** A modal question; resolves true when confirmed. */
export function confirmDialog(message, { okKey = 'common.confirm', danger = false } = {}) {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'submit', value: 'ok', class: danger ? 'btn btn-danger' : 'btn btn-primary', i18n: okKey });
    const cancel = h('button', { type: 'submit', value: 'cancel', class: 'btn', i18n: 'common.cancel' });
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'dlg-msg' },
      h('form', { method: 'dialog' },
        h('p', { id: 'dlg-msg', class: 'dialog-msg', text: message }),
        h('div', { class: 'actions' }, cancel, ok)));
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/**
 * Checks a form's constraints (required, min/max, url…) and explains the first
 * problem in the page's language in `slot` (browsers would use their own).
 */
export function checkForm(form, slot) {
  clear(slot);
  resetInvalid(form);
  for (const el of form.elements) {
    if (!el.willValidate || el.validity.valid) continue;
    const labelEl = el.id ? form.querySelector(`label[for="${el.id}"]`) : null;
    const label = labelEl ? labelEl.textContent : el.name;
    const v = el.validity;
    let key = 'err.invalid_value';
    if (v.valueMissing) key = 'err.required';
    else if (v.tooShort) key = 'err.too_short';
    else if (v.typeMismatch && el.type === 'url') key = 'err.url';
    else if (v.rangeUnderflow || v.rangeOverflow || v.stepMismatch || v.badInput) key = 'err.number_range';
    markInvalid(el, t(key, { field: label, min: el.min || el.minLength, max: el.max }));
    return false;
  }
  return true;
}

/** A modal form: `fields` are elements; resolves to the form, or null if cancelled. */
export function formDialog(titleText, fields, { okKey = 'common.save' } = {}) {
  return new Promise((resolve) => {
    const slot = h('div', { class: 'form-msg' });
    const form = h('form', { method: 'dialog', class: 'stack', novalidate: true },
      h('h2', { class: 'dialog-title', id: 'dlg-title', text: titleText }),
      fields,
      slot,
      h('div', { class: 'actions' },
        h('button', { type: 'submit', value: 'cancel', class: 'btn', formnovalidate: true, i18n: 'common.cancel' }),
        h('button', { type: 'submit', value: 'ok', class: 'btn btn-primary', i18n: okKey })));
    form.addEventListener('submit', (ev) => {
      if (ev.submitter && ev.submitter.value === 'ok' && !checkForm(form, slot)) ev.preventDefault();
    });
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'dlg-title' }, form);
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok' ? form : null);
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = form.querySelector('input,select,textarea');
    if (first) first.focus();
  });
}

/** A status line: kind 'ok' | 'error' | 'info'. Errors are announced at once. */
export function notice(kind, content) {
  return h('div', {
    class: `notice notice-${kind}`,
    role: kind === 'error' ? 'alert' : 'status',
  }, content);
}

function resetInvalid(form) {
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  for (const el of form.querySelectorAll('.field-error')) el.remove();
}

/** Marks `el` invalid with `message` right under it, and focuses it. */
function markInvalid(el, message) {
  const wrap = el.closest('.field') || el.parentElement;
  const id = `${el.id || el.name}-error`;
  const p = h('p', { class: 'field-error', id, role: 'alert', text: message });
  wrap.append(p);
  el.setAttribute('aria-invalid', 'true');
  const described = (el.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && !x.endsWith('-error'));
  el.setAttribute('aria-describedby', [...described, id].join(' '));
  el.focus();
}

/** Shows `err` under the offending field of `form` when there is one, else in `slot`. */
export function showError(slot, err, form) {
  clear(slot);
  if (form) resetInvalid(form);
  if (!err) return;
  if (form && err instanceof ApiError && err.field) {
    const name = err.field.replace(/^broadcast\./, 'broadcast_').replace(/^expected\./, 'expected_');
    const el = form.elements.namedItem(name);
    if (el && el.focus && !el.hidden && el.type !== 'hidden') {
      markInvalid(el, errorText(err));
      return;
    }
  }
  slot.append(notice('error', errorText(err)));
}

export function showOk(slot, text) {
  clear(slot);
  slot.append(notice('ok', text));
}

/** Disables a submit button while `work` runs. */
export async function busy(button, key, work) {
  const old = button.getAttribute('data-i18n');
  button.disabled = true;
  if (key) { button.textContent = t(key); button.removeAttribute('data-i18n'); }
  try {
    return await work();
  } finally {
    button.disabled = false;
    if (key && old) { button.setAttribute('data-i18n', old); button.textContent = t(old); }
  }
}

/** A secret shown once (operator link, API token), with a copy button. */
export function secretPanel(titleKey, noteKey, value, vars) {
  const input = h('input', { type: 'text', readonly: true, class: 'secret', 'aria-label': t(titleKey, vars), props: { value } });
  const status = h('span', { class: 'copy-status', role: 'status' });
  const copy = h('button', {
    type: 'button', class: 'btn btn-primary', i18n: 'common.copy',
    on: {
      click: async () => {
        let ok = false;
        try {
          if (navigator.clipboard && window.isSecureContext) {
            await navigator.clipboard.writeText(value);
            ok = true;
          }
        } catch { ok = false; }
        if (!ok) {
          input.focus();
          input.select();
          try { ok = document.execCommand('copy'); } catch { ok = false; }
        }
        status.textContent = ok ? t('common.copied') : t('common.copy_failed');
      },
    },
  });
  input.addEventListener('focus', () => input.select());
  return h('section', { class: 'secret-panel', 'aria-live': 'polite' },
    h('h3', { i18n: titleKey, vars }),
    h('div', { class: 'secret-row' }, input, copy),
    status,
    h('p', { class: 'secret-note', i18n: noteKey }));
}

/** The table of import problems (line numbers from the envelope). */
export function problemsTable(problems) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'table problems' },
      h('caption', { i18n: 'import.problems' }),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col', i18n: 'import.line' }),
        h('th', { scope: 'col', i18n: 'import.field' }),
        h('th', { scope: 'col', i18n: 'import.message' }),
        h('th', { scope: 'col', i18n: 'import.code' }))),
      h('tbody', null, problems.map((p) => h('tr', null,
        h('td', { class: 'num', text: p.line }),
        h('td', { text: p.field || '' }),
        h('td', { text: p.message }),
        h('td', null, h('code', { text: p.code })))))));
}

/**
 * The CSV import panel: header format, file input, and the result
 * (counts, or the problem table when the file was refused).
 */
export function importPanel({ titleKey, path, format, onDone }) {
  const result = h('div', { class: 'import-result' });
  const file = h('input', { type: 'file', name: 'file', id: `imp-${path.replace(/\W/g, '')}`, accept: '.csv,text/csv', required: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', i18n: 'import.submit' });
  const form = h('form', { class: 'stack' },
    h('p', null, h('span', { i18n: 'import.format' }), ' ', h('code', { class: 'csv-format', text: format })),
    h('p', { class: 'hint', i18n: 'import.format_note' }),
    h('div', { class: 'field' }, h('label', { for: file.id, i18n: 'import.file' }), file),
    h('div', { class: 'actions' }, submit),
    result);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(result);
    const f = file.files && file.files[0];
    if (!f) { result.append(notice('error', t('err.file_required'))); return; }
    await busy(submit, 'import.working', async () => {
      try {
        const r = await api('POST', path, { body: f, type: 'text/csv' });
        result.append(notice('ok', h('span', { i18n: 'import.ok', vars: { created: r.created, updated: r.updated } })));
        if (r.ignored_columns && r.ignored_columns.length) {
          result.append(h('p', { class: 'hint', i18n: 'import.ignored', vars: { columns: r.ignored_columns.join(', ') } }));
        }
        file.value = '';
        if (onDone) onDone(r);
      } catch (err) {
        if (err instanceof ApiError && err.problems.length) {
          result.append(notice('error', [
            h('strong', { i18n: 'import.rejected' }),
            h('br'),
            h('span', { class: 'server-msg', text: err.message }),
          ]));
          result.append(problemsTable(err.problems));
        } else {
          result.append(notice('error', errorText(err)));
        }
      }
    });
  });
  return collapsible(titleKey, form);
}

/** A <details> panel. */
export function collapsible(titleKey, content, open = false) {
  return h('details', { class: 'panel', open },
    h('summary', { i18n: titleKey }), h('div', { class: 'panel-body' }, content));
}

/** Suggests unit codes in `input` (a datalist filled from GET /api/units?q=). */
let listSeq = 0;
export function unitSuggest(input) {
  const id = `units-dl-${++listSeq}`;
  const list = h('datalist', { id });
  input.setAttribute('list', id);
  input.setAttribute('autocomplete', 'off');
  input.after(list);
  let timer = null;
  let last = '';
  input.addEventListener('input', () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (q.length < 2 || q === last) return;
    timer = setTimeout(async () => {
      last = q;
      try {
        const r = await api('GET', '/units', { query: { q, limit: 20 } });
        clear(list);
        for (const u of r.items) list.append(h('option', { value: u.code, label: `${u.name} (${u.code})` }));
      } catch { /* suggestions are optional */ }
    }, 250);
  });
  return input;
}

/** Options for kind / category selects. */
export const UNIT_KINDS = ['province', 'district', 'commune', 'ward', 'special_zone', 'party_committee', 'agency', 'cell', 'other'];
export const CATEGORIES = ['cadre', 'party_member', 'civil_servant', 'public_employee', 'worker', 'guest'];
export const STATUS_ORDER = ['scheduled', 'open', 'live', 'ended'];

export function statusBadge(status) {
  return h('span', { class: `badge badge-${status}`, i18n: `status.${status}` });
}

/** A responsive table: on narrow screens each row becomes a card, labelled by data-label. */
export function table(columns, rows, { captionKey, emptyKey } = {}) {
  if (!rows.length && emptyKey) return h('p', { class: 'empty', i18n: emptyKey });
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'table cards' },
      captionKey ? h('caption', { class: 'sr-only', i18n: captionKey }) : null,
      h('thead', null, h('tr', null, columns.map((c) =>
        h('th', { scope: 'col', i18n: c.key, class: c.num ? 'num' : null })))),
      h('tbody', null, rows.map((row) => h('tr', null, columns.map((c) =>
        h('td', { class: c.num ? 'num' : null, i18nAttrs: { 'data-label': c.key } }, c.cell(row))))))));
}
