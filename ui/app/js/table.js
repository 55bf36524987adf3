// Tables: a plain one for short lists, and a server-paged one for queues, exchanges,
// connections and channels that asks the API for one page at a time (page, page_size, name,
// use_regex, sort, sort_reverse), so a broker with 100,000 queues stays fast. Its state
// lives in the URL's query, so refreshes, the back button and bookmarks keep it.

import { h, replace, num } from './dom.js';

/** A table of `items`; each column is { label, cell(item), num? }. */
export function table(columns, items, empty = 'Nothing here yet.') {
  if (!items || !items.length) return h('p', { class: 'muted empty' }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'data' },
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : '' }, c.label)))),
      h('tbody', {}, items.map((item) => row(columns, item)))));
}

function row(columns, item) {
  return h('tr', {}, columns.map((c) => h('td', { class: c.num ? 'num' : '', 'data-label': c.label }, c.cell(item))));
}

/** What identifies the focused link or button inside `container`, to refocus it after a redraw. */
function focusedKey(container) {
  const el = document.activeElement;
  if (!el || !container.contains(el)) return null;
  return { tag: el.tagName, href: el.getAttribute('href'), text: el.textContent };
}

function restoreFocus(container, key) {
  if (!key) return;
  const same = [...container.querySelectorAll(key.tag)]
    .find((el) => el.getAttribute('href') === key.href && el.textContent === key.text);
  if (same) same.focus();
}

const PAGE_SIZES = [20, 50, 100, 500];

/**
 * A paged, sorted, filtered table. `load(params)` fetches one page from the API;
 * `ctx` is the router context whose query holds the state. Returns { el, refresh }.
 */
export function pagedTable({ columns, load, ctx, what = 'items', defaultSort = '' }) {
  const q = ctx.query;
  const state = {
    name: q.get('name') || '',
    regex: q.get('regex') === '1',
    page: Math.max(1, Number(q.get('page')) || 1),
    size: PAGE_SIZES.includes(Number(q.get('size'))) ? Number(q.get('size')) : 100,
    sort: q.get('sort') || defaultSort,
    reverse: q.get('rev') === '1',
  };
  let seq = 0;

  const filter = h('input', { type: 'search', name: 'filter', value: state.name, placeholder: 'Filter by name', 'aria-label': `Filter ${what} by name`, spellcheck: 'false', autocomplete: 'off' });
  const regex = h('input', { type: 'checkbox', name: 'regex', checked: state.regex });
  const size = h('select', { name: 'page_size', 'aria-label': 'Rows per page' },
    PAGE_SIZES.map((n) => h('option', { value: n, selected: n === state.size }, `${n} per page`)));
  const count = h('span', { class: 'count', 'aria-live': 'polite' });
  const thead = h('thead');
  const tbody = h('tbody');
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const status = h('div', { class: 'table-status' });

  function save(push) {
    const p = new URLSearchParams();
    if (state.name) p.set('name', state.name);
    if (state.regex) p.set('regex', '1');
    if (state.page > 1) p.set('page', String(state.page));
    if (state.size !== 100) p.set('size', String(state.size));
    if (state.sort) p.set('sort', state.sort);
    if (state.reverse) p.set('rev', '1');
    ctx.setQuery(p, push);
  }

  function header() {
    replace(thead, h('tr', {}, columns.map((c) => {
      if (!c.sort) return h('th', { scope: 'col', class: c.num ? 'num' : '' }, c.label);
      const active = state.sort === c.sort;
      const dir = active ? (state.reverse ? 'descending' : 'ascending') : null;
      return h('th', { scope: 'col', class: c.num ? 'num' : '', 'aria-sort': dir },
        h('button', {
          type: 'button',
          class: 'sort',
          'data-sort': c.sort,
          onclick: () => {
            if (state.sort === c.sort) state.reverse = !state.reverse;
            else {
              state.sort = c.sort;
              state.reverse = Boolean(c.num);
            }
            state.page = 1;
            save(true);
            header();
            const again = [...thead.querySelectorAll('button.sort')].find((b) => b.dataset.sort === c.sort);
            if (again) again.focus();
            refresh();
          },
        }, c.label, h('span', { class: 'arrow', 'aria-hidden': 'true' }, active ? (state.reverse ? ' ▼' : ' ▲') : '')));
    })));
  }

  function pageButton(label, page, disabled) {
    return h('button', {
      type: 'button',
      class: 'secondary',
      disabled,
      onclick: () => {
        state.page = page;
        save(true);
        refresh();
      },
    }, label);
  }

  async function refresh() {
    const mine = ++seq;
    const params = { page: state.page, page_size: state.size, pagination: 'true' };
    if (state.name) {
      params.name = state.name;
      params.use_regex = String(state.regex);
    }
    if (state.sort) {
      params.sort = state.sort;
      params.sort_reverse = String(state.reverse);
    }
    let data;
    try {
      data = await load(params);
    } catch (e) {
      if (mine !== seq) return;
      if (e.status === 400 && state.page > 1) {
        state.page = 1;
        save(false);
        return refresh();
      }
      replace(status, h('p', { class: 'error', role: 'alert' }, e.message));
      return;
    }
    if (mine !== seq) return;
    replace(status);
    const items = Array.isArray(data) ? data : data.items || [];
    const pages = Math.max(1, data.page_count || 1);
    if (state.page > pages) {
      state.page = pages;
      save(false);
      return refresh();
    }
    const focusKey = focusedKey(tbody);
    replace(tbody, items.length ? items.map((item) => row(columns, item))
      : h('tr', {}, h('td', { colspan: columns.length, class: 'muted empty' }, state.name ? `No ${what} match the filter.` : `No ${what}.`)));
    restoreFocus(tbody, focusKey);
    const filtered = data.filtered_count ?? items.length;
    const total = data.total_count ?? items.length;
    const first = items.length ? (state.page - 1) * state.size + 1 : 0;
    const last = items.length ? first + items.length - 1 : 0;
    replace(count, `${num(first)}–${num(last)} of ${num(filtered)}`,
      filtered !== total ? ` (filtered from ${num(total)})` : '');
    replace(pager,
      pageButton('« First', 1, state.page <= 1),
      pageButton('‹ Prev', state.page - 1, state.page <= 1),
      h('span', { class: 'page-no' }, `Page ${num(state.page)} of ${num(pages)}`),
      pageButton('Next ›', state.page + 1, state.page >= pages),
      pageButton('Last »', pages, state.page >= pages));
  }

  let debounce = null;
  filter.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      state.name = filter.value;
      state.page = 1;
      save(false);
      refresh();
    }, 250);
  });
  regex.addEventListener('change', () => {
    state.regex = regex.checked;
    state.page = 1;
    save(false);
    refresh();
  });
  size.addEventListener('change', () => {
    state.size = Number(size.value);
    state.page = 1;
    save(true);
    refresh();
  });

  header();
  const el = h('div', { class: 'paged' },
    h('div', { class: 'toolbar' }, filter, h('label', { class: 'check' }, regex, h('span', {}, 'Regex')), size, count),
    status,
    h('div', { class: 'table-wrap' }, h('table', { class: 'data' }, thead, tbody)),
    pager);
  return { el, refresh };
}
