// Member cards: "DC1.<member code>.<signature>", an ECDSA P-256 / SHA-256
// signature (raw r‖s, base64url) of "diemcau-card:1:<member code>". The
// console checks it with the server's public key, so a forged card is
// refused on the spot, even offline. It cannot make cards: it has no secret.

const enc = new TextEncoder();

/** base64url (no padding) → bytes; null when it is not base64url. */
export function b64urlDecode(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  let b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  while (b64.length % 4) b64 += '=';
  let bin;
  try { bin = atob(b64); } catch { return null; }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Reads a card's text as the server does: {code, signature, text} or null
 * when it is not a card at all. Scanners may add spaces or a line break.
 */
export function parseCard(raw) {
  const text = String(raw || '').trim();
  if (!text.startsWith('DC1.')) return null;
  const rest = text.slice(4);
  const dot = rest.lastIndexOf('.');
  if (dot < 0) return null;
  const code = rest.slice(0, dot);
  const signature = b64urlDecode(rest.slice(dot + 1));
  if (!code || code.length > 64 || !signature || signature.length !== 64) return null;
  return { code, signature, text };
}

let keyCache = { raw: null, key: null };

async function webCryptoKey(raw) {
  if (keyCache.raw === raw) return keyCache.key;
  const bytes = b64urlDecode(raw);
  if (!bytes) throw new Error('bad public key');
  const key = await crypto.subtle.importKey('raw', bytes, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  keyCache = { raw, key };
  return key;
}

/**
 * Checks a parsed card against the public key (SEC1 uncompressed, base64url).
 * WebCrypto when the page has it (https, localhost); otherwise a plain
 * JavaScript check, loaded only then (http on a local network).
 */
export async function verifyCard(publicKey, card) {
  const message = enc.encode(`diemcau-card:1:${card.code}`);
  if (globalThis.crypto && crypto.subtle) {
    try {
      const key = await webCryptoKey(publicKey);
      return await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, card.signature, message);
    } catch { /* fall through to the plain check */ }
  }
  const bytes = b64urlDecode(publicKey);
  if (!bytes) return false;
  const { verifyP256 } = await import('./console-p256.js');
  return verifyP256(bytes, message, card.signature);
}

/** Whether the camera scanner can work here. */
export function cameraScanAvailable() {
  return 'BarcodeDetector' in window && !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
}

/**
 * Scans one QR code with the camera into `video`; resolves to its text, or
 * null when stopped. Returns {result, stop}.
 */
export function scanWithCamera(video) {
  let stream = null;
  let timer = null;
  let stopped = false;
  let finish;
  const result = new Promise((resolve) => { finish = resolve; });
  const stop = (value = null) => {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    if (stream) for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
    finish(value);
  };
  (async () => {
    try {
      // eslint-disable-next-line no-undef
      const detector = new BarcodeDetector({ formats: ['qr_code'] });
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
      if (stopped) { for (const track of stream.getTracks()) track.stop(); return; }
      video.srcObject = stream;
      await video.play();
      const tick = async () => {
        if (stopped) return;
        try {
          const codes = await detector.detect(video);
          const hit = codes.find((c) => c.rawValue);
          if (hit) { stop(hit.rawValue); return; }
        } catch { /* the frame was not ready */ }
        timer = setTimeout(tick, 200);
      };
      tick();
    } catch (err) {
      if (!stopped) {
        stopped = true;
        if (stream) for (const track of stream.getTracks()) track.stop();
        finish({ error: err && err.name ? err.name : 'Error' });
      }
    }
  })();
  return { result, stop };
}
