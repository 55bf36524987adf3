// Live line charts (uPlot, vendored in /ui/vendor). A chart's history lives in this module,
// keyed by what it shows, so it survives moving between pages. Points come from the API's
// `samples` when it sends them (RabbitMQ with msg_rates_age/lengths_age), otherwise from
// the current value on every refresh.

import { h } from './dom.js';

/** How much history a chart keeps, in seconds. */
export const WINDOW_SECONDS = 600;

const histories = new Map();

function historyFor(key, n) {
  let store = histories.get(key);
  if (!store || store.ys.length !== n) {
    store = { t: [], ys: Array.from({ length: n }, () => []) };
    histories.set(key, store);
  }
  return store;
}

function trim(store, now) {
  while (store.t.length && store.t[0] < now - WINDOW_SECONDS) {
    store.t.shift();
    store.ys.forEach((y) => y.shift());
  }
}

/**
 * Per-second rates from RabbitMQ's cumulative samples ([{sample, timestamp}], newest
 * first): one point per interval, at its end.
 */
export function ratesFromSamples(samples) {
  if (!Array.isArray(samples) || samples.length < 2) return null;
  const asc = samples.slice().sort((a, b) => a.timestamp - b.timestamp);
  const t = [];
  const y = [];
  for (let i = 1; i < asc.length; i += 1) {
    const dt = (asc[i].timestamp - asc[i - 1].timestamp) / 1000;
    if (dt <= 0) continue;
    t.push(asc[i].timestamp / 1000);
    y.push(Math.max(0, (asc[i].sample - asc[i - 1].sample) / dt));
  }
  return { t, y };
}

/** Values from RabbitMQ's length samples, oldest first. */
export function valuesFromSamples(samples) {
  if (!Array.isArray(samples) || samples.length < 2) return null;
  const asc = samples.slice().sort((a, b) => a.timestamp - b.timestamp);
  return { t: asc.map((s) => s.timestamp / 1000), y: asc.map((s) => s.sample) };
}

/**
 * A line chart in `container`. `series`: [{ label, stroke }]. Returns { el, push(values),
 * useSamples(list), destroy() }; `fmt` formats axis and legend values; `floor` is the
 * least top of the y axis.
 */
export function lineChart({ key, title, series, fmt = (v) => String(v), floor = 1 }) {
  const store = historyFor(key, series.length);
  const box = h('div', { class: 'chart', role: 'img', 'aria-label': title });
  const el = h('figure', { class: 'chart-figure' }, h('figcaption', {}, title), box);
  const U = globalThis.uPlot;
  let plot = null;
  let observer = null;

  function data() {
    return [store.t, ...store.ys];
  }

  function build() {
    if (!U || plot) return;
    const width = Math.max(200, box.clientWidth || 600);
    plot = new U({
      width,
      height: 180,
      scales: {
        x: { time: true },
        y: { range: (u, min, max) => [0, Math.max(floor, (max || 0) * 1.1)] },
      },
      series: [{}, ...series.map((s) => ({
        label: s.label,
        stroke: s.stroke,
        width: 2,
        points: { show: false },
        value: (u, v) => (v === null || v === undefined ? '–' : fmt(v)),
      }))],
      axes: [{ stroke: '#667' }, { stroke: '#667', size: 60, values: (u, vals) => vals.map((v) => fmt(v)) }],
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
    }, data(), box);
    observer = new ResizeObserver(() => {
      if (plot && box.clientWidth) plot.setSize({ width: box.clientWidth, height: 180 });
    });
    observer.observe(box);
  }

  function redraw() {
    if (!plot) build();
    else plot.setData(data());
    box.dataset.points = String(store.t.length);
    const last = store.t[store.t.length - 1];
    if (plot && last !== undefined) {
      // The window grows with the history, from 30 s up to WINDOW_SECONDS.
      const min = Math.min(Math.max(store.t[0], last - WINDOW_SECONDS), last - 30);
      plot.setScale('x', { min, max: last });
    }
  }

  return {
    el,
    /** Adds the current values at the current time. */
    push(values) {
      const now = Date.now() / 1000;
      store.t.push(now);
      values.forEach((v, i) => store.ys[i].push(typeof v === 'number' ? v : null));
      trim(store, now);
      redraw();
    },
    /** Replaces the history with series from API samples ({t, y} per series). */
    useSamples(list) {
      const base = list[0];
      store.t = base.t.slice();
      store.ys = list.map((s) => (s && s.y.length === base.t.length ? s.y.slice() : base.t.map(() => null)));
      redraw();
    },
    /** Draws the chart once it is in the document (it needs a width). */
    attach() {
      redraw();
    },
    destroy() {
      if (observer) observer.disconnect();
      if (plot) plot.destroy();
      plot = null;
    },
  };
}
