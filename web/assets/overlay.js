// The TV overlay (/tv/<id>/overlay): the running total, the points connected
// and the home check-in QR code, polled every 2 s. ?pos=left|right places the
// box, ?qr=0 hides the QR code. On air nothing must flash: a failed poll keeps
// the last figures, and the box appears only once there are figures.
const id = decodeURIComponent(location.pathname.split('/')[2] || '');
const params = new URLSearchParams(location.search);
const POLL_MS = 2000;
const fmt = new Intl.NumberFormat('vi-VN');
const $ = (x) => document.getElementById(x);

const box = $('lt');
if (params.get('pos') === 'right') box.classList.add('lt-right');
if (params.get('qr') === '0') {
  $('qr').remove();
} else {
  $('qr-img').src = `/api/public/sessions/${encodeURIComponent(id)}/home-qr.svg`;
}

let shown = null;

function show(f) {
  const total = fmt.format(f.participants);
  const num = $('total');
  if (shown !== null && shown !== total) {
    num.classList.add('bump');
    setTimeout(() => num.classList.remove('bump'), 700);
  }
  num.textContent = total;
  shown = total;
  $('points').textContent = `${fmt.format(f.points_connected)}/${fmt.format(f.points_registered)}`;
  box.setAttribute('data-version', String(f.version));
  box.hidden = false;
}

async function poll() {
  try {
    const res = await fetch(`/api/public/sessions/${encodeURIComponent(id)}/figures`, { cache: 'no-store' });
    if (res.ok) show(await res.json());
  } catch { /* keep the last figures on air */ }
  setTimeout(poll, POLL_MS);
}

poll();
