// The queues list: server-side paging, sorting and filtering; and the "add a queue" form.

import { h, num, rate, statRate } from '../dom.js';
import { get, put, apiPath } from '../api.js';
import { pagedTable } from '../table.js';
import { form, input, select, textarea, value } from '../forms.js';
import { canWrite } from '../session.js';
import { section } from '../widgets.js';
import { features, queueLink, vhostNames, jsonObject } from './common.js';
import * as refresher from '../refresh.js';

/** The queue list's columns (shared with nothing else, exported for clarity). */
export const QUEUE_COLUMNS = [
  { label: 'Virtual host', sort: 'vhost', cell: (q) => q.vhost },
  { label: 'Name', sort: 'name', cell: (q) => queueLink(q.vhost, q.name) },
  { label: 'Type', cell: (q) => q.type || 'classic' },
  { label: 'Features', cell: (q) => features(q) },
  { label: 'Policy', sort: 'policy', cell: (q) => q.policy || '' },
  { label: 'State', cell: (q) => q.state || '' },
  { label: 'Ready', sort: 'messages_ready', num: true, cell: (q) => num(q.messages_ready) },
  { label: 'Unacked', sort: 'messages_unacknowledged', num: true, cell: (q) => num(q.messages_unacknowledged) },
  { label: 'Total', sort: 'messages', num: true, cell: (q) => num(q.messages) },
  { label: 'Consumers', sort: 'consumers', num: true, cell: (q) => num(q.consumers) },
  { label: 'Incoming', sort: 'message_stats.publish_details.rate', num: true, cell: (q) => rate(statRate(q.message_stats, 'publish')) },
  { label: 'Deliver / get', sort: 'message_stats.deliver_get_details.rate', num: true, cell: (q) => rate(statRate(q.message_stats, 'deliver_get')) },
  { label: 'Ack', sort: 'message_stats.ack_details.rate', num: true, cell: (q) => rate(statRate(q.message_stats, 'ack')) },
];

function addQueueForm(vhosts) {
  return form({
    submitLabel: 'Add queue',
    success: 'Queue added.',
    onSubmit: async (f) => {
      const name = value(f, 'name');
      if (!name) throw new Error('A queue needs a name.');
      const args = jsonObject(value(f, 'arguments'), 'Arguments');
      const type = value(f, 'type');
      if (type !== 'classic') args['x-queue-type'] = type;
      await put(apiPath('queues', value(f, 'vhost'), name), {
        durable: value(f, 'durable') === 'true',
        auto_delete: value(f, 'auto_delete') === 'true',
        arguments: args,
      });
      f.reset();
      refresher.now();
    },
  },
  select('Virtual host', 'vhost', vhosts, vhosts[0]),
  input('Name', 'name', { required: true }),
  select('Type', 'type', ['classic', 'quorum', 'stream'], 'classic'),
  select('Durability', 'durable', [['true', 'Durable'], ['false', 'Transient']], 'true'),
  select('Auto delete', 'auto_delete', [['false', 'No'], ['true', 'Yes']], 'false'),
  textarea('Arguments (JSON object)', 'arguments', { rows: 2, placeholder: '{"x-max-length": 1000}' }));
}

/** Mounts the queue list. */
export function queuesPage(el, ctx) {
  const t = pagedTable({ columns: QUEUE_COLUMNS, ctx, what: 'queues', load: (params) => get('/api/queues', params) });
  el.append(h('h1', {}, 'Queues'), t.el);
  if (canWrite()) {
    const slot = section('Add a queue', h('p', { class: 'muted' }, 'Loading…'));
    el.append(slot);
    vhostNames().then((names) => {
      slot.lastChild.replaceWith(addQueueForm(names));
    });
  }
  return { refresh: t.refresh };
}
