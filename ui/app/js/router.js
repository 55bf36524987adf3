// Hash routing: `#/queues/%2F/orders?name=x` → the queues page with its parameters, so the
// back button and bookmarks work. A page is `mount(ctx)` returning `{ refresh?, destroy? }`.

import { replace, hashOf } from './dom.js';
import * as refresher from './refresh.js';

const routes = [];
let current = null;
let mainEl = null;
let guard = () => null;

/** Registers a page for a pattern like 'queues/:vhost/:name'. */
export function route(pattern, mount, navKey) {
  routes.push({ parts: pattern ? pattern.split('/') : [], mount, navKey });
}

/** `guardFn(path)` may return a hash to go to instead (e.g. the login page). */
export function setGuard(guardFn) {
  guard = guardFn;
}

/** The hash split into decoded path segments and its query. */
export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?', 2);
  const segments = path ? path.split('/').map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  }) : [];
  return { segments, query: new URLSearchParams(query) };
}

function match(segments) {
  for (const r of routes) {
    if (r.parts.length !== segments.length) continue;
    const params = {};
    let ok = true;
    r.parts.forEach((p, i) => {
      if (p.startsWith(':')) params[p.slice(1)] = segments[i];
      else if (p !== segments[i]) ok = false;
    });
    if (ok) return { route: r, params };
  }
  return null;
}

/** Goes to a route given as raw segments. */
export function go(segments, query) {
  location.hash = hashOf(segments, query);
}

function setNav(navKey) {
  document.querySelectorAll('#nav a').forEach((a) => {
    if (a.dataset.nav === navKey) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
}

/** Unmounts the current page and mounts the one the hash names. */
export function render() {
  const { segments, query } = parseHash();
  const redirect = guard(segments);
  if (redirect) {
    location.replace(redirect);
    return;
  }
  if (current && current.destroy) current.destroy();
  refresher.stop();
  current = null;
  const found = match(segments);
  if (!found) {
    replace(mainEl, document.createElement('h1'));
    mainEl.firstChild.textContent = 'Not found';
    return;
  }
  setNav(found.route.navKey);
  const ctx = {
    params: found.params,
    query,
    segments,
    /** Records new query state in the URL: push (a history entry) or replace. */
    setQuery(q, push = false) {
      const hash = hashOf(segments, q);
      if (push) history.pushState(null, '', hash);
      else history.replaceState(null, '', hash);
    },
  };
  const container = document.createElement('div');
  container.className = 'page';
  replace(mainEl, container);
  // A new page starts at the top with the keyboard focus in it (pages may move it on).
  window.scrollTo(0, 0);
  mainEl.focus({ preventScroll: true });
  const page = found.route.mount(container, ctx) || {};
  current = page;
  if (page.refresh) refresher.start(page.refresh);
}

/** Starts routing into `main`. */
export function start(main) {
  mainEl = main;
  window.addEventListener('hashchange', render);
  render();
}
