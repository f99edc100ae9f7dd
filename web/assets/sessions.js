// Buổi học: the list, creating and editing a session, its status, its
// connection points with their operator links, and its report (session-report.js).

import { h, clear, field, val, fmtTime, fmtRange, toLocalInput, fromLocalInput, fmtNumber } from './dom.js';
import { t } from './i18n.js';
import { api } from './api.js';
import {
  checkForm, confirmDialog, notice, showError, showOk, busy, secretPanel, collapsible,
  unitSuggest, statusBadge, table, STATUS_ORDER,
} from './ui.js';
import { renderReport } from './session-report.js';

const PAGE = 50;

export async function render(view, route, ctx) {
  const id = route.parts[0];
  if (id) return renderDetail(view, id, ctx);
  return renderList(view, ctx);
}

// ---------------------------------------------------------------- list

async function renderList(view, ctx) {
  const msg = h('div', { class: 'form-msg' });
  const listSlot = h('div', { class: 'list-slot' }, h('p', { class: 'loading', i18n: 'common.loading' }));
  const form = sessionForm(null, ctx, async (payload, button) => {
    await busy(button, 'common.saving', async () => {
      try {
        const s = await api('POST', '/sessions', { json: payload });
        ctx.go(`#buoi-hoc/${s.id}`);
      } catch (err) {
        showError(form.msg, err, form.el);
      }
    });
  });
  const create = collapsible('sessions.new', form.el);
  create.classList.add('panel-create');
  view.append(
    h('div', { class: 'page-head' }, h('h1', { i18n: 'sessions.title' })),
    create,
    msg,
    listSlot,
  );

  let offset = 0;
  const rows = [];
  const more = h('button', { type: 'button', class: 'btn', i18n: 'common.more' });
  const load = async () => {
    try {
      const page = await api('GET', '/sessions', { query: { limit: PAGE, offset } });
      rows.push(...page);
      offset += page.length;
      clear(listSlot);
      listSlot.append(sessionsTable(rows));
      if (page.length === PAGE) listSlot.append(h('div', { class: 'actions' }, more));
    } catch (err) {
      clear(listSlot);
      showError(msg, err);
    }
  };
  more.addEventListener('click', load);
  await load();
}

function sessionsTable(rows) {
  return table([
    { key: 'sessions.theme', cell: (s) => h('a', { href: `#buoi-hoc/${s.id}`, class: 'strong', text: s.theme }) },
    { key: 'sessions.host', cell: (s) => s.host.name },
    { key: 'sessions.time', cell: (s) => h('span', { class: 'nowrap-sm', text: fmtRange(s.starts_at, s.ends_at) }) },
    { key: 'sessions.status', cell: (s) => statusBadge(s.status) },
    { key: 'sessions.points', num: true, cell: (s) => fmtNumber(s.point_count) },
  ], rows, { captionKey: 'sessions.title', emptyKey: 'sessions.empty' });
}

// ---------------------------------------------------------------- form

/** The create / edit form. onSubmit(payload, submitButton). */
function sessionForm(session, ctx, onSubmit) {
  const b = (session && session.broadcast) || {};
  const defaultHost = session ? session.host.code : (ctx.account.unit_code || '');
  const host = field({ label: 'sessions.host_code', name: 'host_unit_code', required: true, value: defaultHost, maxlength: 64 });
  const scope = field({ label: 'sessions.scope_code', name: 'scope_unit_code', hint: 'sessions.scope_hint', value: session ? session.scope.code : '', maxlength: 64 });
  unitSuggest(host.querySelector('input'));
  unitSuggest(scope.querySelector('input'));
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', i18n: session ? 'common.save' : 'sessions.create' });
  const msg = h('div', { class: 'form-msg' });
  const el = h('form', { class: 'stack form-grid', novalidate: true },
    field({ label: 'sessions.theme', name: 'theme', required: true, maxlength: 500, value: session ? session.theme : '', multiline: true, rows: 2 }),
    field({ label: 'sessions.description', name: 'description', multiline: true, maxlength: 5000, value: session ? session.description || '' : '' }),
    h('div', { class: 'grid-2' }, host, scope),
    h('fieldset', null,
      h('legend', { i18n: 'sessions.time' }),
      h('p', { class: 'hint', i18n: 'sessions.time_hint' }),
      h('div', { class: 'grid-2' },
        field({ label: 'sessions.starts_at', name: 'starts_at', type: 'datetime-local', required: true, value: session ? toLocalInput(session.starts_at) : '' }),
        field({ label: 'sessions.ends_at', name: 'ends_at', type: 'datetime-local', required: true, value: session ? toLocalInput(session.ends_at) : '' }),
        field({ label: 'sessions.checkin_opens_at', name: 'checkin_opens_at', type: 'datetime-local', value: session ? toLocalInput(session.checkin_opens_at) : '' }),
        field({ label: 'sessions.checkin_closes_at', name: 'checkin_closes_at', type: 'datetime-local', value: session ? toLocalInput(session.checkin_closes_at) : '' })),
      h('p', { class: 'hint', i18n: 'sessions.checkin_hint' })),
    h('fieldset', null,
      h('legend', { i18n: 'sessions.broadcast' }),
      h('div', { class: 'grid-2' },
        field({ label: 'sessions.tv_channel', name: 'broadcast_tv_channel', hint: 'sessions.tv_channel_hint', maxlength: 200, value: b.tv_channel || '' }),
        field({ label: 'sessions.air_time', name: 'broadcast_air_time', type: 'datetime-local', value: toLocalInput(b.air_time) }),
        field({ label: 'sessions.stream_url', name: 'broadcast_stream_url', type: 'url', inputmode: 'url', placeholder: 'https://', value: b.stream_url || '' }),
        field({ label: 'sessions.recording_url', name: 'broadcast_recording_url', type: 'url', inputmode: 'url', placeholder: 'https://', value: b.recording_url || '' }))),
    msg,
    h('div', { class: 'actions' }, submit));
  el.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!checkForm(el, msg)) return;
    const opt = (name) => val(el, name) || null;
    const payload = {
      theme: val(el, 'theme'),
      host_unit_code: val(el, 'host_unit_code'),
      starts_at: fromLocalInput(val(el, 'starts_at')),
      ends_at: fromLocalInput(val(el, 'ends_at')),
      broadcast: {
        tv_channel: opt('broadcast_tv_channel'),
        air_time: fromLocalInput(val(el, 'broadcast_air_time')),
        stream_url: opt('broadcast_stream_url'),
        recording_url: opt('broadcast_recording_url'),
      },
    };
    const description = val(el, 'description');
    if (session) payload.description = description; // '' clears it
    else if (description) payload.description = description;
    const scopeCode = val(el, 'scope_unit_code');
    if (scopeCode) payload.scope_unit_code = scopeCode;
    for (const k of ['checkin_opens_at', 'checkin_closes_at']) {
      const v = fromLocalInput(val(el, k));
      if (v) payload[k] = v;
    }
    onSubmit(payload, submit);
  });
  return { el, msg };
}

// ---------------------------------------------------------------- detail

async function canEdit(session, ctx) {
  if (ctx.isOrganizer) return true;
  // A manager changes only sessions whose subtree lies inside their own:
  // the scope unit is then visible to them.
  try {
    await api('GET', `/units/${encodeURIComponent(session.scope.code)}`);
    return true;
  } catch {
    return false;
  }
}

async function renderDetail(view, id, ctx) {
  const back = h('p', { class: 'back' }, h('a', { href: '#buoi-hoc' }, '← ', h('span', { i18n: 'sessions.back' })));
  view.append(back, h('p', { class: 'loading', i18n: 'common.loading' }));
  let session;
  try {
    session = await api('GET', `/sessions/${encodeURIComponent(id)}`);
  } catch (err) {
    clear(view);
    view.append(back, h('h1', { i18n: 'sessions.not_found' }));
    const slot = h('div');
    view.append(slot);
    showError(slot, err);
    return;
  }
  const editable = await canEdit(session, ctx);
  clear(view);
  const msg = h('div', { class: 'form-msg' });
  const head = h('div', { class: 'page-head' },
    h('h1', { class: 'session-theme', text: session.theme }),
    statusBadge(session.status));
  view.append(back, head, msg);

  // The live dashboard, the public page and the TV overlay of this session.
  view.append(h('nav', { class: 'session-links', i18nAttrs: { 'aria-label': 'sessions.links' } },
    h('a', { class: 'btn btn-small', href: `/truc-tiep/${session.id}`, i18n: 'sessions.live_link' }),
    h('a', { class: 'btn btn-small', href: `/s/${session.id}`, i18n: 'sessions.public_link' }),
    h('a', { class: 'btn btn-small', href: `/tv/${session.id}/overlay`, target: '_blank', rel: 'noopener', i18n: 'sessions.overlay_link' })));

  // Status buttons: only forward.
  const idx = STATUS_ORDER.indexOf(session.status);
  const next = STATUS_ORDER.slice(idx + 1);
  if (editable && next.length) {
    const bar = h('div', { class: 'actions status-actions', role: 'group', i18nAttrs: { 'aria-label': 'sessions.status_actions' } },
      next.map((st, i) => h('button', {
        type: 'button',
        class: st === 'ended' ? 'btn btn-danger-outline' : (i === 0 ? 'btn btn-primary' : 'btn'),
        'data-status': st,
        i18n: `sessions.to_${st}`,
        on: {
          click: async (ev) => {
            const btn = ev.currentTarget;
            const ok = await confirmDialog(t('sessions.confirm_status', { status: t(`status.${st}`) }), { danger: st === 'ended' });
            if (!ok) return;
            await busy(btn, null, async () => {
              try {
                await api('POST', `/sessions/${session.id}/status`, { json: { status: st } });
                ctx.go(`#buoi-hoc/${session.id}`);
              } catch (err) {
                showError(msg, err);
              }
            });
          },
        },
      })));
    view.append(bar);
  }

  view.append(sessionFacts(session));

  if (editable) {
    const form = sessionForm(session, ctx, async (payload, button) => {
      await busy(button, 'common.saving', async () => {
        try {
          await api('PATCH', `/sessions/${session.id}`, { json: payload });
          ctx.go(`#buoi-hoc/${session.id}`);
        } catch (err) {
          showError(form.msg, err, form.el);
        }
      });
    });
    view.append(collapsible('sessions.edit', form.el));
  }

  const points = h('section', { class: 'section', 'aria-labelledby': 'points-h' });
  // The report and the absentees, in any state of the session.
  const report = h('section', { class: 'section report', 'aria-labelledby': 'report-h' });
  view.append(points, report);
  renderReport(report, session);
  await renderPoints(points, session, ctx);
}

function sessionFacts(s) {
  const b = s.broadcast || {};
  const link = (url) => (url ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'break', text: url }) : t('common.none'));
  const row = (key, value) => [h('dt', { i18n: key }), h('dd', null, value)];
  return h('dl', { class: 'facts' },
    row('sessions.host', `${s.host.name} (${s.host.code})`),
    row('sessions.scope', `${s.scope.name} (${s.scope.code})`),
    row('sessions.time', fmtRange(s.starts_at, s.ends_at)),
    row('sessions.checkin_window', fmtRange(s.checkin_opens_at, s.checkin_closes_at)),
    row('sessions.tv_channel', b.tv_channel || t('common.none')),
    row('sessions.air_time', fmtTime(b.air_time)),
    row('sessions.stream_url', link(b.stream_url)),
    row('sessions.recording_url', link(b.recording_url)),
    s.description ? row('sessions.description', h('span', { class: 'pre', text: s.description })) : null);
}

// ---------------------------------------------------------------- points

async function renderPoints(section, session, ctx) {
  const secretSlot = h('div', { class: 'secret-slot' });
  const msg = h('div', { class: 'form-msg' });
  const tableSlot = h('div', null, h('p', { class: 'loading', i18n: 'common.loading' }));
  section.append(h('h2', { id: 'points-h', i18n: 'points.title' }), secretSlot, msg, tableSlot);

  const showLink = (result) => {
    clear(secretSlot);
    const panel = secretPanel('points.link_for', 'points.link_once', result.operator_link, { name: result.point.name });
    secretSlot.append(panel);
    panel.scrollIntoView({ block: 'nearest' });
    const btn = panel.querySelector('button');
    if (btn) btn.focus({ preventScroll: true });
  };

  const reload = async () => {
    try {
      const points = await api('GET', `/sessions/${session.id}/points`);
      clear(tableSlot);
      tableSlot.append(pointsTable(points, { msg, showLink, reload }));
    } catch (err) {
      clear(tableSlot);
      showError(msg, err);
    }
  };

  if (session.status !== 'ended') {
    const form = pointForm(session, ctx, async (payload, button) => {
      await busy(button, 'common.saving', async () => {
        try {
          const result = await api('POST', `/sessions/${session.id}/points`, { json: payload });
          form.el.reset();
          form.resetDefaults();
          showOk(form.msg, t('points.registered', { name: result.point.name }));
          showLink(result);
          await reload();
        } catch (err) {
          showError(form.msg, err, form.el);
        }
      });
    });
    section.append(collapsible('points.register', form.el, true));
  }
  await reload();
}

function pointsTable(points, { msg, showLink, reload }) {
  return table([
    {
      key: 'points.name',
      cell: (p) => [h('span', { class: 'strong', text: p.name }), p.location ? h('span', { class: 'sub', text: p.location }) : null],
    },
    { key: 'points.unit', cell: (p) => [h('span', { text: p.unit_name }), h('span', { class: 'sub', text: p.unit_code })] },
    { key: 'points.kind', cell: (p) => h('span', { i18n: `pointkind.${p.kind}` }) },
    { key: 'points.capacity', num: true, cell: (p) => fmtNumber(p.capacity) },
    {
      key: 'points.operator',
      cell: (p) => [
        h('span', { text: p.operator_name || t('common.none') }),
        p.operator_phone ? h('a', { class: 'sub', href: `tel:${p.operator_phone}`, text: p.operator_phone }) : null,
      ],
    },
    {
      key: 'points.link',
      cell: (p) => (p.operator_link_active
        ? [h('span', { class: 'badge badge-live', i18n: 'points.link_active' }),
          p.operator_link_issued_at ? h('span', { class: 'sub', i18n: 'points.link_issued', vars: { time: fmtTime(p.operator_link_issued_at) } }) : null]
        : h('span', { class: 'badge badge-ended', i18n: 'points.link_revoked' })),
    },
    {
      key: 'common.actions',
      cell: (p) => h('div', { class: 'row-actions' },
        h('button', {
          type: 'button', class: 'btn btn-small', i18n: 'points.rotate', 'data-action': 'rotate',
          on: {
            click: async (ev) => {
              const btn = ev.currentTarget;
              if (!await confirmDialog(t('points.confirm_rotate', { name: p.name }))) return;
              await busy(btn, null, async () => {
                try {
                  const result = await api('POST', `/points/${p.id}/operator-link`);
                  showLink(result);
                  await reload();
                } catch (err) { showError(msg, err); }
              });
            },
          },
        }),
        p.operator_link_active ? h('button', {
          type: 'button', class: 'btn btn-small btn-danger-outline', i18n: 'points.revoke', 'data-action': 'revoke',
          on: {
            click: async (ev) => {
              const btn = ev.currentTarget;
              if (!await confirmDialog(t('points.confirm_revoke', { name: p.name }), { danger: true, okKey: 'points.revoke' })) return;
              await busy(btn, null, async () => {
                try {
                  await api('DELETE', `/points/${p.id}/operator-link`);
                  showOk(msg, t('points.revoked'));
                  await reload();
                } catch (err) { showError(msg, err); }
              });
            },
          },
        }) : null),
    },
  ], points, { captionKey: 'points.title', emptyKey: 'points.empty' });
}

function pointForm(session, ctx, onSubmit) {
  const defaultUnit = ctx.account.unit_code || session.scope.code;
  const unit = field({ label: 'points.unit_code', name: 'unit_code', required: true, value: defaultUnit, maxlength: 64 });
  unitSuggest(unit.querySelector('input'));
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', i18n: 'points.register' });
  const msg = h('div', { class: 'form-msg' });
  const el = h('form', { class: 'stack', novalidate: true },
    h('div', { class: 'grid-2' },
      unit,
      field({ label: 'points.name', name: 'name', required: true, maxlength: 200 }),
      field({ label: 'points.location', name: 'location', maxlength: 300 }),
      field({
        label: 'points.kind', name: 'kind', value: 'video',
        options: [{ value: 'video', i18n: 'pointkind.video' }, { value: 'broadcast', i18n: 'pointkind.broadcast' }],
      }),
      field({ label: 'points.capacity', name: 'capacity', type: 'number', min: 1, max: 100000, inputmode: 'numeric' }),
      field({ label: 'points.operator_name', name: 'operator_name', maxlength: 120, autocomplete: 'off' }),
      field({ label: 'points.operator_phone', name: 'operator_phone', type: 'tel', inputmode: 'tel', maxlength: 20, placeholder: '0912345678' })),
    msg,
    h('div', { class: 'actions' }, submit));
  el.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!checkForm(el, msg)) return;
    const payload = {
      unit_code: val(el, 'unit_code'),
      name: val(el, 'name'),
      kind: val(el, 'kind') || 'video',
    };
    for (const k of ['location', 'operator_name', 'operator_phone']) {
      const v = val(el, k);
      if (v) payload[k] = v;
    }
    const cap = val(el, 'capacity');
    if (cap) payload.capacity = Number(cap);
    onSubmit(payload, submit);
  });
  const resetDefaults = () => { el.elements.namedItem('unit_code').value = defaultUnit; };
  return { el, msg, resetDefaults };
}

