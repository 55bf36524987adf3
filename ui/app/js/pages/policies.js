// Policies (policy makers and administrators) and operator policies (administrators
// change them; everyone who sees the vhost reads them): the list with edit and delete, and
// the form that adds or changes one. The definition is a JSON object, as the API takes it.

import { h, replace, show } from '../dom.js';
import { get, put, del, apiPath } from '../api.js';
import { table } from '../table.js';
import { form, input, select, textarea, value, actionButton } from '../forms.js';
import { section, errorBox, confirmAction, toast } from '../widgets.js';
import { vhostNames, jsonObject } from './common.js';
import { canPolicy, isAdmin } from '../session.js';
import * as refresher from '../refresh.js';

const APPLY_TO = [['all', 'Exchanges and queues'], ['queues', 'Queues'], ['exchanges', 'Exchanges']];

const KINDS = {
  policies: {
    title: 'Policies', noun: 'policy', article: 'a', writable: canPolicy,
    example: '{"max-length": 1000, "dead-letter-exchange": "dlx"}',
  },
  'operator-policies': {
    title: 'Operator policies', noun: 'operator policy', article: 'an', writable: isAdmin,
    example: '{"max-length": 10000, "message-ttl": 3600000}',
  },
};

/** Mounts the policies page. */
export function policiesPage(el) {
  return policyKindPage(el, 'policies');
}

/** Mounts the operator policies page. */
export function operatorPoliciesPage(el) {
  return policyKindPage(el, 'operator-policies');
}

function policyKindPage(el, api) {
  const kind = KINDS[api];
  const writable = kind.writable();
  const body = h('div');
  const status = h('div');
  const formSlot = h('div');
  el.append(h('h1', {}, kind.title), status, section(`All ${kind.title.toLowerCase()}`, body));
  if (writable) {
    el.append(section(`Add or update ${kind.article} ${kind.noun}`,
      h('p', { class: 'muted' }, `Saving under an existing name in the same virtual host replaces that ${kind.noun}.`), formSlot));
  }

  function fill(p) {
    const f = formSlot.querySelector('form');
    if (!f) return;
    f.elements.namedItem('vhost').value = p.vhost;
    f.elements.namedItem('name').value = p.name;
    f.elements.namedItem('pattern').value = p.pattern;
    f.elements.namedItem('apply-to').value = p['apply-to'] || 'all';
    f.elements.namedItem('priority').value = String(p.priority ?? 0);
    f.elements.namedItem('definition').value = JSON.stringify(p.definition || {}, null, 2);
    f.elements.namedItem('name').focus();
  }

  if (writable) vhostNames().then((vhosts) => replace(formSlot, form({
    submitLabel: 'Save policy',
    success: 'Policy saved.',
    onSubmit: async (f) => {
      const name = value(f, 'name');
      if (!name) throw new Error('A policy needs a name.');
      const definition = jsonObject(value(f, 'definition'), 'Definition');
      if (!Object.keys(definition).length) throw new Error('The definition needs at least one key, e.g. {"max-length": 1000}.');
      await put(apiPath(api, value(f, 'vhost'), name), {
        pattern: value(f, 'pattern'),
        'apply-to': value(f, 'apply-to'),
        priority: Number(value(f, 'priority')) || 0,
        definition,
      });
      refresher.now();
    },
  },
  select('Virtual host', 'vhost', vhosts, vhosts[0]),
  input('Name', 'name', { required: true }),
  input('Pattern (regular expression)', 'pattern', { value: '.*', required: true }),
  select('Apply to', 'apply-to', APPLY_TO, 'all'),
  input('Priority', 'priority', { type: 'number', value: '0' }),
  textarea('Definition (JSON object)', 'definition', { rows: 4, placeholder: kind.example }))));

  async function refresh() {
    let list;
    try {
      list = await get(`/api/${api}`);
    } catch (e) {
      replace(status, errorBox(e));
      return;
    }
    replace(status);
    replace(body, table([
      { label: 'Virtual host', cell: (p) => p.vhost },
      { label: 'Name', cell: (p) => p.name },
      { label: 'Pattern', cell: (p) => p.pattern },
      { label: 'Apply to', cell: (p) => p['apply-to'] },
      { label: 'Definition', cell: (p) => h('code', {}, show(p.definition)) },
      { label: 'Priority', num: true, cell: (p) => String(p.priority) },
      writable ? {
        label: 'Actions',
        cell: (p) => h('div', { class: 'row-actions' },
          h('button', { type: 'button', class: 'secondary', onclick: () => fill(p) }, 'Edit'),
          actionButton('Delete', async () => {
            if (!await confirmAction(`Delete ${kind.noun} "${p.name}" in "${p.vhost}"?`, 'Delete')) return;
            await del(apiPath(api, p.vhost, p.name));
            toast('Policy deleted.');
            refresher.now();
          }, { danger: true })),
      } : null,
    ].filter(Boolean), Array.isArray(list) ? list : [], `No ${kind.title.toLowerCase()}.`));
  }
  return { refresh };
}
