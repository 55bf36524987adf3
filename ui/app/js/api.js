// The only way the UI talks to the broker: the public management API, with the logged-in
// user's Basic credentials in an explicit header. `credentials: 'omit'` keeps cookies and
// any browser-cached Basic credentials out, and stops the browser's own login prompt.

import { credentials } from './session.js';

/** A failed API call: the HTTP status and RabbitMQ's `reason`. */
export class ApiError extends Error {
  constructor(status, reason, loginFailed) {
    super(reason || `HTTP ${status}`);
    this.status = status;
    this.reason = reason;
    /** True for a 401 that challenges the credentials themselves (log in again). */
    this.loginFailed = loginFailed;
  }
}

const listeners = new Set();

/** Calls `fn` when the stored credentials stop working (401 with a challenge). */
export function onLoginFailed(fn) {
  listeners.add(fn);
}

/** `/api/a/b%2Fc` from raw path segments. */
export function apiPath(...segments) {
  return `/api/${segments.map((s) => encodeURIComponent(s)).join('/')}`;
}

/**
 * Sends one request. `body` (an object) goes as JSON; `headers` adds headers; `auth`
 * overrides the stored credentials (used by the login form). Resolves to the parsed JSON
 * body, or null for an empty one.
 */
export async function request(method, path, { body, headers = {}, auth } = {}) {
  const creds = auth || credentials();
  const h = { Accept: 'application/json', ...headers };
  if (creds) h.Authorization = `Basic ${creds}`;
  let payload;
  if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  // A count of API calls, on the page for tests and curious operators (data-api-requests).
  document.documentElement.dataset.apiRequests = String(Number(document.documentElement.dataset.apiRequests || 0) + 1);
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: h,
      body: payload,
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
    });
  } catch (e) {
    throw new ApiError(0, `The broker did not answer (${e.message})`, false);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const reason = data && typeof data === 'object' ? data.reason || data.error : data;
    const loginFailed = response.status === 401 && response.headers.has('www-authenticate');
    const err = new ApiError(response.status, reason ? String(reason) : '', loginFailed);
    if (loginFailed && !auth) listeners.forEach((fn) => fn(err));
    throw err;
  }
  return data;
}

/** GET `path` (with an optional URLSearchParams or object query). */
export function get(path, query) {
  const q = query ? new URLSearchParams(query).toString() : '';
  return request('GET', q ? `${path}?${q}` : path);
}

/** PUT a JSON body. */
export function put(path, body) {
  return request('PUT', path, { body });
}

/** POST a JSON body. */
export function post(path, body) {
  return request('POST', path, { body });
}

/** DELETE, with optional extra headers (e.g. X-Reason). */
export function del(path, headers) {
  return request('DELETE', path, { headers });
}
