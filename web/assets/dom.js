// Tiny DOM helpers. Every piece of data goes in as text (textContent or a text
// node), never as HTML.

import { t } from './i18n.js';

/**
 * h('button', { class: 'btn', i18n: 'common.save', on: { click } }, …children)
 * attrs: class, text, i18n (+ vars), i18nAttrs {attr: key}, on {event: fn},
 * props {name: value} set as properties, anything else as an attribute
 * (null/false skipped, true → empty attribute).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
      else if (k === 'text') el.textContent = String(v);
      else if (k === 'i18n') {
        el.setAttribute('data-i18n', v);
        if (attrs.vars) el.setAttribute('data-i18n-vars', JSON.stringify(attrs.vars));
        el.textContent = t(v, attrs.vars);
      } else if (k === 'vars') continue;
      else if (k === 'i18nAttrs') {
        const pairs = [];
        for (const [attr, key] of Object.entries(v)) {
          el.setAttribute(attr, t(key, attrs.vars));
          pairs.push(`${attr}:${key}`);
        }
        el.setAttribute('data-i18n-attrs', pairs.join(';'));
        if (attrs.vars && !attrs.i18n) el.setAttribute('data-i18n-vars', JSON.stringify(attrs.vars));
      } else if (k === 'on') {
        for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      } else if (k === 'props') {
        for (const [p, pv] of Object.entries(v)) el[p] = pv;
      } else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function $(sel, root = document) {
  return root.querySelector(sel);
}

const pad = (n) => String(n).padStart(2, '0');

/** Shifts a time to Vietnam's wall clock (UTC+7, no daylight saving). */
function vnParts(value) {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return null;
  const v = new Date(d.getTime() + 7 * 3600 * 1000);
  return {
    y: v.getUTCFullYear(), mo: pad(v.getUTCMonth() + 1), d: pad(v.getUTCDate()),
    h: pad(v.getUTCHours()), mi: pad(v.getUTCMinutes()),
  };
}

/** dd/mm/yyyy HH:mm in Vietnam time. */
export function fmtTime(value) {
  if (!value) return t('common.none');
  const p = vnParts(value);
  return p ? `${p.d}/${p.mo}/${p.y} ${p.h}:${p.mi}` : String(value);
}

/** HH:mm in Vietnam time. */
export function fmtClock(value) {
  const p = vnParts(value);
  return p ? `${p.h}:${p.mi}` : '';
}

/** dd/mm/yyyy HH:mm – HH:mm (same day) or two full times. */
export function fmtRange(a, b) {
  const pa = vnParts(a);
  const pb = vnParts(b);
  if (pa && pb && pa.y === pb.y && pa.mo === pb.mo && pa.d === pb.d) {
    return `${fmtTime(a)} – ${pb.h}:${pb.mi}`;
  }
  return `${fmtTime(a)} – ${fmtTime(b)}`;
}

/** API time → the value of an <input type="datetime-local"> (Vietnam time). */
export function toLocalInput(value) {
  if (!value) return '';
  const p = vnParts(value);
  return p ? `${p.y}-${p.mo}-${p.d}T${p.h}:${p.mi}` : '';
}

/** <input type="datetime-local"> value → RFC 3339 in Vietnam time, or null. */
export function fromLocalInput(value) {
  const v = (value || '').trim();
  if (!v) return null;
  return v.length === 16 ? `${v}:00+07:00` : `${v}+07:00`;
}

export function fmtNumber(n) {
  if (n === null || n === undefined) return t('common.none');
  return Number(n).toLocaleString('vi-VN');
}

/** Text of a form control by name, trimmed ('' when absent). */
export function val(form, name) {
  const el = form.elements.namedItem(name);
  return el && typeof el.value === 'string' ? el.value.trim() : '';
}

/** A labelled form field. opts: {label, name, type, required, hint, value, …attrs}. */
let fieldSeq = 0;
export function field(opts) {
  const id = opts.id || `f${++fieldSeq}`;
  const hintId = opts.hint ? `${id}-hint` : null;
  const { label, hint, options, type = 'text', value, multiline, ...rest } = opts;
  delete rest.id;
  let control;
  const common = { id, name: opts.name, 'aria-describedby': hintId, ...rest };
  delete common.label;
  if (options) {
    control = h('select', common, options.map((o) =>
      h('option', { value: o.value, i18n: o.i18n, text: o.text, selected: o.value === value })));
  } else if (multiline) {
    control = h('textarea', { rows: 3, ...common });
    if (value !== undefined && value !== null) control.value = value;
  } else {
    control = h('input', { type, ...common });
    if (value !== undefined && value !== null) control.value = String(value);
  }
  const wrap = h('div', { class: 'field' },
    h('label', { for: id, i18n: label }),
    control,
    hint ? h('p', { class: 'hint', id: hintId, i18n: hint }) : null);
  return wrap;
}

export function checkbox(opts) {
  const id = opts.id || `f${++fieldSeq}`;
  const input = h('input', { type: 'checkbox', id, name: opts.name, checked: opts.checked });
  return h('div', { class: 'field field-check' }, input, h('label', { for: id, i18n: opts.label }));
}
