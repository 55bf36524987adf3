// Topic permissions (administrators): every user's read and write patterns per topic
// exchange, the form that sets one, and "clear" (the API clears a user's topic permissions
// on a vhost at once).

import { h, replace, link } from '../dom.js';
import { get, put, del, apiPath } from '../api.js';
import { table } from '../table.js';
import { form, input, select, value, actionButton } from '../forms.js';
import { section, errorBox, confirmAction, toast } from '../widgets.js';
import { vhostNames } from './common.js';
import { isAdmin } from '../session.js';
import * as refresher from '../refresh.js';

async function userNames() {
  try {
    const list = await get('/api/users');
    return (Array.isArray(list) ? list : []).map((u) => u.name);
  } catch {
    return [];
  }
}

/** Mounts the topic permissions page. */
export function topicPermissionsPage(el) {
  const writable = isAdmin();
  const body = h('div');
  const status = h('div');
  const formSlot = h('div');
  el.append(h('h1', {}, 'Topic permissions'), status, section('All topic permissions', body));
  if (writable) {
    el.append(section('Set a topic permission',
      h('p', { class: 'muted' }, 'Routing keys a user may publish with (write) and bind with (read) on a topic exchange, as regular expressions.'),
      formSlot));
    Promise.all([userNames(), vhostNames()]).then(([users, vhosts]) => replace(formSlot, form({
      submitLabel: 'Set topic permission',
      success: 'Topic permission set.',
      onSubmit: async (f) => {
        const exchange = value(f, 'exchange');
        if (!exchange) throw new Error('Name the topic exchange.');
        await put(apiPath('topic-permissions', value(f, 'vhost'), value(f, 'user')), {
          exchange,
          write: value(f, 'write'),
          read: value(f, 'read'),
        });
        refresher.now();
      },
    },
    select('User', 'user', users, users[0]),
    select('Virtual host', 'vhost', vhosts, vhosts[0]),
    input('Exchange', 'exchange', { value: 'amq.topic', required: true }),
    input('Write regexp', 'write', { value: '.*' }),
    input('Read regexp', 'read', { value: '.*' }))));
  }

  async function refresh() {
    let list;
    try {
      list = await get('/api/topic-permissions');
    } catch (e) {
      replace(status, errorBox(e));
      return;
    }
    replace(status);
    replace(body, table([
      { label: 'User', cell: (p) => link(p.user, 'users', p.user) },
      { label: 'Virtual host', cell: (p) => link(p.vhost, 'vhosts', p.vhost) },
      { label: 'Exchange', cell: (p) => p.exchange },
      { label: 'Write', cell: (p) => p.write },
      { label: 'Read', cell: (p) => p.read },
      writable ? {
        label: 'Action',
        cell: (p) => actionButton('Clear', async () => {
          if (!await confirmAction(`Clear every topic permission of "${p.user}" on "${p.vhost}"?`, 'Clear')) return;
          await del(apiPath('topic-permissions', p.vhost, p.user));
          toast('Topic permissions cleared.');
          refresher.now();
        }, { secondary: true }),
      } : null,
    ].filter(Boolean), Array.isArray(list) ? list : [], 'No topic permissions.'));
  }
  return { refresh };
}
