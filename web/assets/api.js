// The JSON API, as the pages use it: the CSRF header on every change, and one
// error type built from the envelope {"error":{code,message,field?,problems?}}.

import { t, lang, has } from './i18n.js';

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || t('err.unexpected', { status }));
    this.status = status;
    this.code = e.code || (status === 0 ? 'network' : 'unexpected');
    this.field = e.field || null;
    this.problems = Array.isArray(e.problems) ? e.problems : [];
  }
}

let csrfFallback = null;
let onUnauthorized = null;

/** Remembers the CSRF token from /api/auth/me, used when the cookie is unreadable. */
export function setCsrf(token) {
  csrfFallback = token || null;
}

/**
 * Where to go after signing in: `raw` when it is a path of this site
 * ("/truc-tiep/3", "/#buoi-hoc/2"), else "/". Never another origin: no
 * "//host", no "/\host", no control characters (which URL parsing drops).
 */
export function safeNext(raw) {
  if (typeof raw !== 'string' || raw.length > 2000 || !raw.startsWith('/')) return '/';
  if (raw.startsWith('//') || /[\\\u0000-\u001f\u007f]/.test(raw)) return '/';
  let u;
  try { u = new URL(raw, location.origin); } catch { return '/'; }
  if (u.origin !== location.origin || u.pathname === '/dang-nhap') return '/';
  return `${u.pathname}${u.search}${u.hash}`;
}

/** The sign-in page, told to come back here afterwards. */
export function loginUrl() {
  const here = `${location.pathname}${location.search}${location.hash}`;
  const next = safeNext(here);
  return next === '/' ? '/dang-nhap' : `/dang-nhap?next=${encodeURIComponent(next)}`;
}

/** Sends the browser to sign in, to come back here afterwards. */
export function toLogin() {
  location.replace(loginUrl());
}

/** Called on a 401 from a signed-in page (the session expired). */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export function csrfToken() {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === 'diemcau_csrf') return decodeURIComponent(v.join('='));
  }
  return csrfFallback;
}

/**
 * api('GET', '/units', {query}) · api('POST', '/sessions', {json}) ·
 * api('POST', '/units/import', {body: file, type: 'text/csv'})
 * Resolves to the parsed JSON (null for 204); rejects with ApiError.
 */
export async function api(method, path, opts = {}) {
  let url = `/api${path}`;
  if (opts.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) {
      if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    }
    const s = q.toString();
    if (s) url += `?${s}`;
  }
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  let body;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = opts.type || 'application/octet-stream';
    body = opts.body;
  }
  if (method !== 'GET' && method !== 'HEAD') {
    const token = csrfToken();
    if (token) headers['X-CSRF-Token'] = token;
  }
  let res;
  try {
    res = await fetch(url, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
  } catch {
    const err = new ApiError(0, { error: { code: 'network', message: t('err.network') } });
    throw err;
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if (res.status === 401 && onUnauthorized && !opts.noRedirect) onUnauthorized(err);
    throw err;
  }
  return data;
}

/** The message to show for an error: the server's Vietnamese message, or an
 * English one for known codes when the page is in English. */
export function errorText(err) {
  if (!(err instanceof ApiError)) return String((err && err.message) || err);
  if (err.code === 'network') return t('err.network');
  if (lang() === 'en' && has(`err.${err.code}`)) return t(`err.${err.code}`);
  return err.message;
}
