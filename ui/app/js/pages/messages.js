// Publishing and getting messages through the API, shared by the queue and exchange pages.
// Bodies, headers and properties of fetched messages are shown as text only.

import { h, replace, num, show } from '../dom.js';
import { apiPath, post } from '../api.js';
import { form, input, select, textarea, value } from '../forms.js';
import { kvTable } from '../widgets.js';

/** RabbitMQ's ack modes for "get messages", with its labels. */
export const ACK_MODES = [
  ['ack_requeue_true', 'Nack message requeue true'],
  ['ack_requeue_false', 'Automatic ack'],
  ['reject_requeue_true', 'Reject requeue true'],
  ['reject_requeue_false', 'Reject requeue false'],
];

function parseObject(text, what) {
  if (!text.trim()) return {};
  let v;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error(`${what} must be a JSON object, e.g. {"key": "value"}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what} must be a JSON object`);
  return v;
}

/**
 * The publish form. `exchange` is the target exchange name ('' is the default exchange,
 * sent as amq.default); `routingKey` pre-fills (and for a queue, fixes) the routing key.
 */
export function publishForm(vhost, exchange, { routingKey = '', fixedKey = false } = {}) {
  return form({
    submitLabel: 'Publish message',
    className: 'publish',
    success: (r) => (r && r.routed ? 'Message published.' : 'Message published, but not routed to any queue.'),
    onSubmit: async (f) => {
      const properties = parseObject(value(f, 'properties'), 'Properties');
      const headers = parseObject(value(f, 'headers'), 'Headers');
      if (Object.keys(headers).length) properties.headers = headers;
      properties.delivery_mode = Number(value(f, 'delivery_mode'));
      return post(apiPath('exchanges', vhost, exchange || 'amq.default', 'publish'), {
        routing_key: fixedKey ? routingKey : value(f, 'routing_key'),
        payload: value(f, 'payload'),
        payload_encoding: value(f, 'payload_encoding'),
        properties,
      });
    },
  },
  fixedKey ? null : input('Routing key', 'routing_key', { value: routingKey }),
  select('Delivery mode', 'delivery_mode', [['1', '1 - Non-persistent'], ['2', '2 - Persistent']], '2'),
  select('Payload encoding', 'payload_encoding', [['string', 'String'], ['base64', 'Base64']], 'string'),
  textarea('Headers (JSON object)', 'headers', { rows: 2, placeholder: '{"x-trace": "abc"}' }),
  textarea('Properties (JSON object)', 'properties', { rows: 2, placeholder: '{"content_type": "text/plain", "message_id": "42"}' }),
  textarea('Payload', 'payload', { rows: 5 }));
}

function messageView(m, i) {
  return h('article', { class: 'message' },
    h('h3', {}, `Message ${i + 1}`),
    h('p', { class: 'muted' }, `The server reported ${num(m.message_count)} messages remaining.`),
    kvTable({
      Exchange: m.exchange === '' ? '(AMQP default)' : m.exchange,
      'Routing key': m.routing_key,
      Redelivered: m.redelivered ? 'yes' : 'no',
    }),
    h('h4', {}, 'Properties'),
    kvTable(Array.isArray(m.properties) ? {} : m.properties, 'No properties'),
    h('h4', {}, `Payload: ${num(m.payload_bytes)} bytes, encoding ${show(m.payload_encoding)}`),
    h('pre', { class: 'payload' }, show(m.payload)));
}

/** The "get messages" form and where its results appear. */
export function getMessagesForm(vhost, queue, onDone) {
  const results = h('div', { class: 'messages', 'aria-live': 'polite' });
  const f = form({
    submitLabel: 'Get message(s)',
    success: (list) => `${list.length} message(s) fetched.`,
    onSubmit: async (formEl) => {
      const count = Math.max(1, Math.min(1000, Number(value(formEl, 'count')) || 1));
      const list = await post(apiPath('queues', vhost, queue, 'get'), {
        count,
        ackmode: value(formEl, 'ackmode'),
        encoding: value(formEl, 'encoding'),
        truncate: Math.max(1, Number(value(formEl, 'truncate')) || 50000),
      });
      const msgs = Array.isArray(list) ? list : [];
      replace(results, msgs.length ? msgs.map(messageView) : h('p', { class: 'muted' }, 'Queue is empty.'));
      if (onDone) onDone();
      return msgs;
    },
  },
  select('Ack mode', 'ackmode', ACK_MODES, 'ack_requeue_true'),
  select('Encoding', 'encoding', [['auto', 'Automatic string/base64'], ['base64', 'Base64']], 'auto'),
  input('Messages', 'count', { type: 'number', value: '1', min: '1', max: '1000' }),
  input('Truncate at (bytes)', 'truncate', { type: 'number', value: '50000', min: '1' }));
  return h('div', {}, f, results);
}
