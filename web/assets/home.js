// Checking in from home (/tv/<session id>), opened from the QR code on TV.
// A member enters their code (remembered on the phone, as on /c/); the public
// pick their commune or ward. The phone keeps one device id, so a resend or a
// second tap is never counted twice.
const id = decodeURIComponent(location.pathname.split('/')[2] || '');
const CODE_KEY = 'diemcau.member_code';
const DEVICE_KEY = 'diemcau.device_id';
const UNIT_KEY = 'diemcau.home_unit';
const $ = (x) => document.getElementById(x);
const base = `/api/public/sessions/${encodeURIComponent(id)}`;
let picked = null; // {code, name}
let lastSend = null; // () => Promise, for "Thử lại"

function store(key, value) {
  try { if (value === null) localStorage.removeItem(key); else localStorage.setItem(key, value); } catch { /* private mode */ }
}
function stored(key) {
  try { return localStorage.getItem(key); } catch { return null; }
}

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = Array.from(b, (v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

function deviceId() {
  let d = stored(DEVICE_KEY);
  if (!d || !/^[\x21-\x7e]{1,64}$/.test(d)) {
    d = uuid();
    store(DEVICE_KEY, d);
  }
  return d;
}

const pad = (n) => String(n).padStart(2, '0');
/** dd/mm/yyyy HH:mm, Vietnam time. */
function vnTime(iso) {
  const d = new Date(Date.parse(iso) + 7 * 3600_000);
  if (Number.isNaN(d.getTime())) return '';
  return `${pad(d.getUTCDate())}/${pad(d.getUTCMonth() + 1)}/${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

function show(kind, title, text, { retry = false, again = false } = {}) {
  const box = $('result');
  box.hidden = false;
  box.className = kind;
  $('result-title').textContent = title;
  $('result-text').textContent = text;
  $('retry').hidden = !retry;
  $('again').hidden = !again;
  box.scrollIntoView({ block: 'nearest' });
}

function selectTab(which) {
  for (const t of ['member', 'public']) {
    const on = t === which;
    $(`tab-${t}`).setAttribute('aria-selected', String(on));
    $(`tab-${t}`).tabIndex = on ? 0 : -1;
    $(`form-${t}`).hidden = !on;
  }
  $('result').hidden = true;
  if (which === 'public' && !$('units').children.length) searchUnits('');
}

async function loadSession() {
  try {
    const res = await fetch(base);
    const body = await res.json();
    if (!res.ok) {
      $('theme').textContent = 'Không tìm thấy buổi học';
      show('err', 'Không điểm danh được', body.error.message);
      return;
    }
    $('theme').textContent = body.theme;
    const parts = [];
    if (body.tv_channel) parts.push(body.tv_channel);
    if (body.air_time) parts.push(`phát sóng ${vnTime(body.air_time)}`);
    else parts.push(vnTime(body.starts_at));
    $('channel').textContent = parts.join(' · ');
    $('tabs').hidden = false;
    const code = stored(CODE_KEY);
    if (code) $('code').value = code;
    const unit = stored(UNIT_KEY);
    if (unit) {
      try { pick(JSON.parse(unit)); } catch { store(UNIT_KEY, null); }
    }
    selectTab(!code && unit ? 'public' : 'member');
  } catch {
    $('theme').textContent = 'Không kết nối được';
    show('err', 'Mất kết nối mạng', 'Hãy kiểm tra kết nối rồi tải lại trang.', { retry: true });
    lastSend = () => { location.reload(); return Promise.resolve(); };
  }
}

async function send(payload, { onOk } = {}) {
  lastSend = () => send(payload, { onOk });
  const buttons = [$('submit-member'), $('submit-public')];
  for (const b of buttons) b.disabled = true;
  try {
    const res = await fetch(`${base}/home-checkin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...payload, device_id: deviceId() }),
    });
    let body = null;
    try { body = await res.json(); } catch { body = null; }
    if (res.ok && body) {
      if (onOk) onOk();
      const again = !!payload.member_code; // a device counts once for the public
      if (body.result === 'checked_in') show('ok', '✓ Đã ghi nhận', body.message, { again });
      else show('warn', 'Đã ghi nhận trước đó', body.message, { again });
    } else {
      const msg = body && body.error ? body.error.message : `Máy chủ trả lời không như mong đợi (HTTP ${res.status}).`;
      show('err', 'Chưa ghi nhận được', msg, { retry: res.status >= 500 || res.status === 429 });
    }
  } catch {
    show('err', 'Mất kết nối mạng', 'Chưa gửi được. Bấm “Thử lại” khi có mạng.', { retry: true });
  } finally {
    $('submit-member').disabled = false;
    $('submit-public').disabled = !picked;
  }
}

function pick(unit) {
  picked = unit;
  for (const b of $('units').querySelectorAll('button')) {
    b.setAttribute('aria-pressed', String(b.getAttribute('data-code') === unit.code));
  }
  $('picked').hidden = false;
  $('picked').textContent = `Đã chọn: ${unit.name}`;
  $('submit-public').disabled = false;
}

let searchSeq = 0;
async function searchUnits(q) {
  const seq = ++searchSeq;
  $('units-info').textContent = 'Đang tìm…';
  try {
    const res = await fetch(`${base}/units${q ? `?q=${encodeURIComponent(q)}` : ''}`);
    const list = await res.json();
    if (seq !== searchSeq) return;
    const ul = $('units');
    ul.replaceChildren();
    if (!res.ok) { $('units-info').textContent = list.error ? list.error.message : ''; return; }
    for (const u of list) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = u.name;
      b.setAttribute('data-code', u.code);
      b.setAttribute('aria-pressed', String(!!picked && picked.code === u.code));
      b.addEventListener('click', () => pick({ code: u.code, name: u.name }));
      const li = document.createElement('li');
      li.append(b);
      ul.append(li);
    }
    $('units-info').textContent = list.length ? '' : 'Không tìm thấy xã, phường phù hợp.';
  } catch {
    if (seq === searchSeq) $('units-info').textContent = 'Mất kết nối mạng, chưa tìm được.';
  }
}

$('tab-member').addEventListener('click', () => selectTab('member'));
$('tab-public').addEventListener('click', () => selectTab('public'));
for (const [from, to] of [['tab-member', 'tab-public'], ['tab-public', 'tab-member']]) {
  $(from).addEventListener('keydown', (ev) => {
    if (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft') return;
    $(to).click();
    $(to).focus();
  });
}

$('form-member').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const code = $('code').value.trim();
  if (!code) { $('code').focus(); return; }
  send({ member_code: code }, { onOk: () => store(CODE_KEY, code) });
});

$('form-public').addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (!picked) return;
  const unit = picked;
  send({ unit_code: unit.code }, { onOk: () => store(UNIT_KEY, JSON.stringify(unit)) });
});

let timer = null;
$('unit-q').addEventListener('input', () => {
  clearTimeout(timer);
  timer = setTimeout(() => searchUnits($('unit-q').value.trim()), 250);
});

$('retry').addEventListener('click', () => { if (lastSend) lastSend(); });
$('again').addEventListener('click', () => {
  $('result').hidden = true;
  if (!$('form-member').hidden) {
    $('code').value = '';
    $('code').focus();
  }
});

loadSession();
