// Virtual hosts (administrators only): list, add, delete, and one vhost's permissions.

import { h, replace, num, link } from '../dom.js';
import { get, put, del, apiPath } from '../api.js';
import { go } from '../router.js';
import { table } from '../table.js';
import { form, input, value, actionButton } from '../forms.js';
import { section, kvTable, errorBox, confirmAction, toast } from '../widgets.js';
import { permissionsSection } from './permissions.js';
import * as refresher from '../refresh.js';

async function userNames() {
  try {
    const list = await get('/api/users');
    return (Array.isArray(list) ? list : []).map((u) => u.name);
  } catch {
    return [];
  }
}

/** Mounts the vhost list. */
export function vhostsPage(el) {
  const body = h('div');
  const status = h('div');
  el.append(h('h1', {}, 'Virtual hosts'), status, section('All virtual hosts', body), section('Add a virtual host', form({
    submitLabel: 'Add virtual host',
    success: 'Virtual host added.',
    onSubmit: async (f) => {
      const name = value(f, 'name');
      if (!name) throw new Error('A virtual host needs a name.');
      const description = value(f, 'description');
      await put(apiPath('vhosts', name), description ? { description } : {});
      f.reset();
      refresher.now();
    },
  }, input('Name', 'name', { required: true }), input('Description', 'description'))));
  async function refresh() {
    let list;
    try {
      list = await get('/api/vhosts');
    } catch (e) {
      replace(status, errorBox(e));
      return;
    }
    replace(status);
    replace(body, table([
      { label: 'Name', cell: (v) => link(v.name, 'vhosts', v.name) },
      { label: 'Description', cell: (v) => v.description || '' },
      { label: 'Ready', num: true, cell: (v) => num(v.messages_ready) },
      { label: 'Unacked', num: true, cell: (v) => num(v.messages_unacknowledged) },
      { label: 'Total', num: true, cell: (v) => num(v.messages) },
    ], Array.isArray(list) ? list : list.items || [], 'No virtual hosts.'));
  }
  return { refresh };
}

/** Mounts one vhost's page. */
export function vhostPage(el, ctx) {
  const { name } = ctx.params;
  const status = h('div');
  const details = h('div');
  const perms = permissionsSection({ vhost: name }, userNames());
  el.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/vhosts' }, 'Virtual hosts')),
    h('h1', {}, 'Virtual host ', h('span', { class: 'name', id: 'object-name' }, name)),
    status, section('Details', details), perms.el,
    section('Delete', h('div', { class: 'actions' }, actionButton('Delete virtual host', async () => {
      if (!await confirmAction(`Delete virtual host "${name}" with all its queues, exchanges and messages? Its connections are closed.`, 'Delete')) return;
      await del(apiPath('vhosts', name));
      toast('Virtual host deleted.');
      go(['vhosts']);
    }, { danger: true }))));
  async function refresh() {
    let v;
    try {
      v = await get(apiPath('vhosts', name));
    } catch (e) {
      replace(status, errorBox(e.status === 404 ? new Error('This virtual host does not exist (any more).') : e));
      return;
    }
    replace(status);
    replace(details, kvTable({
      Name: v.name,
      Description: v.description || '',
      Tags: Array.isArray(v.tags) ? v.tags.join(', ') : v.tags,
      Messages: num(v.messages),
      Ready: num(v.messages_ready),
      Unacked: num(v.messages_unacknowledged),
    }));
    await perms.refresh();
  }
  return { refresh };
}
