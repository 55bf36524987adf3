// Exchanges: the paged list with an "add exchange" form, and one exchange's page with its
// bindings both ways, a publish form and delete.

import { h, replace, num, rate, statRate, show } from '../dom.js';
import { get, put, del, apiPath } from '../api.js';
import { go } from '../router.js';
import { pagedTable, table } from '../table.js';
import { form, input, select, textarea, value, actionButton } from '../forms.js';
import { canWrite } from '../session.js';
import { section, tile, kvTable, errorBox, confirmAction, toast } from '../widgets.js';
import { features, exchangeLink, destinationLink, vhostNames, jsonObject } from './common.js';
import { publishForm } from './messages.js';
import * as refresher from '../refresh.js';

const COLUMNS = [
  { label: 'Virtual host', sort: 'vhost', cell: (x) => x.vhost },
  { label: 'Name', sort: 'name', cell: (x) => exchangeLink(x.vhost, x.name) },
  { label: 'Type', sort: 'type', cell: (x) => x.type },
  { label: 'Features', cell: (x) => features(x) },
  { label: 'Policy', sort: 'policy', cell: (x) => x.policy || '' },
  { label: 'Rate in', sort: 'message_stats.publish_in_details.rate', num: true, cell: (x) => rate(statRate(x.message_stats, 'publish_in')) },
  { label: 'Rate out', sort: 'message_stats.publish_out_details.rate', num: true, cell: (x) => rate(statRate(x.message_stats, 'publish_out')) },
];

function addExchangeForm(vhosts) {
  return form({
    submitLabel: 'Add exchange',
    success: 'Exchange added.',
    onSubmit: async (f) => {
      const name = value(f, 'name');
      if (!name) throw new Error('An exchange needs a name.');
      await put(apiPath('exchanges', value(f, 'vhost'), name), {
        type: value(f, 'type'),
        durable: value(f, 'durable') === 'true',
        auto_delete: value(f, 'auto_delete') === 'true',
        internal: value(f, 'internal') === 'true',
        arguments: jsonObject(value(f, 'arguments'), 'Arguments'),
      });
      f.reset();
      refresher.now();
    },
  },
  select('Virtual host', 'vhost', vhosts, vhosts[0]),
  input('Name', 'name', { required: true }),
  select('Type', 'type', ['direct', 'fanout', 'headers', 'topic'], 'direct'),
  select('Durability', 'durable', [['true', 'Durable'], ['false', 'Transient']], 'true'),
  select('Auto delete', 'auto_delete', [['false', 'No'], ['true', 'Yes']], 'false'),
  select('Internal', 'internal', [['false', 'No'], ['true', 'Yes']], 'false'),
  textarea('Arguments (JSON object)', 'arguments', { rows: 2, placeholder: '{"alternate-exchange": "ae"}' }));
}

/** Mounts the exchange list. */
export function exchangesPage(el, ctx) {
  const t = pagedTable({ columns: COLUMNS, ctx, what: 'exchanges', load: (params) => get('/api/exchanges', params) });
  el.append(h('h1', {}, 'Exchanges'), t.el);
  if (canWrite()) {
    const slot = section('Add an exchange', h('p', { class: 'muted' }, 'Loading…'));
    el.append(slot);
    vhostNames().then((names) => slot.lastChild.replaceWith(addExchangeForm(names)));
  }
  return { refresh: t.refresh };
}

function bindingColumns(direction) {
  return [
    direction === 'source'
      ? { label: 'To', cell: (b) => [destinationLink(b), h('span', { class: 'muted' }, ` (${b.destination_type})`)] }
      : { label: 'From', cell: (b) => exchangeLink(b.vhost, b.source) },
    { label: 'Routing key', cell: (b) => b.routing_key },
    { label: 'Arguments', cell: (b) => show(b.arguments && Object.keys(b.arguments).length ? b.arguments : '') },
  ];
}

/** Mounts one exchange's page (`amq.default` is the default exchange). */
export function exchangePage(el, ctx) {
  const { vhost, name } = ctx.params;
  const isDefault = name === 'amq.default' || name === '';
  const writable = canWrite();
  const status = h('div');
  const tiles = h('div', { class: 'tiles' });
  const details = h('div');
  const from = h('div');
  const to = h('div');
  el.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/exchanges' }, 'Exchanges'), ' / ', h('span', {}, vhost)),
    h('h1', {}, 'Exchange ', h('span', { class: 'name', id: 'object-name' }, isDefault ? '(AMQP default)' : name)),
    status, tiles, section('Details', details),
    section('Bindings from this exchange', from),
    section('Bindings to this exchange', to));
  if (writable) {
    el.append(section('Publish message', publishForm(vhost, isDefault ? '' : name)));
    if (!isDefault && !name.startsWith('amq.')) {
      el.append(section('Delete', h('div', { class: 'actions' }, actionButton('Delete exchange', async () => {
        if (!await confirmAction(`Delete exchange "${name}" and its bindings?`, 'Delete')) return;
        await del(apiPath('exchanges', vhost, name));
        toast('Exchange deleted.');
        go(['exchanges']);
      }, { danger: true }))));
    }
  }

  async function refresh() {
    let x;
    try {
      x = await get(apiPath('exchanges', vhost, isDefault ? 'amq.default' : name));
    } catch (e) {
      replace(status, errorBox(e.status === 404 ? new Error('This exchange does not exist (any more).') : e));
      return;
    }
    replace(status);
    const s = x.message_stats || {};
    replace(tiles,
      tile('Type', x.type),
      tile('Rate in', rate(statRate(s, 'publish_in'))),
      tile('Rate out', rate(statRate(s, 'publish_out'))),
      tile('Published in', num(s.publish_in ?? 0)));
    replace(details,
      kvTable({
        'Virtual host': x.vhost,
        Durable: x.durable ? 'yes' : 'no',
        'Auto delete': x.auto_delete ? 'yes' : 'no',
        Internal: x.internal ? 'yes' : 'no',
        Policy: x.policy || 'none',
      }),
      h('h3', {}, 'Arguments'), kvTable(x.arguments, 'No arguments.'),
      h('h3', {}, 'Effective policy definition'), kvTable(x.effective_policy_definition, 'No policy applies.'));
    if (isDefault) {
      replace(from, h('p', { class: 'muted' }, 'The default exchange is implicitly bound to every queue, with the queue name as routing key.'));
      replace(to);
      return;
    }
    const [src, dst] = await Promise.all([
      get(apiPath('exchanges', vhost, name, 'bindings', 'source')),
      get(apiPath('exchanges', vhost, name, 'bindings', 'destination')),
    ]);
    replace(from, table(bindingColumns('source'), src, 'No bindings.'));
    replace(to, table(bindingColumns('destination'), dst, 'No bindings.'));
  }
  return { refresh };
}
