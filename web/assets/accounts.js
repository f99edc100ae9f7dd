// Tài khoản: accounts the caller manages (create, lock / unlock, reset the
// password), changing one's own password, personal API tokens, and — for
// organizers — webhooks (webhooks.js).

import { h, clear, field, val, fmtTime } from './dom.js';
import { t } from './i18n.js';
import { api, ApiError } from './api.js';
import {
  checkForm, confirmDialog, formDialog, showError, showOk, busy, collapsible, secretPanel,
  unitSuggest, table,
} from './ui.js';
import { renderWebhooks } from './webhooks.js';

export async function render(view, route, ctx) {
  const listMsg = h('div', { class: 'form-msg' });
  const listSlot = h('div', null, h('p', { class: 'loading', i18n: 'common.loading' }));
  const reload = async () => {
    try {
      const accounts = await api('GET', '/accounts');
      clear(listSlot).append(accountsTable(accounts, ctx, listMsg, reload));
    } catch (err) {
      clear(listSlot);
      showError(listMsg, err);
    }
  };

  const tokens = h('section', { class: 'section', 'aria-labelledby': 'tokens-h' });

  view.append(
    h('div', { class: 'page-head' }, h('h1', { i18n: 'accounts.title' })),
    h('section', { class: 'section', 'aria-labelledby': 'accounts-h' },
      h('h2', { id: 'accounts-h', i18n: 'accounts.list' }),
      collapsible('accounts.create', createForm(ctx, reload)),
      listMsg,
      listSlot),
    h('section', { class: 'section', 'aria-labelledby': 'pw-h' },
      h('h2', { id: 'pw-h', i18n: 'accounts.my_password' }),
      passwordForm(ctx)),
    tokens);
  const work = [reload(), renderTokens(tokens)];
  if (ctx.isOrganizer) {
    const hooks = h('section', { class: 'section', 'aria-labelledby': 'webhooks-h' });
    view.append(hooks);
    work.push(renderWebhooks(hooks));
  }
  await Promise.all(work);
}

function accountsTable(accounts, ctx, msg, reload) {
  return table([
    { key: 'accounts.username', cell: (a) => [h('code', { text: a.username }), a.id === ctx.account.id ? [' ', h('span', { class: 'sub-inline', i18n: 'accounts.you' })] : null] },
    { key: 'accounts.display_name', cell: (a) => a.display_name },
    { key: 'accounts.role', cell: (a) => h('span', { i18n: `role.${a.role}` }) },
    { key: 'accounts.unit', cell: (a) => (a.unit_code ? [h('span', { text: a.unit_name || '' }), h('span', { class: 'sub', text: a.unit_code })] : h('span', { i18n: 'shell.all_units' })) },
    { key: 'accounts.state', cell: (a) => h('span', { class: a.disabled ? 'badge badge-ended' : 'badge badge-live', i18n: a.disabled ? 'accounts.locked' : 'accounts.active' }) },
    {
      key: 'common.actions',
      cell: (a) => {
        const self = a.id === ctx.account.id;
        return h('div', { class: 'row-actions' },
          self ? null : h('button', {
            type: 'button', class: a.disabled ? 'btn btn-small' : 'btn btn-small btn-danger-outline',
            i18n: a.disabled ? 'accounts.unlock' : 'accounts.lock',
            on: {
              click: async () => {
                if (!a.disabled && !await confirmDialog(t('accounts.confirm_lock', { name: a.username }), { danger: true, okKey: 'accounts.lock' })) return;
                try {
                  await api('PATCH', `/accounts/${a.id}`, { json: { disabled: !a.disabled } });
                  await reload();
                } catch (err) { showError(msg, err); }
              },
            },
          }),
          self ? null : h('button', { type: 'button', class: 'btn btn-small', i18n: 'accounts.reset', on: { click: () => resetPassword(a, msg) } }));
      },
    },
  ], accounts, { captionKey: 'accounts.list', emptyKey: 'accounts.empty' });
}

async function resetPassword(a, msg) {
  const errSlot = h('div', { class: 'form-msg' });
  const fields = [
    field({ label: 'accounts.new_password', name: 'password', type: 'password', required: true, minlength: 10, maxlength: 256, autocomplete: 'new-password', hint: 'accounts.password_hint' }),
    errSlot,
  ];
  for (;;) {
    const form = await formDialog(t('accounts.reset_for', { name: a.username }), fields);
    if (!form) return;
    try {
      await api('PATCH', `/accounts/${a.id}`, { json: { password: form.elements.namedItem('password').value } });
      showOk(msg, t('accounts.reset_done'));
      return;
    } catch (err) {
      showError(errSlot, err);
    }
  }
}

function createForm(ctx, reload) {
  const msg = h('div', { class: 'form-msg' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', i18n: 'accounts.create' });
  const roles = ctx.isOrganizer ? ['manager', 'organizer'] : ['manager'];
  const unit = field({ label: 'accounts.unit_code', name: 'unit_code', required: true, maxlength: 64, value: ctx.account.unit_code || '' });
  unitSuggest(unit.querySelector('input'));
  const role = field({ label: 'accounts.role', name: 'role', value: 'manager', options: roles.map((r) => ({ value: r, i18n: `role.${r}` })) });
  if (!ctx.isOrganizer) role.hidden = true; // managers create managers only
  const form = h('form', { class: 'stack', novalidate: true },
    h('div', { class: 'grid-2' },
      field({ label: 'accounts.username', name: 'username', required: true, minlength: 3, maxlength: 64, autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', hint: 'accounts.username_hint' }),
      field({ label: 'accounts.display_name', name: 'display_name', required: true, maxlength: 120, autocomplete: 'off' }),
      field({ label: 'accounts.password', name: 'password', type: 'password', required: true, minlength: 10, maxlength: 256, autocomplete: 'new-password', hint: 'accounts.password_hint' }),
      role,
      unit),
    msg,
    h('div', { class: 'actions' }, submit));
  const roleSelect = form.elements.namedItem('role');
  const unitInput = form.elements.namedItem('unit_code');
  const sync = () => {
    const isManager = roleSelect.value === 'manager';
    unit.hidden = !isManager;
    unitInput.required = isManager;
  };
  roleSelect.addEventListener('change', sync);
  sync();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!checkForm(form, msg)) return;
    const payload = {
      username: val(form, 'username'),
      display_name: val(form, 'display_name'),
      password: form.elements.namedItem('password').value,
      role: roleSelect.value,
    };
    if (payload.role === 'manager') payload.unit_code = val(form, 'unit_code');
    await busy(submit, 'common.saving', async () => {
      try {
        const a = await api('POST', '/accounts', { json: payload });
        form.reset();
        unitInput.value = ctx.account.unit_code || '';
        sync();
        showOk(msg, t('accounts.created', { name: a.username }));
        await reload();
      } catch (err) {
        showError(msg, err, form);
      }
    });
  });
  return form;
}

function passwordForm() {
  const msg = h('div', { class: 'form-msg' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', i18n: 'accounts.my_password' });
  const form = h('form', { class: 'stack narrow', novalidate: true },
    field({ label: 'accounts.current_password', name: 'current_password', type: 'password', required: true, autocomplete: 'current-password' }),
    field({ label: 'accounts.new_password', name: 'new_password', type: 'password', required: true, minlength: 10, maxlength: 256, autocomplete: 'new-password', hint: 'accounts.password_hint' }),
    field({ label: 'accounts.confirm_password', name: 'confirm_password', type: 'password', required: true, autocomplete: 'new-password' }),
    msg,
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!checkForm(form, msg)) return;
    const get = (n) => form.elements.namedItem(n).value;
    if (get('new_password') !== get('confirm_password')) {
      showError(msg, new ApiError(400, { error: { code: 'password_mismatch', field: 'confirm_password', message: t('err.password_mismatch') } }), form);
      return;
    }
    await busy(submit, 'common.saving', async () => {
      try {
        await api('POST', '/auth/password', { json: { current_password: get('current_password'), new_password: get('new_password') } });
        form.reset();
        showOk(msg, t('accounts.password_changed'));
      } catch (err) {
        const e = err;
        if (e.field === 'password') e.field = 'new_password';
        showError(msg, e, form);
      }
    });
  });
  return form;
}

async function renderTokens(section) {
  const msg = h('div', { class: 'form-msg' });
  const secretSlot = h('div', { class: 'secret-slot' });
  const listSlot = h('div', null, h('p', { class: 'loading', i18n: 'common.loading' }));
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', i18n: 'tokens.create' });
  const formMsg = h('div', { class: 'form-msg' });
  const form = h('form', { class: 'stack', novalidate: true },
    h('div', { class: 'grid-2' },
      field({ label: 'tokens.name', name: 'name', required: true, maxlength: 120, autocomplete: 'off' }),
      field({ label: 'tokens.expires_in_days', name: 'expires_in_days', type: 'number', min: 1, max: 3650, inputmode: 'numeric', hint: 'tokens.expires_hint' })),
    formMsg,
    h('div', { class: 'actions' }, submit));

  const reload = async () => {
    try {
      const tokens = await api('GET', '/auth/tokens');
      clear(listSlot).append(table([
        { key: 'tokens.name', cell: (x) => h('span', { class: 'strong', text: x.name || '' }) },
        { key: 'tokens.created_at', cell: (x) => fmtTime(x.created_at) },
        { key: 'tokens.expires_at', cell: (x) => (x.expires_at ? fmtTime(x.expires_at) : h('span', { i18n: 'tokens.never' })) },
        {
          key: 'common.actions',
          cell: (x) => h('button', {
            type: 'button', class: 'btn btn-small btn-danger-outline', i18n: 'points.revoke',
            on: {
              click: async () => {
                if (!await confirmDialog(t('tokens.confirm_delete', { name: x.name || x.id }), { danger: true, okKey: 'points.revoke' })) return;
                try {
                  await api('DELETE', `/auth/tokens/${x.id}`);
                  clear(secretSlot);
                  showOk(msg, t('tokens.deleted'));
                  await reload();
                } catch (err) { showError(msg, err); }
              },
            },
          }),
        },
      ], tokens, { captionKey: 'tokens.title', emptyKey: 'tokens.empty' }));
    } catch (err) {
      clear(listSlot);
      showError(msg, err);
    }
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!checkForm(form, formMsg)) return;
    const payload = { name: val(form, 'name') };
    const days = val(form, 'expires_in_days');
    if (days) payload.expires_in_days = Number(days);
    await busy(submit, 'common.saving', async () => {
      try {
        const created = await api('POST', '/auth/tokens', { json: payload });
        form.reset();
        clear(secretSlot).append(secretPanel('tokens.new_title', 'tokens.once', created.token));
        secretSlot.querySelector('button').focus();
        await reload();
      } catch (err) {
        showError(formMsg, err, form);
      }
    });
  });

  section.append(
    h('h2', { id: 'tokens-h', i18n: 'tokens.title' }),
    h('p', { class: 'hint', i18n: 'tokens.lead' }),
    secretSlot,
    msg,
    collapsible('tokens.create', form),
    listSlot);
  await reload();
}
