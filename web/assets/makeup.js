// The member's make-up page (/hoc-bu/<token>): the recording of the session,
// and how much of it has been watched. What the player actually plays is
// reported as intervals [start, end] of the recording: an interval runs only
// while playback is continuous, so skipping ahead earns nothing. Reports go
// every 10 s while playing, and on pause, end, leaving the page or hiding it.
// Light on purpose (a phone on a slow link): no shared app modules.
const token = decodeURIComponent(location.pathname.split('/hoc-bu/')[1] || '').replace(/\/+$/, '');
const API = `/api/makeup/${encodeURIComponent(token)}`;
const LANG_KEY = 'diemcau.lang';
const POS_KEY = `diemcau.makeup.${token}`;
const REPORT_MS = 10_000;
const MAX_RATE = 2; // the server credits no more than twice the elapsed time
const $ = (x) => document.getElementById(x);
const video = $('video');

const DICT = {
  lang: ['Ngôn ngữ', 'Language'],
  loading: ['Đang tải…', 'Loading…'],
  eyebrow: ['Học bù chuyên đề qua video', 'Make-up study from the recording'],
  recording: ['Bản ghi hội nghị', 'Recording of the conference'],
  open: ['Mở bản ghi', 'Open the recording'],
  not_counted: ['Bản ghi này không phát được trên trang, nên chưa tính được thời gian bạn xem. Hãy xem bản ghi, rồi báo với người phụ trách đơn vị để được ghi nhận.', 'This recording cannot play on this page, so the time you watch cannot be counted. Watch it, then tell your unit\'s manager to have it recorded.'],
  progress: ['Tiến độ học bù', 'Make-up progress'],
  watched: ['Đã xem {share}% / cần {goal}%', 'Watched {share}% / {goal}% needed'],
  done_makeup: ['✓ Đã hoàn thành học bù', '✓ Make-up completed'],
  done_live: ['✓ Bạn đã học chuyên đề này', '✓ You have studied this theme'],
  rules: ['Chỉ tính thời gian bản ghi thực sự được phát; tua nhanh qua không được tính. Tiến độ được lưu tự động.', 'Only the parts actually played count; skipping ahead does not. Progress is saved automatically.'],
  saved: ['Đã lưu tiến độ lúc {time}.', 'Progress saved at {time}.'],
  retry: ['Chưa gửi được tiến độ (mất kết nối). Sẽ tự thử lại.', 'Could not send the progress (offline). Retrying by itself.'],
  resumed: ['Tiếp tục xem từ {time}.', 'Resuming from {time}.'],
  rate: ['Tốc độ phát tối đa là 2 lần.', 'The highest playback speed is 2×.'],
  link_title: ['Không mở được trang học bù', 'Cannot open the make-up page'],
  network_title: ['Không kết nối được', 'Cannot connect'],
  network: ['Không kết nối được máy chủ. Kiểm tra mạng rồi tải lại trang.', 'Cannot reach the server. Check the network and reload the page.'],
  // English for the server's Vietnamese messages.
  msg_done: ['', 'You have completed the make-up study of this theme. Thank you!'],
  msg_live: ['', 'You have already studied this theme.'],
  msg_none: ['', 'The recording of the conference is not available yet. Please come back later.'],
  msg_watch: ['', 'Watch at least {goal}% of the recording to complete. Skipping ahead does not count.'],
};

function lang() {
  try { return localStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'vi'; } catch { return 'vi'; }
}

function t(key, vars) {
  const e = DICT[key];
  if (!e) globalThis.__i18nMissing = [...(globalThis.__i18nMissing || []), key];
  let s = e ? e[lang() === 'en' ? 1 : 0] : key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

const clock = (s) => {
  const n = Math.max(0, Math.floor(s));
  const h = Math.floor(n / 3600);
  const mm = String(Math.floor((n % 3600) / 60)).padStart(h ? 2 : 1, '0');
  const ss = String(n % 60).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
};
const hhmm = (d) => d.toLocaleTimeString('vi-VN', { hour: '2-digit', minute: '2-digit', hour12: false });

let view = null; // the server's MakeupView
let playable = false; // the recording plays in the page
let note = ''; // a line under the progress (saved, retrying…)

// ------------------------------------------------------------ what is played

let pending = []; // intervals played since the last report the server accepted
let seg = null; // start of the interval being played now
let last = null; // {pos, at}: the last position seen while playing, and when
const now = () => performance.now();

/** How far playback may have moved since `last`, in seconds of the recording. */
function reach() {
  return ((now() - last.at) / 1000) * Math.min(Math.max(video.playbackRate, 1), MAX_RATE) + 1.5;
}

/** The current position, unless it jumped (then where we last were). */
function plausible() {
  const pos = video.currentTime;
  if (!last) return pos;
  return pos >= last.pos - 0.25 && pos - last.pos <= reach() ? pos : last.pos;
}

function open(at) {
  seg = at;
  last = { pos: at, at: now() };
}

function close(at) {
  if (seg !== null && at > seg + 0.05) pending.push([seg, at]);
  seg = null;
}

/** Moves what is being played into `pending`, and goes on. */
function checkpoint() {
  if (seg === null || video.paused || video.seeking) return;
  const pos = plausible();
  close(pos);
  open(pos);
}

function onTimeUpdate() {
  if (video.paused || video.seeking || video.ended) return;
  const pos = video.currentTime;
  if (seg === null) { open(pos); return; }
  if (pos < last.pos - 0.25 || pos - last.pos > reach()) {
    // A jump nobody announced: what was played ends where we last were.
    close(last.pos);
    open(pos);
    return;
  }
  last = { pos, at: now() };
}

video.addEventListener('play', () => { if (!video.seeking) open(video.currentTime); startClock(); });
video.addEventListener('playing', () => { if (seg === null && !video.seeking) open(video.currentTime); });
video.addEventListener('timeupdate', onTimeUpdate);
// A seek ends the interval where playback was, never where it jumps to.
video.addEventListener('seeking', () => { if (last) close(last.pos); else seg = null; });
video.addEventListener('seeked', () => { if (!video.paused) open(video.currentTime); });
video.addEventListener('ratechange', () => {
  if (video.playbackRate > MAX_RATE) {
    video.playbackRate = MAX_RATE;
    setNote(t('rate'));
  }
  checkpoint();
});
video.addEventListener('pause', () => { if (seg !== null) close(plausible()); report(); });
video.addEventListener('ended', () => { if (seg !== null) close(plausible()); report(); });

// ------------------------------------------------------------ reports

function merge(list) {
  const sorted = list.map(([a, b]) => [Math.round(a * 100) / 100, Math.round(b * 100) / 100])
    .filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out = [];
  for (const [a, b] of sorted) {
    const prev = out[out.length - 1];
    if (prev && a <= prev[1]) prev[1] = Math.max(prev[1], b);
    else out.push([a, b]);
  }
  return out.slice(-1000);
}

const finished = () => Boolean(view && (view.studied || view.progress.completed));
const duration = () => (Number.isFinite(video.duration) && video.duration > 0 ? video.duration : null);
let sending = false;
let clockStarted = false;

function body(intervals) {
  return JSON.stringify({ duration_s: duration(), intervals, position_s: Math.max(0, video.currentTime || 0) });
}

function savePosition() {
  try { localStorage.setItem(POS_KEY, String(Math.floor(video.currentTime || 0))); } catch { /* private mode */ }
}

/** The first report, at the first play: starts the server's clock for the budget of credited seconds. */
function startClock() {
  if (clockStarted || !playable || finished() || !duration()) return;
  clockStarted = true;
  report({ force: true });
}

async function report({ force = false } = {}) {
  if (!playable || !view || finished() || !duration()) return;
  checkpoint();
  savePosition();
  if ((!pending.length && !force) || sending) return;
  const intervals = merge(pending.splice(0));
  sending = true;
  let ok = false;
  try {
    const res = await fetch(`${API}/progress`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: body(intervals), cache: 'no-store',
    });
    const data = await res.json().catch(() => null);
    if (res.ok && data) {
      ok = true;
      view = data;
      setNote(t('saved', { time: hhmm(new Date()) }));
      show();
    } else if (res.status >= 500 || res.status === 429 || !data) {
      pending.unshift(...intervals);
      setNote(t('retry'));
    } else {
      setNote(data.error ? data.error.message : '');
    }
  } catch {
    pending.unshift(...intervals);
    setNote(t('retry'));
  } finally {
    sending = false;
  }
  // Played while this report was on its way (a pause right after a play).
  if (ok && pending.length) report();
}

/** Leaving or hiding the page: send what is left in a request that outlives it. */
function flush() {
  if (!playable || !view || finished() || !duration()) return;
  checkpoint();
  savePosition();
  if (!pending.length) return;
  const intervals = merge(pending.splice(0));
  const payload = body(intervals);
  try {
    fetch(`${API}/progress`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload, keepalive: true })
      .then((res) => (res.ok ? res.json() : null))
      .then((data) => { if (data) { view = data; show(); } })
      .catch(() => { pending.unshift(...intervals); });
  } catch {
    if (navigator.sendBeacon) navigator.sendBeacon(`${API}/progress`, new Blob([payload], { type: 'application/json' }));
  }
}

setInterval(() => { if (!video.paused || pending.length) report(); }, REPORT_MS);
document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'hidden') flush(); });
window.addEventListener('pagehide', flush);

// ------------------------------------------------------------ the page

function setNote(text) {
  note = text;
  $('sync').textContent = note;
}

function message() {
  const v = view;
  if (lang() !== 'en') return v.message;
  if (v.studied) return v.studied.method === 'makeup' ? t('msg_done') : t('msg_live');
  if (!v.recording_url) return t('msg_none');
  return t('msg_watch', { goal: Math.round(v.threshold * 100) });
}

function show() {
  const v = view;
  document.title = `${v.theme} · diemcau`;
  $('theme').textContent = v.theme;
  $('member').textContent = v.member_name;
  $('unit').textContent = v.unit_name;
  $('message').textContent = message();
  $('progress-card').hidden = !v.recording_url && !v.studied;
  const share = Math.min(1, Math.max(0, v.progress.share || 0));
  const goal = Math.round(v.threshold * 100);
  const pct = Math.floor(share * 100 + 1e-9);
  const meter = $('meter');
  $('meter-fill').style.width = `${(share * 100).toFixed(1)}%`;
  $('meter-goal').style.left = `${goal}%`;
  meter.setAttribute('aria-valuenow', String(pct));
  meter.setAttribute('aria-label', t('watched', { share: pct, goal }));
  const done = finished();
  meter.classList.toggle('reached', done);
  $('progress-text').textContent = t('watched', { share: pct, goal });
  $('done').hidden = !done;
  $('done').textContent = v.studied && v.studied.method !== 'makeup' ? t('done_live') : t('done_makeup');
}

function fallback() {
  if (!view || !view.recording_url) return;
  playable = false;
  seg = null;
  $('player').hidden = true;
  $('fallback').hidden = false;
  $('open-link').href = view.recording_url;
}

function setupPlayer() {
  const url = view.recording_url;
  if (!url || !/^https?:\/\//i.test(url)) return;
  playable = true;
  $('player').hidden = false;
  // A source the page may not load (another site, refused by the page's
  // security policy) or cannot play (a web page, an unsupported stream).
  document.addEventListener('securitypolicyviolation', (e) => {
    if (e.blockedURI && url.startsWith(e.blockedURI)) fallback();
  });
  video.addEventListener('error', fallback);
  video.addEventListener('loadedmetadata', () => {
    if (!duration()) { fallback(); return; }
    let saved = 0;
    try { saved = Number(localStorage.getItem(POS_KEY)) || 0; } catch { /* private mode */ }
    if (!finished() && saved > 10 && saved < video.duration - 10) {
      video.currentTime = saved;
      setNote(t('resumed', { time: clock(saved) }));
    }
  }, { once: true });
  video.src = url;
}

function showProblem(title, text) {
  $('loading').hidden = true;
  $('page').hidden = true;
  $('problem').hidden = false;
  $('problem-title').textContent = title;
  $('problem-text').textContent = text;
}

function applyLang() {
  document.documentElement.lang = lang();
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.getAttribute('data-t'));
  for (const el of document.querySelectorAll('[data-t-attr]')) {
    const [attr, key] = el.getAttribute('data-t-attr').split(':');
    el.setAttribute(attr, t(key));
  }
  for (const b of document.querySelectorAll('[data-lang]')) b.setAttribute('aria-pressed', String(b.getAttribute('data-lang') === lang()));
  if (view) show();
}

async function start() {
  for (const b of document.querySelectorAll('[data-lang]')) {
    b.addEventListener('click', () => {
      try { localStorage.setItem(LANG_KEY, b.getAttribute('data-lang')); } catch { /* private mode */ }
      applyLang();
    });
  }
  applyLang();
  try {
    const res = await fetch(API, { cache: 'no-store' });
    const data = await res.json();
    if (!res.ok) {
      showProblem(t('link_title'), data.error ? data.error.message : '');
      document.body.setAttribute('data-ready', 'true');
      return;
    }
    view = data;
  } catch {
    showProblem(t('network_title'), t('network'));
    document.body.setAttribute('data-ready', 'true');
    return;
  }
  show();
  $('loading').hidden = true;
  $('page').hidden = false;
  setupPlayer();
  document.body.setAttribute('data-ready', 'true');
}

start();
