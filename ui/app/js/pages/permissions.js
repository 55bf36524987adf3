// Permissions of one user or one vhost: the table with "clear", and the form that sets them.

import { h, replace, link } from '../dom.js';
import { get, put, del, apiPath } from '../api.js';
import { table } from '../table.js';
import { form, input, select, value, actionButton } from '../forms.js';
import { section, confirmAction, toast } from '../widgets.js';
import * as refresher from '../refresh.js';

/**
 * The permissions section. `fixed` is { user } or { vhost }; `choices` are the names for
 * the other side (vhosts for a user, users for a vhost).
 */
export function permissionsSection(fixed, choicesPromise) {
  const body = h('div');
  const formSlot = h('div');
  const listPath = fixed.user ? apiPath('users', fixed.user, 'permissions') : apiPath('vhosts', fixed.vhost, 'permissions');
  const el = section('Permissions', body, h('h3', {}, 'Set permission'), formSlot);
  choicesPromise.then((choices) => {
    replace(formSlot, form({
      submitLabel: 'Set permission',
      success: 'Permission set.',
      onSubmit: async (f) => {
        const user = fixed.user || value(f, 'other');
        const vhost = fixed.vhost || value(f, 'other');
        await put(apiPath('permissions', vhost, user), {
          configure: value(f, 'configure'),
          write: value(f, 'write'),
          read: value(f, 'read'),
        });
        refresher.now();
      },
    },
    select(fixed.user ? 'Virtual host' : 'User', 'other', choices, choices[0]),
    input('Configure regexp', 'configure', { value: '.*' }),
    input('Write regexp', 'write', { value: '.*' }),
    input('Read regexp', 'read', { value: '.*' })));
  });
  async function refresh() {
    const list = await get(listPath);
    replace(body, table([
      fixed.user ? { label: 'Virtual host', cell: (p) => link(p.vhost, 'vhosts', p.vhost) } : { label: 'User', cell: (p) => link(p.user, 'users', p.user) },
      { label: 'Configure', cell: (p) => p.configure },
      { label: 'Write', cell: (p) => p.write },
      { label: 'Read', cell: (p) => p.read },
      {
        label: 'Action',
        cell: (p) => actionButton('Clear', async () => {
          if (!await confirmAction(`Clear the permissions of "${p.user}" on "${p.vhost}"?`, 'Clear')) return;
          await del(apiPath('permissions', p.vhost, p.user));
          toast('Permission cleared.');
          refresher.now();
        }, { secondary: true }),
      },
    ], Array.isArray(list) ? list : [], 'No permissions.'));
  }
  return { el, refresh };
}
