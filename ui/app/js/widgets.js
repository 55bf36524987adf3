// Small shared pieces: the confirmation dialog, toasts, key/value tables, stat tiles.

import { h, show } from './dom.js';

/** Asks before a destructive action; resolves true when confirmed. */
export function confirmAction(message, confirmLabel = 'Confirm') {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = message;
  document.getElementById('confirm-ok').textContent = confirmLabel;
  return new Promise((resolve) => {
    const done = () => {
      dialog.removeEventListener('close', done);
      resolve(dialog.returnValue === 'ok');
    };
    dialog.returnValue = '';
    dialog.addEventListener('close', done);
    dialog.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}

let toastTimer = null;

/** Shows a short status message; `kind` is 'ok' or 'error'. */
export function toast(message, kind = 'ok') {
  const el = document.getElementById('toast');
  el.textContent = message;
  el.className = `toast show ${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    el.className = 'toast';
  }, 4000);
}

/** A two-column table of an object's entries (arguments, properties, definitions). */
export function kvTable(obj, empty = 'None') {
  const entries = obj && typeof obj === 'object' ? Object.entries(obj).filter(([, v]) => v !== undefined) : [];
  if (!entries.length) return h('p', { class: 'muted' }, empty);
  return h('table', { class: 'kv' },
    h('tbody', {}, entries.map(([k, v]) => h('tr', {},
      h('th', { scope: 'row' }, k),
      h('td', {}, v && typeof v === 'object' && !Array.isArray(v) ? kvTable(v) : show(v))))));
}

/** A tile with a label and a big value. */
export function tile(label, value, id) {
  return h('div', { class: 'tile' },
    h('div', { class: 'tile-label' }, label),
    h('div', { class: 'tile-value', id }, value));
}

/** A section with a heading. */
export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, title), children);
}

/** An error message box. */
export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err && err.message ? err.message : String(err));
}
