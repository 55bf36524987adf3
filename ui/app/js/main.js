// Entry point: the header (navigation by the user's tags, refresh interval, logout), the
// login guard, and the routes.

import { h, replace } from './dom.js';
import * as session from './session.js';
import * as refresh from './refresh.js';
import { request, onLoginFailed } from './api.js';
import { route, start, setGuard, render } from './router.js';
import { loginPage } from './pages/login.js';
import { overviewPage } from './pages/overview.js';
import { queuesPage } from './pages/queues.js';
import { queuePage } from './pages/queue.js';
import { exchangesPage, exchangePage } from './pages/exchanges.js';
import { connectionsPage, connectionPage } from './pages/connections.js';
import { channelsPage } from './pages/channels.js';
import { usersPage, userPage } from './pages/users.js';
import { vhostsPage, vhostPage } from './pages/vhosts.js';
import { policiesPage, operatorPoliciesPage } from './pages/policies.js';
import { topicPermissionsPage } from './pages/topic_permissions.js';
import { limitsPage } from './pages/limits.js';
import { definitionsPage } from './pages/definitions.js';

const NAV = [
  ['overview', 'Overview', '#/', () => true],
  ['connections', 'Connections', '#/connections', () => true],
  ['channels', 'Channels', '#/channels', () => true],
  ['exchanges', 'Exchanges', '#/exchanges', () => true],
  ['queues', 'Queues', '#/queues', () => true],
  ['users', 'Users', '#/users', session.isAdmin],
  ['vhosts', 'Virtual hosts', '#/vhosts', session.isAdmin],
  ['policies', 'Policies', '#/policies', session.canPolicy],
  ['operator-policies', 'Operator policies', '#/operator-policies', () => true],
  ['topic-permissions', 'Topic permissions', '#/topic-permissions', session.isAdmin],
  ['limits', 'Limits', '#/limits', () => true],
  ['definitions', 'Definitions', '#/definitions', session.isAdmin],
];

/** Shows or hides the header and fills it for the logged-in user. */
export function renderChrome() {
  const top = document.getElementById('top');
  const loggedIn = Boolean(session.credentials());
  top.hidden = !loggedIn;
  if (!loggedIn) return;
  replace(document.getElementById('nav'), NAV.filter(([, , , allowed]) => allowed())
    .map(([key, label, href]) => h('a', { href, 'data-nav': key }, label)));
  const tags = session.userTags();
  replace(document.getElementById('whoami'), h('span', { class: 'user' }, session.userName()),
    tags.length ? h('span', { class: 'tags' }, ` (${tags.join(', ')})`) : '');
}

function logout(message) {
  session.clear();
  renderChrome();
  const q = message ? `?reason=${encodeURIComponent(message)}` : '';
  location.hash = `#/login${q}`;
}

route('login', (el, ctx) => loginPage(el, ctx, async () => {
  renderChrome();
}), 'login');
route('', overviewPage, 'overview');
route('queues', queuesPage, 'queues');
route('queues/:vhost/:name', queuePage, 'queues');
route('exchanges', exchangesPage, 'exchanges');
route('exchanges/:vhost/:name', exchangePage, 'exchanges');
route('connections', connectionsPage, 'connections');
route('connections/:name', connectionPage, 'connections');
route('channels', channelsPage, 'channels');
route('users', usersPage, 'users');
route('users/:name', userPage, 'users');
route('vhosts', vhostsPage, 'vhosts');
route('vhosts/:name', vhostPage, 'vhosts');
route('policies', policiesPage, 'policies');
route('operator-policies', operatorPoliciesPage, 'operator-policies');
route('topic-permissions', topicPermissionsPage, 'topic-permissions');
route('limits', limitsPage, 'limits');
route('definitions', definitionsPage, 'definitions');

setGuard((segments) => {
  const atLogin = segments[0] === 'login';
  if (!session.credentials() && !atLogin) {
    const next = location.hash && location.hash !== '#/' ? `?next=${encodeURIComponent(location.hash)}` : '';
    return `#/login${next}`;
  }
  return null;
});

onLoginFailed(() => logout('Your credentials were refused; please log in again.'));

document.getElementById('logout').addEventListener('click', () => logout());

const interval = document.getElementById('refresh-interval');
interval.value = String(refresh.interval());
if (!interval.value) interval.value = '5000';
interval.addEventListener('change', () => refresh.setInterval(Number(interval.value)));

async function boot() {
  if (session.credentials()) {
    try {
      const me = await request('GET', '/api/whoami');
      session.setTags(me && me.tags);
    } catch (e) {
      if (e.loginFailed) session.clear();
    }
  }
  renderChrome();
  start(document.getElementById('main'));
}

export { render };
boot();
