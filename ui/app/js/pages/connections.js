// Connections: the paged list, and one connection's page with its client properties, TLS
// details, channels, and closing it with a reason.

import { h, replace, num, bytes } from '../dom.js';
import { get, del, apiPath } from '../api.js';
import { go } from '../router.js';
import { pagedTable, table } from '../table.js';
import { form, input, value } from '../forms.js';
import { canWrite } from '../session.js';
import { section, tile, kvTable, errorBox, confirmAction } from '../widgets.js';
import { link } from '../dom.js';
import { CHANNEL_COLUMNS } from './channels.js';

function clientName(c) {
  const p = c.client_properties || {};
  return p.connection_name || [p.product, p.version].filter(Boolean).join(' ') || '';
}

function tlsText(c) {
  return c.ssl ? `yes${c.ssl_protocol ? ` (${c.ssl_protocol})` : ''}` : 'no';
}

function byteRate(stats, key) {
  const d = stats && stats[`${key}_details`];
  return d && typeof d.rate === 'number' ? `${bytes(d.rate)}/s` : '–';
}

const COLUMNS = [
  { label: 'Name', sort: 'name', cell: (c) => link(c.name, 'connections', c.name) },
  { label: 'Client', cell: clientName },
  { label: 'User', sort: 'user', cell: (c) => c.user },
  { label: 'Virtual host', sort: 'vhost', cell: (c) => c.vhost },
  { label: 'Protocol', cell: (c) => c.protocol },
  { label: 'TLS', cell: tlsText },
  { label: 'State', cell: (c) => c.state },
  { label: 'Channels', sort: 'channels', num: true, cell: (c) => num(c.channels) },
  { label: 'From client', sort: 'recv_oct_details.rate', num: true, cell: (c) => byteRate(c, 'recv_oct') },
  { label: 'To client', sort: 'send_oct_details.rate', num: true, cell: (c) => byteRate(c, 'send_oct') },
];

/** Mounts the connection list. */
export function connectionsPage(el, ctx) {
  const t = pagedTable({ columns: COLUMNS, ctx, what: 'connections', load: (params) => get('/api/connections', params) });
  el.append(h('h1', {}, 'Connections'), t.el);
  return { refresh: t.refresh };
}

/** A reason usable as an HTTP header value: printable ASCII, at most 200 characters. */
export function headerSafe(text) {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

/** Mounts one connection's page. */
export function connectionPage(el, ctx) {
  const { name } = ctx.params;
  const status = h('div');
  const tiles = h('div', { class: 'tiles' });
  const details = h('div');
  const props = h('div');
  const channels = h('div');
  el.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/connections' }, 'Connections')),
    h('h1', {}, 'Connection ', h('span', { class: 'name', id: 'object-name' }, name)),
    status, tiles, section('Details', details), section('Client properties', props), section('Channels', channels));
  if (canWrite()) {
    el.append(section('Close this connection', form({
      submitLabel: 'Force close',
      danger: true,
      success: 'Connection closed.',
      onSubmit: async (f) => {
        const reason = headerSafe(value(f, 'reason') || 'Closed via management plugin');
        if (!await confirmAction(`Close connection "${name}"? The client gets "${reason}".`, 'Close')) return false;
        await del(apiPath('connections', name), { 'X-Reason': reason });
        go(['connections']);
        return true;
      },
    }, input('Reason', 'reason', { value: 'Closed via management plugin' }))));
  }

  async function refresh() {
    let c;
    try {
      c = await get(apiPath('connections', name));
    } catch (e) {
      replace(status, errorBox(e.status === 404 ? new Error('This connection is closed.') : e));
      return;
    }
    replace(status);
    replace(tiles,
      tile('Channels', num(c.channels)),
      tile('From client', byteRate(c, 'recv_oct')),
      tile('To client', byteRate(c, 'send_oct')),
      tile('State', c.state || ''));
    replace(details, kvTable({
      Client: clientName(c),
      User: c.user,
      'Virtual host': c.vhost,
      Protocol: c.protocol,
      'Authentication': c.auth_mechanism,
      Peer: `${c.peer_host}:${c.peer_port}`,
      TLS: tlsText(c),
      'TLS cipher': c.ssl ? c.ssl_cipher : undefined,
      'Peer certificate': c.peer_cert_subject || undefined,
      Heartbeat: c.timeout !== undefined ? `${c.timeout} s` : undefined,
      'Frame max': c.frame_max,
      'Channel max': c.channel_max,
      'Connected at': c.connected_at ? new Date(c.connected_at).toISOString() : undefined,
    }));
    replace(props, kvTable(c.client_properties, 'No client properties.'));
    const list = await get(apiPath('connections', name, 'channels'));
    replace(channels, table(CHANNEL_COLUMNS, Array.isArray(list) ? list : [], 'No channels.'));
  }
  return { refresh };
}

