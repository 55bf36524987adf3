// Channels: the paged list with prefetch, unacked and message rates.

import { h, num, rate, statRate, link } from '../dom.js';
import { get } from '../api.js';
import { pagedTable } from '../table.js';

function mode(c) {
  return [c.confirm && 'confirm', c.transactional && 'transactional'].filter(Boolean).join(', ');
}

/** The channel columns, also used on a connection's page. */
export const CHANNEL_COLUMNS = [
  { label: 'Channel', sort: 'name', cell: (c) => (c.connection_details ? link(c.name, 'connections', c.connection_details.name) : c.name) },
  { label: 'User', sort: 'user', cell: (c) => c.user },
  { label: 'Virtual host', sort: 'vhost', cell: (c) => c.vhost },
  { label: 'Mode', cell: mode },
  { label: 'State', cell: (c) => c.state },
  { label: 'Prefetch', sort: 'prefetch_count', num: true, cell: (c) => num(c.prefetch_count) },
  { label: 'Unacked', sort: 'messages_unacknowledged', num: true, cell: (c) => num(c.messages_unacknowledged) },
  { label: 'Unconfirmed', sort: 'messages_unconfirmed', num: true, cell: (c) => num(c.messages_unconfirmed) },
  { label: 'Consumers', sort: 'consumer_count', num: true, cell: (c) => num(c.consumer_count) },
  { label: 'Publish', sort: 'message_stats.publish_details.rate', num: true, cell: (c) => rate(statRate(c.message_stats, 'publish')) },
  { label: 'Deliver / get', sort: 'message_stats.deliver_get_details.rate', num: true, cell: (c) => rate(statRate(c.message_stats, 'deliver_get')) },
  { label: 'Ack', sort: 'message_stats.ack_details.rate', num: true, cell: (c) => rate(statRate(c.message_stats, 'ack')) },
];

/** Mounts the channel list. */
export function channelsPage(el, ctx) {
  const t = pagedTable({ columns: CHANNEL_COLUMNS, ctx, what: 'channels', load: (params) => get('/api/channels', params) });
  el.append(h('h1', {}, 'Channels'), t.el);
  return { refresh: t.refresh };
}
