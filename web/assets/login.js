// /dang-nhap: username and password → POST /api/auth/login → back to the
// page that sent us here (?next=/truc-tiep/3, a path of this site only), or the app.

import { initI18n, t } from './i18n.js';
import { api, errorText, safeNext } from './api.js';
import { notice, busy } from './ui.js';
import { clear } from './dom.js';

initI18n();

const form = document.getElementById('login-form');
const msg = document.getElementById('login-error');
const submit = document.getElementById('login-submit');
const user = form.elements.namedItem('username');
const pass = form.elements.namedItem('password');
user.focus();

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  clear(msg);
  for (const el of [user, pass]) el.removeAttribute('aria-invalid');
  const username = user.value.trim();
  const password = pass.value;
  if (!username || !password) {
    const empty = !username ? user : pass;
    empty.setAttribute('aria-invalid', 'true');
    empty.focus();
    msg.append(notice('error', t('login.required')));
    return;
  }
  await busy(submit, 'login.working', async () => {
    try {
      await api('POST', '/auth/login', { json: { username, password } });
      location.assign(safeNext(new URLSearchParams(location.search).get('next') || '/'));
    } catch (err) {
      msg.append(notice('error', errorText(err)));
      pass.value = '';
      pass.setAttribute('aria-invalid', 'true');
      pass.focus();
    }
  });
});
