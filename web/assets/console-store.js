// What the console keeps on the device (localStorage): the offline queue of
// operations, the roster and the last state, per point. Every read goes back
// to storage, so two tabs of the same console do not overwrite each other.

/** An operation id made on the device: a UUID, or 32 random hex digits. */
export function newId() {
  if (globalThis.crypto && typeof crypto.randomUUID === 'function') {
    try { return crypto.randomUUID(); } catch { /* not a secure context */ }
  }
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function load(key, fallback = null) {
  try {
    const raw = localStorage.getItem(key);
    return raw === null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
}

/** Saves `value` as JSON; false when storage is unavailable or full. */
export function save(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
    return true;
  } catch {
    return false;
  }
}

export function remove(key) {
  try { localStorage.removeItem(key); } catch { /* unavailable */ }
}

/** A short fingerprint of the operator secret, to match cached data to a link. */
export function fingerprint(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16);
}

/**
 * The queue of operations not yet answered, in order. An item is
 * {id, msg, code, name, offline, sent, at}: `msg` is the message as sent
 * (without `replayed`), `offline` whether it was taken while disconnected,
 * `sent` whether it was sent at least once.
 */
export class Outbox {
  constructor(key) {
    this.key = key;
    this.memory = load(key, []);
    if (!Array.isArray(this.memory)) this.memory = [];
    this.volatile = false; // true when storage failed: items live in memory only
    this.raw = null;
  }

  list() {
    if (this.volatile) return this.memory;
    let raw = null;
    try { raw = localStorage.getItem(this.key); } catch { return this.memory; }
    if (raw === null || raw === this.raw) return this.memory;
    try {
      const stored = JSON.parse(raw);
      if (Array.isArray(stored)) { this.memory = stored; this.raw = raw; }
    } catch { /* keep what is in memory */ }
    return this.memory;
  }

  write(items) {
    this.memory = items;
    const raw = JSON.stringify(items);
    try {
      localStorage.setItem(this.key, raw);
      this.raw = raw;
      this.volatile = false;
    } catch {
      this.volatile = true;
    }
    return !this.volatile;
  }

  /** Appends an item; stored before anything is sent. */
  add(item) {
    const items = this.list().slice();
    items.push(item);
    return this.write(items);
  }

  get(id) {
    return this.list().find((it) => it.id === id) || null;
  }

  update(id, patch) {
    const items = this.list().map((it) => (it.id === id ? { ...it, ...patch } : it));
    this.write(items);
  }

  remove(id) {
    const items = this.list();
    const kept = items.filter((it) => it.id !== id);
    if (kept.length !== items.length) this.write(kept);
  }

  get size() {
    return this.list().length;
  }
}
