// Users (administrators only): the list and "add user" form, and one user's page to change
// tags or password, set permissions, and delete. No password or hash is ever displayed.

import { h, replace, link } from '../dom.js';
import { get, put, del, apiPath } from '../api.js';
import { go } from '../router.js';
import { table } from '../table.js';
import { form, input, value, actionButton } from '../forms.js';
import { section, kvTable, errorBox, confirmAction, toast } from '../widgets.js';
import { userName } from '../session.js';
import { vhostNames } from './common.js';
import { permissionsSection } from './permissions.js';
import * as refresher from '../refresh.js';

/** The tags RabbitMQ knows, offered as a hint. */
export const KNOWN_TAGS = ['administrator', 'monitoring', 'policymaker', 'management', 'impersonator'];

function tagList(tags) {
  if (Array.isArray(tags)) return tags;
  return typeof tags === 'string' ? tags.split(',').map((t) => t.trim()).filter(Boolean) : [];
}

function tagsField(value) {
  return input('Tags (comma separated)', 'tags', { value, placeholder: KNOWN_TAGS.slice(0, 4).join(', ') });
}

/** Mounts the user list. */
export function usersPage(el) {
  const body = h('div');
  const status = h('div');
  el.append(h('h1', {}, 'Users'), status, section('All users', body), section('Add a user', form({
    submitLabel: 'Add user',
    success: 'User added.',
    onSubmit: async (f) => {
      const name = value(f, 'name');
      if (!name) throw new Error('A user needs a name.');
      const password = value(f, 'password');
      await put(apiPath('users', name), password ? { password, tags: value(f, 'tags') } : { tags: value(f, 'tags') });
      f.reset();
      refresher.now();
    },
  },
  input('Username', 'name', { required: true }),
  input('Password', 'password', { type: 'password', autocomplete: 'new-password' }),
  tagsField(''))));
  async function refresh() {
    let list;
    try {
      list = await get('/api/users');
    } catch (e) {
      replace(status, errorBox(e));
      return;
    }
    replace(status);
    replace(body, table([
      { label: 'Name', cell: (u) => link(u.name, 'users', u.name) },
      { label: 'Tags', cell: (u) => tagList(u.tags).join(', ') },
      { label: 'Can log in with a password', cell: (u) => (u.password_hash ? 'yes' : 'no') },
    ], Array.isArray(list) ? list : [], 'No users.'));
  }
  return { refresh };
}

/** Mounts one user's page. */
export function userPage(el, ctx) {
  const { name } = ctx.params;
  const status = h('div');
  const details = h('div');
  const editSlot = h('div');
  let current = null;
  const perms = permissionsSection({ user: name }, vhostNames());
  el.append(
    h('p', { class: 'crumbs' }, h('a', { href: '#/users' }, 'Users')),
    h('h1', {}, 'User ', h('span', { class: 'name', id: 'object-name' }, name)),
    status, section('Details', details), perms.el,
    section('Update this user', editSlot),
    section('Delete', h('div', { class: 'actions' }, actionButton('Delete user', async () => {
      const self = name === userName() ? ' You are logged in as this user.' : '';
      if (!await confirmAction(`Delete user "${name}"? Its connections are closed.${self}`, 'Delete')) return;
      await del(apiPath('users', name));
      toast('User deleted.');
      go(['users']);
    }, { danger: true }))));

  function editForm(tags) {
    return form({
      submitLabel: 'Update user',
      success: 'User updated.',
      onSubmit: async (f) => {
        const password = value(f, 'password');
        const body = { tags: value(f, 'tags') };
        if (password) body.password = password;
        else if (current && current.password_hash) {
          // Keeps the current password: its hash goes back unchanged and is never shown.
          body.password_hash = current.password_hash;
          body.hashing_algorithm = current.hashing_algorithm;
        }
        await put(apiPath('users', name), body);
        f.elements.namedItem('password').value = '';
        refresher.now();
      },
    },
    tagsField(tags),
    input('New password (leave empty to keep the current one)', 'password', { type: 'password', autocomplete: 'new-password' }));
  }

  async function refresh() {
    try {
      current = await get(apiPath('users', name));
    } catch (e) {
      replace(status, errorBox(e.status === 404 ? new Error('This user does not exist (any more).') : e));
      return;
    }
    replace(status);
    const tags = tagList(current.tags);
    replace(details, kvTable({ Name: current.name, Tags: tags.join(', ') || 'none', 'Can log in with a password': current.password_hash ? 'yes' : 'no' }));
    if (!editSlot.firstChild) replace(editSlot, editForm(tags.join(',')));
    await perms.refresh();
  }
  return { refresh };
}
