// One queue: its counts and rates, a depth chart, arguments and effective policy, bindings,
// consumers, and (for users who may write) get, publish, bind, unbind, purge and delete.

import { h, replace, num, rate, bytes, statRate, show } from '../dom.js';
import { go } from '../router.js';
import { get, del, post, apiPath } from '../api.js';
import { lineChart, valuesFromSamples } from '../charts.js';
import { table } from '../table.js';
import { form, input, value, actionButton } from '../forms.js';
import { canWrite } from '../session.js';
import { section, tile, kvTable, errorBox, confirmAction, toast } from '../widgets.js';
import { exchangeLink, jsonObject } from './common.js';
import { publishForm, getMessagesForm } from './messages.js';
import * as refresher from '../refresh.js';

function bindingsSection(vhost, name, writable) {
  const body = h('div');
  const addForm = writable ? form({
    submitLabel: 'Bind',
    success: 'Binding added.',
    onSubmit: async (f) => {
      const source = value(f, 'source');
      if (!source) throw new Error('Name the exchange to bind from.');
      await post(apiPath('bindings', vhost, 'e', source, 'q', name), {
        routing_key: value(f, 'routing_key'),
        arguments: jsonObject(value(f, 'arguments'), 'Arguments'),
      });
      f.reset();
      refresher.now();
    },
  }, input('From exchange', 'source', { required: true }), input('Routing key', 'routing_key'),
  input('Arguments (JSON object)', 'arguments', { placeholder: '{}' })) : null;
  const el = section('Bindings', body, addForm ? h('h3', {}, 'Add binding from an exchange') : null, addForm);
  async function refresh() {
    const list = await get(apiPath('queues', vhost, name, 'bindings'));
    replace(body, table([
      { label: 'From', cell: (b) => exchangeLink(vhost, b.source) },
      { label: 'Routing key', cell: (b) => b.routing_key },
      { label: 'Arguments', cell: (b) => show(b.arguments && Object.keys(b.arguments).length ? b.arguments : '') },
      writable ? {
        label: 'Action',
        cell: (b) => (b.source === '' ? '' : actionButton('Unbind', async () => {
          await del(apiPath('bindings', vhost, 'e', b.source, 'q', name, b.properties_key || '~'));
          toast('Binding removed.');
          refresher.now();
        }, { secondary: true })),
      } : null,
    ].filter(Boolean), list, 'No bindings.'));
  }
  return { el, refresh };
}

function consumersSection(vhost, name) {
  const body = h('div');
  async function refresh() {
    const all = await get(apiPath('consumers', vhost));
    const mine = (Array.isArray(all) ? all : []).filter((c) => c.queue && c.queue.name === name);
    replace(body, table([
      { label: 'Channel', cell: (c) => (c.channel_details ? c.channel_details.name : '') },
      { label: 'Consumer tag', cell: (c) => c.consumer_tag },
      { label: 'Ack required', cell: (c) => (c.ack_required ? 'yes' : 'no') },
      { label: 'Exclusive', cell: (c) => (c.exclusive ? 'yes' : 'no') },
      { label: 'Prefetch', num: true, cell: (c) => num(c.prefetch_count) },
      { label: 'Active', cell: (c) => (c.active === false ? 'no' : 'yes') },
      { label: 'Arguments', cell: (c) => show(c.arguments && Object.keys(c.arguments).length ? c.arguments : '') },
    ], mine, 'No consumers.'));
  }
  return { el: section('Consumers', body), refresh };
}

/** Mounts the page of the queue named by the route. */
export function queuePage(el, ctx) {
  const { vhost, name } = ctx.params;
  const writable = canWrite();
  const status = h('div');
  const tiles = h('div', { class: 'tiles' });
  const details = h('div', { class: 'details' });
  const chart = lineChart({
    key: `queue-depth:${vhost}\u0000${name}`,
    title: 'Queued messages',
    series: [{ label: 'Ready', stroke: '#2f7ed8' }, { label: 'Unacked', stroke: '#e08e0b' }, { label: 'Total', stroke: '#556' }],
    fmt: (v) => num(Math.round(v)),
    floor: 5,
  });
  const bindings = bindingsSection(vhost, name, writable);
  const consumers = consumersSection(vhost, name);
  el.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/queues' }, 'Queues'), ' / ', h('span', {}, vhost)),
    h('h1', {}, 'Queue ', h('span', { class: 'name', id: 'object-name' }, name)),
    status,
    tiles,
    section('Depth', chart.el),
    section('Details', details),
    consumers.el,
    bindings.el,
  );
  if (writable) {
    el.append(
      section('Get messages', h('p', { class: 'muted' }, 'Getting messages is a destructive action: with "Automatic ack" or "Reject requeue false" they leave the queue.'),
        getMessagesForm(vhost, name, () => refresher.now())),
      section('Publish message', h('p', { class: 'muted' }, 'Published to the default exchange with the queue name as routing key.'),
        publishForm(vhost, '', { routingKey: name, fixedKey: true })),
      section('Purge and delete',
        h('div', { class: 'actions' },
          actionButton('Purge messages', async () => {
            if (!await confirmAction(`Purge every message from queue "${name}"?`, 'Purge')) return;
            await del(apiPath('queues', vhost, name, 'contents'));
            toast('Queue purged.');
            refresher.now();
          }, { danger: true }),
          actionButton('Delete queue', async () => {
            if (!await confirmAction(`Delete queue "${name}" and its messages?`, 'Delete')) return;
            await del(apiPath('queues', vhost, name));
            toast('Queue deleted.');
            go(['queues']);
          }, { danger: true }))),
    );
  }

  async function refresh() {
    let q;
    try {
      q = await get(apiPath('queues', vhost, name), { lengths_age: 600, lengths_incr: 5, msg_rates_age: 600, msg_rates_incr: 5 });
    } catch (e) {
      replace(status, errorBox(e.status === 404 ? new Error('This queue does not exist (any more).') : e));
      return;
    }
    replace(status);
    const s = q.message_stats || {};
    replace(tiles,
      tile('Ready', num(q.messages_ready), 'queue-ready'),
      tile('Unacked', num(q.messages_unacknowledged), 'queue-unacked'),
      tile('Total', num(q.messages), 'queue-total'),
      tile('Consumers', num(q.consumers), 'queue-consumers'),
      tile('Incoming', rate(statRate(s, 'publish'))),
      tile('Deliver / get', rate(statRate(s, 'deliver_get'))),
      tile('Ack', rate(statRate(s, 'ack'))),
      tile('Message bytes', bytes(q.message_bytes)));
    const lens = ['messages_ready', 'messages_unacknowledged', 'messages'].map((k) => valuesFromSamples((q[`${k}_details`] || {}).samples));
    if (lens.every(Boolean)) chart.useSamples(lens);
    else chart.push([q.messages_ready ?? 0, q.messages_unacknowledged ?? 0, q.messages ?? 0]);
    replace(details,
      kvTable({
        'Virtual host': q.vhost,
        Type: q.type || 'classic',
        State: q.state,
        Node: q.node,
        Durable: q.durable ? 'yes' : 'no',
        'Auto delete': q.auto_delete ? 'yes' : 'no',
        Exclusive: q.exclusive ? 'yes' : 'no',
        Policy: q.policy || 'none',
        'Operator policy': q.operator_policy || 'none',
      }),
      h('h3', {}, 'Arguments'),
      kvTable(q.arguments, 'No arguments.'),
      h('h3', {}, 'Effective policy definition'),
      kvTable(q.effective_policy_definition, 'No policy applies.'));
    await Promise.all([bindings.refresh(), consumers.refresh()]);
  }

  return { refresh, destroy: () => chart.destroy() };
}
