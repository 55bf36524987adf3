// Form building: labelled controls and a submit handler that reports the API's answer.

import { h, replace } from './dom.js';
import { toast } from './widgets.js';

/** A labelled text-like input. */
export function input(label, name, opts = {}) {
  return h('label', { class: 'field' }, h('span', {}, label),
    h('input', {
      name,
      type: opts.type || 'text',
      value: opts.value,
      required: opts.required,
      placeholder: opts.placeholder,
      autocomplete: opts.autocomplete || 'off',
      min: opts.min,
      max: opts.max,
      spellcheck: 'false',
    }));
}

/** A labelled multi-line input. */
export function textarea(label, name, opts = {}) {
  const el = h('textarea', { name, rows: opts.rows || 4, placeholder: opts.placeholder, spellcheck: 'false' });
  if (opts.value !== undefined) el.value = opts.value;
  return h('label', { class: 'field wide' }, h('span', {}, label), el);
}

/** A labelled select; `options` are [value, text] pairs or plain strings. */
export function select(label, name, options, value) {
  const el = h('select', { name }, options.map((o) => {
    const [v, t] = Array.isArray(o) ? o : [o, o];
    return h('option', { value: v, selected: v === value }, t);
  }));
  return h('label', { class: 'field' }, h('span', {}, label), el);
}

/** A labelled checkbox. */
export function checkbox(label, name, checked = false) {
  return h('label', { class: 'check' }, h('input', { type: 'checkbox', name, checked }), h('span', {}, label));
}

/** The value of a named control in `form` (checkboxes as booleans). */
export function value(form, name) {
  const el = form.elements.namedItem(name);
  if (!el) return undefined;
  if (el.type === 'checkbox') return el.checked;
  return el.value;
}

/**
 * A form whose submit runs `onSubmit(form)`; errors are shown in the form, success as a
 * toast (`success` may be a string or a function of the result). The button is disabled
 * while the request runs.
 */
export function form({ onSubmit, submitLabel = 'Save', success = 'Done', className = '', danger = false }, ...children) {
  const status = h('div', { class: 'form-status', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', class: danger ? 'danger' : '' }, submitLabel);
  const el = h('form', { class: `form ${className}`, novalidate: false },
    h('div', { class: 'fields' }, children),
    h('div', { class: 'actions' }, button),
    status);
  el.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    replace(status);
    try {
      const result = await onSubmit(el);
      if (result !== false) {
        const msg = typeof success === 'function' ? success(result) : success;
        if (msg) toast(msg);
      }
    } catch (e) {
      replace(status, h('p', { class: 'error', role: 'alert' }, e.message || String(e)));
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

/** A button that runs an async action, showing failures as a toast. */
export function actionButton(label, action, { danger = false, secondary = false } = {}) {
  const b = h('button', { type: 'button', class: danger ? 'danger' : secondary ? 'secondary' : '' }, label);
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await action();
    } catch (e) {
      toast(e.message || String(e), 'error');
    } finally {
      b.disabled = false;
    }
  });
  return b;
}
