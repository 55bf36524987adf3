// Periodic refresh of the current page: one call at a time, at the interval the user picks
// (kept in localStorage), paused while the tab is hidden and resumed at once when shown.
// The state shows on <html data-refresh="…">: scheduled, running, paused (hidden tab or
// interval off) or stopped.

const KEY = 'warren.refresh';
const DEFAULT_MS = 5000;

let task = null;
let timer = null;
let running = null;

/** The chosen interval in milliseconds; 0 means paused. */
export function interval() {
  const v = Number(localStorage.getItem(KEY));
  return Number.isFinite(v) && localStorage.getItem(KEY) !== null ? v : DEFAULT_MS;
}

/** Sets the interval and reschedules. */
export function setInterval(ms) {
  localStorage.setItem(KEY, String(ms));
  schedule();
}

function setState(state) {
  document.documentElement.dataset.refresh = state;
}

function schedule() {
  clearTimeout(timer);
  timer = null;
  const ms = interval();
  if (!task) {
    setState('stopped');
    return;
  }
  if (ms <= 0 || document.hidden) {
    setState('paused');
    return;
  }
  timer = setTimeout(tick, ms);
  setState('scheduled');
}

async function tick() {
  // One run at a time per page; a new page's first run never waits for the old page's.
  if (!task || running === task) return;
  const t = task;
  running = t;
  setState('running');
  try {
    await t();
  } catch (e) {
    console.warn('refresh failed', e);
  } finally {
    if (running === t) running = null;
  }
  if (t === task) schedule();
}

/** Runs `fn` now and then on the interval until stop(). */
export function start(fn) {
  task = fn;
  tick();
}

/** Refreshes now (e.g. after an action), keeping the schedule. */
export function now() {
  if (task) tick();
}

/** Stops refreshing. */
export function stop() {
  task = null;
  clearTimeout(timer);
  timer = null;
  setState('stopped');
}

document.addEventListener('visibilitychange', () => {
  if (document.hidden) {
    clearTimeout(timer);
    timer = null;
    // A run in progress finishes; schedule() then finds the tab hidden.
    if (!running) setState('paused');
  } else if (task) {
    tick();
  }
});
