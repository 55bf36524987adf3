// The logged-in user: Basic credentials in sessionStorage (this tab only, gone when it
// closes), the user's tags from /api/whoami, and what those tags allow.

const AUTH_KEY = 'warren.auth';
const USER_KEY = 'warren.user';

let tags = [];

/** Base64 of "user:password" in UTF-8, as the Authorization header wants it. */
export function encodeCredentials(user, password) {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** The stored credentials, or null when logged out. */
export function credentials() {
  return sessionStorage.getItem(AUTH_KEY);
}

/** The logged-in user's name. */
export function userName() {
  return sessionStorage.getItem(USER_KEY) || '';
}

/** Keeps credentials for this tab. */
export function store(user, password) {
  sessionStorage.setItem(AUTH_KEY, encodeCredentials(user, password));
  sessionStorage.setItem(USER_KEY, user);
}

/** Forgets the credentials and tags. */
export function clear() {
  sessionStorage.removeItem(AUTH_KEY);
  sessionStorage.removeItem(USER_KEY);
  tags = [];
}

/** Sets the tags /api/whoami reported (an array, or RabbitMQ's older comma string). */
export function setTags(value) {
  if (Array.isArray(value)) tags = value.map(String);
  else if (typeof value === 'string') tags = value.split(',').map((t) => t.trim()).filter(Boolean);
  else tags = [];
}

/** The user's tags. */
export function userTags() {
  return tags.slice();
}

/** Administrators manage users, vhosts, permissions and definitions. */
export function isAdmin() {
  return tags.includes('administrator');
}

/** Policy makers and administrators manage policies. */
export function canPolicy() {
  return isAdmin() || tags.includes('policymaker');
}

/**
 * Whether the user gets write controls for queues, exchanges, messages and connections:
 * management, policymaker or administrator. A monitoring-only user sees but cannot change.
 */
export function canWrite() {
  return canPolicy() || tags.includes('management');
}
