// The public page of a session (/s/<session id>), for anyone: theme, host,
// schedule in Vietnam time, the TV channel, the live stream while check-in is
// open or the session is live, the recording afterwards, the live figures,
// checking in from home and the iCalendar feed. Light on purpose: no shared
// app modules, its own small VI/EN dictionary (same language setting).
const id = decodeURIComponent(location.pathname.split('/')[2] || '');
const LANG_KEY = 'diemcau.lang';
const FIGURES_MS = 10_000;
const $ = (x) => document.getElementById(x);
const fmt = new Intl.NumberFormat('vi-VN');

const DICT = {
  lang: ['Ngôn ngữ', 'Language'],
  loading: ['Đang tải…', 'Loading…'],
  eyebrow: ['Hội nghị học tập chuyên đề', 'Thematic study conference'],
  host: ['Đơn vị chủ trì', 'Host'],
  scope: ['Phạm vi tham gia', 'Taking part'],
  time: ['Thời gian', 'Time'],
  vn_time: ['(giờ Việt Nam)', '(Vietnam time)'],
  channel: ['Kênh truyền hình', 'TV channel'],
  air_time: ['Giờ phát sóng', 'Air time'],
  watch_live: ['Xem trực tuyến', 'Watch live'],
  stream_title: ['Buổi phát trực tuyến', 'Live stream'],
  open_stream: ['Mở buổi phát trực tuyến trong cửa sổ mới', 'Open the live stream in a new window'],
  recording_title: ['Tự học qua video', 'Self-study from the recording'],
  recording: ['Xem lại video ghi hình để tự học', 'Watch the recording for self-study'],
  figures: ['Số liệu trực tiếp', 'Live figures'],
  participants: ['người tham gia', 'taking part'],
  points: ['điểm cầu kết nối', 'connection points connected'],
  following: ['theo dõi tại nhà', 'following from home'],
  updated: ['Cập nhật lúc {time}', 'Updated at {time}'],
  summary_en: ['', 'Across {name}: {points} connection points connected, with {people} cadres, Party members, civil servants, public employees and workers taking part.'],
  actions: ['Tham gia', 'Take part'],
  home: ['Điểm danh khi theo dõi tại nhà', 'Check in while watching at home'],
  home_hint: ['Cán bộ, đảng viên nhập mã thành viên; Nhân dân chọn xã, phường nơi mình theo dõi.', 'Members enter their member code; the public pick the commune or ward they are in.'],
  ics: ['Thêm lịch học vào điện thoại (iCalendar)', 'Add the sessions to your calendar (iCalendar)'],
  ics_hint: ['Tệp .ics gồm các buổi học sắp tới; ứng dụng lịch có thể đăng ký địa chỉ này để tự cập nhật.', 'An .ics file of the upcoming sessions; a calendar app can subscribe to this address to stay up to date.'],
  not_found: ['Không tìm thấy buổi học', 'Session not found'],
  network_title: ['Không kết nối được', 'Cannot connect'],
  network: ['Không kết nối được máy chủ. Kiểm tra mạng rồi tải lại trang.', 'Cannot reach the server. Check the network and reload the page.'],
  status_scheduled: ['Đã lên lịch', 'Scheduled'],
  status_open: ['Đang mở điểm danh', 'Check-in open'],
  status_live: ['Đang diễn ra', 'Live'],
  status_ended: ['Đã kết thúc', 'Ended'],
};

let session = null;
let figures = null;
let figuresAt = null;

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

const pad = (n) => String(n).padStart(2, '0');
function vnParts(iso) {
  const d = new Date(Date.parse(iso) + 7 * 3600_000);
  if (Number.isNaN(d.getTime())) return null;
  return { y: d.getUTCFullYear(), mo: pad(d.getUTCMonth() + 1), d: pad(d.getUTCDate()), h: pad(d.getUTCHours()), mi: pad(d.getUTCMinutes()) };
}
function vnTime(iso) {
  const p = vnParts(iso);
  return p ? `${p.d}/${p.mo}/${p.y} ${p.h}:${p.mi}` : '';
}
function vnRange(a, b) {
  const pa = vnParts(a);
  const pb = vnParts(b);
  if (pa && pb && pa.y === pb.y && pa.mo === pb.mo && pa.d === pb.d) return `${vnTime(a)} – ${pb.h}:${pb.mi}`;
  return `${vnTime(a)} – ${vnTime(b)}`;
}

function applyLang() {
  document.documentElement.lang = lang();
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.getAttribute('data-t'));
  for (const el of document.querySelectorAll('[data-t-attr]')) {
    const [attr, key] = el.getAttribute('data-t-attr').split(':');
    el.setAttribute(attr, t(key));
  }
  for (const b of document.querySelectorAll('[data-lang]')) b.setAttribute('aria-pressed', String(b.getAttribute('data-lang') === lang()));
  if (session) showSession();
  if (figures) showFigures();
}

function showProblem(title, text) {
  $('loading').hidden = true;
  $('page').hidden = true;
  $('problem').hidden = false;
  $('problem-title').textContent = title;
  $('problem-text').textContent = text;
}

function setFact(dtId, ddId, value) {
  $(dtId).hidden = !value;
  $(ddId).hidden = !value;
  $(ddId).textContent = value || '';
}

function showSession() {
  const s = session;
  document.title = `${s.theme} · diemcau`;
  $('theme').textContent = s.theme;
  const badge = $('status');
  badge.className = `badge badge-${s.status}`;
  badge.textContent = DICT[`status_${s.status}`] ? t(`status_${s.status}`) : s.status_label;
  $('description').hidden = !s.description;
  $('description').textContent = s.description || '';
  $('host').textContent = s.host;
  $('scope').textContent = s.scope;
  $('time').textContent = vnRange(s.starts_at, s.ends_at);
  setFact('channel-dt', 'channel', s.tv_channel);
  setFact('air-dt', 'air', s.air_time ? vnTime(s.air_time) : '');
  $('home-link').href = `/tv/${encodeURIComponent(s.id)}`;

  // The stream, embedded while check-in is open or the session is live.
  const stream = s.stream_url && /^https?:\/\//i.test(s.stream_url) ? s.stream_url : null;
  $('stream').hidden = !stream;
  const player = $('player');
  if (stream) {
    $('stream-link').href = stream;
    const embed = /^https:\/\//i.test(stream);
    player.hidden = !embed;
    const frame = player.querySelector('iframe');
    if (embed && (!frame || frame.getAttribute('src') !== stream)) {
      const f = document.createElement('iframe');
      f.src = stream;
      f.title = t('stream_title');
      f.setAttribute('allow', 'autoplay; encrypted-media; fullscreen; picture-in-picture');
      f.setAttribute('referrerpolicy', 'strict-origin-when-cross-origin');
      f.setAttribute('sandbox', 'allow-scripts allow-same-origin allow-presentation allow-popups');
      f.setAttribute('loading', 'lazy');
      player.replaceChildren(f);
    } else if (frame) {
      frame.title = t('stream_title');
    }
  } else {
    player.replaceChildren();
  }
  // The recording, for self-study afterwards.
  const rec = s.status === 'ended' && s.recording_url && /^https?:\/\//i.test(s.recording_url) ? s.recording_url : null;
  $('recording').hidden = !rec;
  if (rec) $('recording-link').href = rec;
}

function showFigures() {
  const f = figures;
  $('participants').textContent = fmt.format(f.participants);
  $('points').textContent = `${fmt.format(f.points_connected)}/${fmt.format(f.points_registered)}`;
  $('following').textContent = fmt.format(f.following_broadcast);
  $('summary').textContent = lang() === 'en' && session
    ? t('summary_en', { name: session.scope, points: fmt.format(f.points_connected), people: fmt.format(f.participants) })
    : f.summary;
  if (figuresAt) {
    const p = vnParts(figuresAt.toISOString());
    $('updated').textContent = t('updated', { time: `${p.h}:${p.mi}` });
  }
}

async function loadFigures() {
  try {
    const res = await fetch(`/api/public/sessions/${encodeURIComponent(id)}/figures`, { cache: 'no-store' });
    if (res.ok) {
      figures = await res.json();
      figuresAt = new Date();
      showFigures();
    }
  } catch { /* keep the last figures */ }
  if (!session || session.status !== 'ended') setTimeout(loadFigures, FIGURES_MS);
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
    const res = await fetch(`/api/public/sessions/${encodeURIComponent(id)}`);
    const body = await res.json();
    if (!res.ok) {
      showProblem(t('not_found'), body.error ? body.error.message : '');
      return;
    }
    session = body;
  } catch {
    showProblem(t('network_title'), t('network'));
    return;
  }
  showSession();
  $('loading').hidden = true;
  $('page').hidden = false;
  await loadFigures();
  document.body.setAttribute('data-ready', 'true');
}

start();
