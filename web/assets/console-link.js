// The console's WebSocket to the server (docs/console-protocol.md): a ticket
// from POST /api/operator/ws-ticket, then /api/operator/ws?ticket=…&v=1.
// Heartbeat every 15 s; reconnects with backoff and a new ticket each time;
// close code 4401 (link rotated or revoked) stops it for good.

const HEARTBEAT_MS = 15_000;
/** No frame for this long (QR every 20 s, heartbeat answers every 15 s): the link is dead. */
const SILENCE_MS = 45_000;
const CONNECT_TIMEOUT_MS = 15_000;
const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;
/** While the browser says it is offline, try now and then anyway. */
const OFFLINE_PROBE_MS = 60_000;
export const PROTOCOL = 1;

export class Link {
  /**
   * handlers: onStatus(status) with status 'connecting' | 'online' |
   * 'offline' | 'revoked'; onMessage(msg); onRevoked(error {code, message}).
   */
  constructor(secret, handlers) {
    this.secret = secret;
    this.h = handlers;
    this.ws = null;
    this.status = 'connecting';
    this.everOnline = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.beatTimer = null;
    this.busy = false;
    this.stopped = false;
    this.lastFrame = 0;
    this.onOnline = () => this.reconnectNow();
    this.onOffline = () => { this.drop(); this.schedule(); };
    this.onVisible = () => {
      if (document.visibilityState !== 'visible') return;
      if (this.isOpen()) this.heartbeat(); else this.reconnectNow();
    };
  }

  start() {
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
    document.addEventListener('visibilitychange', this.onVisible);
    this.beatTimer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.beatTimer);
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    document.removeEventListener('visibilitychange', this.onVisible);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      try { ws.close(1000, 'stopped'); } catch { /* already closed */ }
    }
  }

  isOpen() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN && this.status === 'online';
  }

  setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.h.onStatus(status);
  }

  /** Sends a message; false when the link is not up (the caller keeps it queued). */
  send(msg) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    try {
      this.ws.send(JSON.stringify(msg));
      return true;
    } catch {
      return false;
    }
  }

  heartbeat() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastFrame > SILENCE_MS) {
      this.drop(); // nothing heard for too long: the link is dead, start again
      this.schedule();
      return;
    }
    this.send({ type: 'heartbeat' });
  }

  /** Closes the socket because the network is gone; queued work stays queued. */
  drop() {
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = null;
      ws.onmessage = null;
      try { ws.close(1000, 'offline'); } catch { /* already closed */ }
    }
    if (!this.stopped && this.status !== 'revoked') this.setStatus('offline');
  }

  reconnectNow() {
    if (this.stopped) return;
    this.attempt = 0;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (!this.ws) this.connect();
  }

  schedule(fixedMs) {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    let delay;
    if (fixedMs !== undefined) delay = fixedMs;
    else if (navigator.onLine === false) delay = OFFLINE_PROBE_MS;
    else {
      const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
      delay = base / 2 + Math.random() * (base / 2);
      this.attempt += 1;
    }
    this.retryTimer = setTimeout(() => { this.retryTimer = null; this.connect(); }, delay);
  }

  async ticket() {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), CONNECT_TIMEOUT_MS);
    let res;
    try {
      res = await fetch('/api/operator/ws-ticket', {
        method: 'POST',
        headers: { Authorization: `Operator ${this.secret}`, Accept: 'application/json' },
        cache: 'no-store',
        credentials: 'omit',
        signal: abort.signal,
      });
    } finally {
      clearTimeout(timer);
    }
    let body = null;
    try { body = await res.json(); } catch { body = null; }
    if (res.status === 401) {
      const e = (body && body.error) || {};
      return { revoked: { code: e.code || 'operator.link_invalid', message: e.message || '' } };
    }
    if (!res.ok || !body || !body.ticket) throw new Error(`HTTP ${res.status}`);
    return { ticket: body.ticket };
  }

  async connect() {
    if (this.stopped || this.busy || this.ws) return;
    if (navigator.onLine === false) {
      this.setStatus('offline');
      this.schedule();
      return;
    }
    this.busy = true;
    let got;
    try {
      got = await this.ticket();
    } catch {
      this.busy = false;
      this.setStatus('offline');
      this.schedule();
      return;
    }
    this.busy = false;
    if (this.stopped) return;
    if (got.revoked) {
      this.revoke(got.revoked);
      return;
    }
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = `${proto}//${location.host}/api/operator/ws?ticket=${encodeURIComponent(got.ticket)}&v=${PROTOCOL}`;
    let ws;
    try {
      ws = new WebSocket(url);
    } catch {
      this.setStatus('offline');
      this.schedule();
      return;
    }
    this.ws = ws;
    this.lastFrame = Date.now();
    const guard = setTimeout(() => {
      if (this.ws === ws && ws.readyState !== WebSocket.OPEN) {
        this.drop();
        this.schedule();
      }
    }, CONNECT_TIMEOUT_MS);
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.lastFrame = Date.now();
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (!msg || typeof msg !== 'object') return;
      if (msg.type === 'welcome') {
        clearTimeout(guard);
        this.attempt = 0;
        this.everOnline = true;
        this.setStatus('online');
      }
      this.h.onMessage(msg);
    };
    ws.onclose = (ev) => {
      clearTimeout(guard);
      if (this.ws !== ws) return;
      this.ws = null;
      if (ev.code === 4401) {
        this.revoke({ code: 'operator.link_invalid', message: '' });
        return;
      }
      if (this.stopped) return;
      this.setStatus('offline');
      // 1000: closed for silence (a sleeping tab); 1001: the server restarts.
      this.schedule(ev.code === 1000 && this.attempt === 0 ? 500 : undefined);
    };
  }

  revoke(error) {
    this.stop();
    this.setStatus('revoked');
    this.h.onRevoked(error);
  }
}
