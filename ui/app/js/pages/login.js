// The login page: checks the credentials against /api/whoami before keeping them.

import { h } from '../dom.js';
import { request } from '../api.js';
import * as session from '../session.js';
import { form, input, value } from '../forms.js';

/** Mounts the login form; `onLogin` runs after a successful login. */
export function loginPage(el, ctx, onLogin) {
  const reason = ctx.query.get('reason');
  const f = form({
    submitLabel: 'Log in',
    success: '',
    onSubmit: async (formEl) => {
      const user = value(formEl, 'username');
      const password = value(formEl, 'password');
      let me;
      try {
        me = await request('GET', '/api/whoami', { auth: session.encodeCredentials(user, password) });
      } catch (e) {
        throw new Error(e.status === 401 ? 'Login failed: wrong user name or password, or the user may not use the management UI.' : e.message);
      }
      session.store(user, password);
      formEl.reset();
      session.setTags(me && me.tags);
      await onLogin();
      const next = ctx.query.get('next');
      location.hash = next && next.startsWith('#/') && !next.startsWith('#/login') ? next : '#/';
      return false;
    },
  },
  input('Username', 'username', { required: true, autocomplete: 'username' }),
  input('Password', 'password', { type: 'password', required: true, autocomplete: 'current-password' }));
  el.append(h('div', { class: 'login' },
    h('h1', {}, 'Warren'),
    h('p', { class: 'muted' }, 'Log in with a broker user that has a management tag.'),
    reason ? h('p', { class: 'error', role: 'alert' }, reason) : null,
    f));
  const first = f.querySelector('input');
  if (first) first.focus();
  return {};
}
