// Helpers shared by several pages: vhost choices, feature flags, links to objects.

import { h, link } from '../dom.js';
import { get } from '../api.js';

/** The names of the vhosts the user can see. */
export async function vhostNames() {
  try {
    const list = await get('/api/vhosts');
    return (Array.isArray(list) ? list : list.items || []).map((v) => v.name);
  } catch {
    return ['/'];
  }
}

/** Short feature badges for a queue or exchange (durable, auto-delete, …). */
export function features(o) {
  const out = [];
  if (o.durable) out.push(['D', 'durable']);
  if (o.auto_delete) out.push(['AD', 'auto-delete']);
  if (o.exclusive) out.push(['Excl', 'exclusive']);
  if (o.internal) out.push(['I', 'internal']);
  if (o.arguments && Object.keys(o.arguments).length) out.push(['Args', Object.keys(o.arguments).join(', ')]);
  return out.map(([t, title]) => h('abbr', { class: 'badge', title }, t));
}

/** A link to an exchange page; the default exchange shows as "(AMQP default)". */
export function exchangeLink(vhost, name) {
  return link(name === '' ? '(AMQP default)' : name, 'exchanges', vhost, name === '' ? 'amq.default' : name);
}

/** A link to a queue page. */
export function queueLink(vhost, name) {
  return link(name, 'queues', vhost, name);
}

/** A link to a binding's destination. */
export function destinationLink(b) {
  return b.destination_type === 'queue' ? queueLink(b.vhost, b.destination) : exchangeLink(b.vhost, b.destination);
}

/** Parses a JSON object from a text box ("" is {}). */
export function jsonObject(text, what) {
  if (!text || !text.trim()) return {};
  let v;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error(`${what} must be JSON, e.g. {"x-max-length": 1000}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what} must be a JSON object`);
  return v;
}
