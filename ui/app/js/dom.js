// Building DOM safely: every piece of data becomes a text node or an attribute value,
// never markup. Nothing in the UI assigns innerHTML.

/**
 * Creates an element. `attrs`: `class`, `text`, `on<event>` handlers, booleans (set when
 * true), anything else through setAttribute. Children: nodes, strings (as text), arrays;
 * null, undefined and false are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'text') el.textContent = String(value);
    else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

/** Appends children (nodes, strings as text, nested arrays) to `el`. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces the children of `el` in one step (no empty intermediate state, no flicker). */
export function replace(el, ...children) {
  const frag = document.createDocumentFragment();
  append(frag, children);
  el.replaceChildren(frag);
  return el;
}

/** A hash link to a route: segments are percent-encoded one by one. */
export function link(text, ...segments) {
  return h('a', { href: hashOf(segments) }, text);
}

/** `#/a/b%2Fc` for the segments ['a', 'b/c']. */
export function hashOf(segments, query) {
  const path = '#/' + segments.map((s) => encodeURIComponent(s)).join('/');
  const q = query ? query.toString() : '';
  return q ? `${path}?${q}` : path;
}

/** A number with thousands separators, or an en dash when absent. */
export function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v.toLocaleString('en-US') : '–';
}

/** A rate per second with one decimal. */
export function rate(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  return `${v.toLocaleString('en-US', { maximumFractionDigits: v < 10 ? 1 : 0 })}/s`;
}

/** Bytes in B, KiB, MiB or GiB. */
export function bytes(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = v;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  return `${n.toLocaleString('en-US', { maximumFractionDigits: i ? 1 : 0 })} ${units[i]}`;
}

/** A duration in milliseconds as "3d 4h", "5h 2m", "40s". */
export function duration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '–';
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const hr = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${hr}h`;
  if (hr) return `${hr}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** A message_stats rate: `stats[key + '_details'].rate`, or undefined. */
export function statRate(stats, key) {
  const d = stats && stats[`${key}_details`];
  return d && typeof d.rate === 'number' ? d.rate : undefined;
}

/** Any JSON value as display text (objects and arrays as compact JSON). */
export function show(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
