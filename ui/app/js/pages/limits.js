// Limits: per-vhost (max-connections, max-queues) and per-user (max-connections,
// max-channels). Administrators list, set and clear them; other users see the limits of the
// vhosts they can reach, read-only.

import { h, replace, link } from '../dom.js';
import { get, put, del, apiPath } from '../api.js';
import { table } from '../table.js';
import { form, input, select, value, actionButton } from '../forms.js';
import { section, errorBox, confirmAction, toast } from '../widgets.js';
import { vhostNames } from './common.js';
import { isAdmin } from '../session.js';
import * as refresher from '../refresh.js';

const VHOST_LIMITS = ['max-connections', 'max-queues'];
const USER_LIMITS = ['max-connections', 'max-channels'];

/** One row per (owner, limit) from the API's [{vhost|user, value: {name: n}}]. */
function rows(list, ownerKey) {
  const out = [];
  for (const entry of Array.isArray(list) ? list : []) {
    for (const [name, limit] of Object.entries(entry.value || {})) {
      out.push({ owner: entry[ownerKey], name, limit });
    }
  }
  return out;
}

function limitForm({ ownerLabel, owners, names, api, noun }) {
  return form({
    submitLabel: 'Set limit',
    success: `${noun} limit set.`,
    onSubmit: async (f) => {
      const raw = value(f, 'value').trim();
      if (!/^-?\d+$/.test(raw)) throw new Error('The limit is a whole number (-1 removes the cap).');
      await put(apiPath(api, value(f, 'owner'), value(f, 'name')), { value: Number(raw) });
      refresher.now();
    },
  },
  select(ownerLabel, 'owner', owners, owners[0]),
  select('Limit', 'name', names, names[0]),
  input('Value', 'value', { type: 'number', required: true, placeholder: '100' }));
}

function limitsTable(items, { ownerLabel, ownerRoute, api, writable }) {
  return table([
    { label: ownerLabel, cell: (r) => link(r.owner, ownerRoute, r.owner) },
    { label: 'Limit', cell: (r) => r.name },
    { label: 'Value', num: true, cell: (r) => String(r.limit) },
    writable ? {
      label: 'Action',
      cell: (r) => actionButton('Clear', async () => {
        if (!await confirmAction(`Clear ${r.name} of "${r.owner}"?`, 'Clear')) return;
        await del(apiPath(api, r.owner, r.name));
        toast('Limit cleared.');
        refresher.now();
      }, { secondary: true }),
    } : null,
  ].filter(Boolean), items, 'No limits set.');
}

/** Mounts the limits page. */
export function limitsPage(el) {
  const admin = isAdmin();
  const status = h('div');
  const vhostBody = h('div');
  const userBody = h('div');
  const vhostForm = h('div');
  const userForm = h('div');
  el.append(h('h1', {}, 'Limits'), status,
    section('Virtual host limits', vhostBody, admin ? h('h3', {}, 'Set a virtual host limit') : null, vhostForm));
  if (admin) {
    el.append(section('User limits', userBody, h('h3', {}, 'Set a user limit'), userForm));
    vhostNames().then((vhosts) => replace(vhostForm, limitForm({
      ownerLabel: 'Virtual host', owners: vhosts, names: VHOST_LIMITS, api: 'vhost-limits', noun: 'Virtual host',
    })));
    get('/api/users').then((users) => replace(userForm, limitForm({
      ownerLabel: 'User', owners: (users || []).map((u) => u.name), names: USER_LIMITS, api: 'user-limits', noun: 'User',
    }))).catch((e) => replace(userForm, errorBox(e)));
  }

  async function vhostLimits() {
    if (admin) return get('/api/vhost-limits');
    // Other users read the limits of each vhost they can reach.
    const names = await vhostNames();
    const lists = await Promise.all(names.map((n) => get(apiPath('vhost-limits', n)).catch(() => [])));
    return lists.flat();
  }

  async function refresh() {
    try {
      const [vl, ul] = await Promise.all([vhostLimits(), admin ? get('/api/user-limits') : []]);
      replace(status);
      replace(vhostBody, limitsTable(rows(vl, 'vhost'), { ownerLabel: 'Virtual host', ownerRoute: 'vhosts', api: 'vhost-limits', writable: admin }));
      if (admin) replace(userBody, limitsTable(rows(ul, 'user'), { ownerLabel: 'User', ownerRoute: 'users', api: 'user-limits', writable: admin }));
    } catch (e) {
      replace(status, errorBox(e));
    }
  }
  return { refresh };
}
