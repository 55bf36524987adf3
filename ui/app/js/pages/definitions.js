// Definitions (administrators only): download the broker's or one vhost's definitions as a
// JSON file, and upload such a file.

import { h, replace } from '../dom.js';
import { get, post, apiPath } from '../api.js';
import { form, select, value } from '../forms.js';
import { section, toast } from '../widgets.js';
import { vhostNames } from './common.js';

function definitionsPath(vhost) {
  return vhost ? apiPath('definitions', vhost) : '/api/definitions';
}

function fileName(vhost) {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const scope = vhost ? `-${vhost.replace(/[^A-Za-z0-9_-]/g, '_') || 'root'}` : '';
  return `warren-definitions${scope}-${stamp}.json`;
}

/** Saves `text` as a download named `name`. */
export function saveFile(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Mounts the definitions page. */
export function definitionsPage(el) {
  const download = h('div');
  const upload = h('div');
  el.append(h('h1', {}, 'Definitions'),
    h('p', { class: 'muted' }, 'Users, virtual hosts, permissions, policies, queues, exchanges and bindings, in RabbitMQ\'s definitions format. Passwords are exported as hashes.'),
    section('Download', download),
    section('Upload', upload));
  vhostNames().then((vhosts) => {
    const scope = [['', 'All virtual hosts (the whole broker)'], ...vhosts.map((v) => [v, v])];
    replace(download, form({
      submitLabel: 'Download definitions',
      success: 'Definitions downloaded.',
      onSubmit: async (f) => {
        const vhost = value(f, 'vhost');
        let data;
        try {
          data = await get(definitionsPath(vhost));
        } catch (e) {
          if (e.status === 404 || e.status === 405) throw new Error('This broker does not export definitions.');
          throw e;
        }
        saveFile(fileName(vhost), JSON.stringify(data, null, 2));
      },
    }, select('Scope', 'vhost', scope, '')));
    replace(upload, form({
      submitLabel: 'Upload definitions',
      success: 'Definitions imported.',
      onSubmit: async (f) => {
        const file = f.elements.namedItem('file').files[0];
        if (!file) throw new Error('Choose a definitions file first.');
        const text = await file.text();
        let body;
        try {
          body = JSON.parse(text);
        } catch {
          throw new Error('That file is not JSON.');
        }
        await post(definitionsPath(value(f, 'vhost')), body);
        f.reset();
        toast('Definitions imported.');
        return false;
      },
    },
    h('label', { class: 'field' }, h('span', {}, 'Definitions file (JSON)'), h('input', { type: 'file', name: 'file', accept: '.json,application/json' })),
    select('Into', 'vhost', scope, '')));
  });
  return {};
}
