// Member self check-in: the page opened from a point's QR code (/c/<token>).
// One tap: the member code is remembered on the phone. A retry after a
// network failure reuses the same operation id, so it is never counted twice.
// The phone also keeps a random device id (shared with /tv/ home check-in):
// the server stores only its hash, to flag one phone checking in many people.
const CODE_KEY = "diemcau.member_code";
const DEVICE_KEY = "diemcau.device_id";
const token = decodeURIComponent(location.pathname.split("/c/")[1] || "");
const $ = (id) => document.getElementById(id);
let clientId = null;

function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** The phone's device id, made once and kept (none in private mode). */
function deviceId() {
  try {
    let d = localStorage.getItem(DEVICE_KEY);
    if (!d || !/^[A-Za-z0-9_-]{8,64}$/.test(d)) {
      d = newClientId();
      localStorage.setItem(DEVICE_KEY, d);
    }
    return d;
  } catch {
    return undefined;
  }
}

function show(kind, title, text, { retry = false, change = false } = {}) {
  const box = $("result");
  box.hidden = false;
  box.className = kind;
  $("result-title").textContent = title;
  $("result-text").textContent = text;
  $("retry").hidden = !retry;
  $("change").hidden = !change;
}

async function loadInfo() {
  try {
    const res = await fetch(`/api/checkin/${encodeURIComponent(token)}`);
    const body = await res.json();
    if (!res.ok) {
      $("point").textContent = "Không điểm danh được";
      show("err", "Mã QR không dùng được", body.error.message);
      return;
    }
    $("point").textContent = body.point;
    $("theme").textContent = body.theme;
    $("form").hidden = false;
    const saved = localStorage.getItem(CODE_KEY);
    if (saved) $("code").value = saved;
    $("code").focus();
  } catch {
    $("point").textContent = "Không kết nối được";
    show("err", "Mất kết nối mạng", "Hãy kiểm tra kết nối rồi tải lại trang.", { retry: true });
  }
}

async function checkIn(event) {
  event?.preventDefault();
  const code = $("code").value.trim();
  if (!code) return;
  clientId = clientId || newClientId();
  $("submit").disabled = true;
  try {
    const res = await fetch("/api/checkin", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token, member_code: code, client_id: clientId, device: deviceId() }),
    });
    const body = await res.json();
    if (res.ok) {
      localStorage.setItem(CODE_KEY, code);
      $("form").hidden = true;
      clientId = null;
      if (body.result === "checked_in") show("ok", "✓ Đã điểm danh", body.message, { change: true });
      else show("warn", "Bạn đã điểm danh rồi", body.message, { change: true });
    } else if (res.status === 410) {
      show("err", "Mã QR đã hết hạn", body.error.message);
      $("form").hidden = true;
    } else {
      clientId = null;
      show("err", "Chưa điểm danh được", body.error.message);
    }
  } catch {
    show("err", "Mất kết nối mạng", "Chưa gửi được. Bấm “Thử lại” khi có mạng.", { retry: true });
  } finally {
    $("submit").disabled = false;
  }
}

$("form").addEventListener("submit", checkIn);
$("retry").addEventListener("click", () => (clientId ? checkIn() : location.reload()));
$("change").addEventListener("click", () => {
  $("form").hidden = false;
  $("result").hidden = true;
  $("code").value = "";
  $("code").focus();
});
loadInfo();
