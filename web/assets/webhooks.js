// Webhooks (organizers only), in the accounts section: the list, adding one
// (its signing secret is shown once), deleting one, and its recent deliveries.

import { h, clear, field, val, fmtTime } from './dom.js';
import { t } from './i18n.js';
import { api } from './api.js';
import { checkForm, confirmDialog, showError, showOk, busy, collapsible, secretPanel, table } from './ui.js';

export const EVENTS = ['checkin.created', 'checkin.annulled', 'session.status_changed'];

function eventLabel(e) {
  return h('span', { class: 'webhook-event' },
    h('span', { i18n: `webhooks.event.${e}` }), ' ', h('code', { class: 'sub-inline', text: e }));
}

function deliveriesTable(list) {
  return table([
    { key: 'webhooks.event', cell: (d) => [h('code', { text: d.event_type }), h('span', { class: 'sub mono', text: d.event_id })] },
    { key: 'webhooks.attempts', num: true, cell: (d) => String(d.attempts) },
    {
      key: 'webhooks.result',
      cell: (d) => {
        if (d.delivered_at) return h('span', { class: 'badge badge-live', i18n: 'webhooks.delivered_at', vars: { time: fmtTime(d.delivered_at) } });
        if (d.next_attempt_at) return h('span', { class: 'badge badge-open', i18n: 'webhooks.retry_at', vars: { time: fmtTime(d.next_attempt_at) } });
        return h('span', { class: 'badge badge-ended', i18n: 'webhooks.given_up' });
      },
    },
    { key: 'webhooks.last_error', cell: (d) => (d.last_error ? h('span', { class: 'break', text: d.last_error }) : t('common.none')) },
  ], list, { captionKey: 'webhooks.deliveries', emptyKey: 'webhooks.no_deliveries' });
}

export async function renderWebhooks(section) {
  const msg = h('div', { class: 'form-msg' });
  const secretSlot = h('div', { class: 'secret-slot' });
  const listSlot = h('div', null, h('p', { class: 'loading', i18n: 'common.loading' }));
  const deliveriesSlot = h('div', { class: 'deliveries', 'aria-live': 'polite' });
  let shownFor = null; // the webhook whose deliveries are shown

  const showDeliveries = async (hook) => {
    shownFor = hook.id;
    clear(deliveriesSlot).append(h('p', { class: 'loading', i18n: 'common.loading' }));
    try {
      const list = await api('GET', `/webhooks/${hook.id}/deliveries`);
      if (shownFor !== hook.id) return;
      clear(deliveriesSlot).append(
        h('div', { class: 'page-head' },
          h('h3', { i18n: 'webhooks.deliveries_for', vars: { url: hook.url } }),
          h('button', { type: 'button', class: 'btn btn-small', i18n: 'webhooks.refresh', on: { click: () => showDeliveries(hook) } }),
          h('button', { type: 'button', class: 'btn btn-small', i18n: 'webhooks.hide_deliveries', on: { click: () => { shownFor = null; clear(deliveriesSlot); } } })),
        deliveriesTable(list));
    } catch (err) {
      clear(deliveriesSlot);
      showError(msg, err);
    }
  };

  const reload = async () => {
    try {
      const hooks = await api('GET', '/webhooks');
      clear(listSlot).append(table([
        { key: 'webhooks.url', cell: (w) => h('code', { class: 'break', text: w.url }) },
        { key: 'webhooks.events', cell: (w) => h('span', { class: 'webhook-events' }, w.events.map(eventLabel)) },
        { key: 'webhooks.state', cell: (w) => h('span', { class: w.active ? 'badge badge-live' : 'badge badge-ended', i18n: w.active ? 'webhooks.active' : 'webhooks.inactive' }) },
        { key: 'webhooks.created_at', cell: (w) => fmtTime(w.created_at) },
        {
          key: 'common.actions',
          cell: (w) => h('div', { class: 'row-actions' },
            h('button', { type: 'button', class: 'btn btn-small', i18n: 'webhooks.deliveries', on: { click: () => showDeliveries(w) } }),
            h('button', {
              type: 'button', class: 'btn btn-small btn-danger-outline', i18n: 'common.delete',
              on: {
                click: async (ev) => {
                  const btn = ev.currentTarget;
                  if (!await confirmDialog(t('webhooks.confirm_delete', { url: w.url }), { danger: true, okKey: 'common.delete' })) return;
                  await busy(btn, null, async () => {
                    try {
                      await api('DELETE', `/webhooks/${w.id}`);
                      if (shownFor === w.id) { shownFor = null; clear(deliveriesSlot); }
                      showOk(msg, t('webhooks.deleted'));
                      await reload();
                    } catch (err) { showError(msg, err); }
                  });
                },
              },
            })),
        },
      ], hooks, { captionKey: 'webhooks.title', emptyKey: 'webhooks.empty' }));
    } catch (err) {
      clear(listSlot);
      showError(msg, err);
    }
  };

  const formMsg = h('div', { class: 'form-msg' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', i18n: 'webhooks.add' });
  const boxes = EVENTS.map((e) => {
    const id = `wh-ev-${e.replace(/\W/g, '-')}`;
    return h('div', { class: 'field field-check' },
      h('input', { type: 'checkbox', id, name: 'events', value: e, checked: true }),
      h('label', { for: id }, eventLabel(e)));
  });
  const form = h('form', { class: 'stack', novalidate: true },
    field({ label: 'webhooks.url', name: 'url', type: 'url', required: true, maxlength: 2000, inputmode: 'url', placeholder: 'https://', hint: 'webhooks.url_hint', autocomplete: 'off', spellcheck: 'false' }),
    h('fieldset', null, h('legend', { i18n: 'webhooks.events' }), boxes),
    formMsg,
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!checkForm(form, formMsg)) return;
    const events = [...form.querySelectorAll('input[name="events"]:checked')].map((el) => el.value);
    if (!events.length) {
      clear(formMsg).append(h('div', { class: 'notice notice-error', role: 'alert', i18n: 'webhooks.events_required' }));
      return;
    }
    await busy(submit, 'common.saving', async () => {
      try {
        const created = await api('POST', '/webhooks', { json: { url: val(form, 'url'), events } });
        form.reset();
        showOk(formMsg, t('webhooks.created'));
        const panel = secretPanel('webhooks.secret_title', 'webhooks.secret_once', created.secret);
        panel.append(h('p', { class: 'webhook-verify', i18n: 'webhooks.verify' }));
        clear(secretSlot).append(panel);
        panel.querySelector('button').focus();
        await reload();
      } catch (err) {
        showError(formMsg, err, form);
      }
    });
  });

  section.append(
    h('h2', { id: 'webhooks-h', i18n: 'webhooks.title' }),
    h('p', { class: 'hint', i18n: 'webhooks.lead' }),
    secretSlot,
    collapsible('webhooks.verify_title', h('p', { class: 'webhook-verify', i18n: 'webhooks.verify' })),
    msg,
    collapsible('webhooks.add', form),
    listSlot,
    deliveriesSlot);
  await reload();
}
