// The overview: node health and alarms, object and message totals, live charts of message
// rates and queued messages, and the listeners.

import { h, replace, num, rate, bytes, duration, statRate } from '../dom.js';
import { get } from '../api.js';
import { lineChart, ratesFromSamples, valuesFromSamples, WINDOW_SECONDS } from '../charts.js';
import { table } from '../table.js';
import { section, tile, errorBox } from '../widgets.js';

/** The message rates charted and listed, as [id, label, colour, keys summed]. */
export const RATES = [
  ['publish', 'Publish', '#2f7ed8', ['publish']],
  ['deliver', 'Deliver / get', '#3a9d5d', ['deliver_get']],
  ['ack', 'Ack', '#8e44ad', ['ack']],
  ['redeliver', 'Redeliver', '#e08e0b', ['redeliver']],
  ['unroutable', 'Unroutable', '#c0392b', ['drop_unroutable', 'return_unroutable']],
];

function sumRates(stats, keys) {
  const vals = keys.map((k) => statRate(stats, k)).filter((v) => v !== undefined);
  return vals.length ? vals.reduce((a, b) => a + b, 0) : 0;
}

function sampledRates(stats) {
  const list = RATES.map(([, , , keys]) => {
    const d = stats && stats[`${keys[0]}_details`];
    return d ? ratesFromSamples(d.samples) : null;
  });
  return list[0] ? list : null;
}

/** Mounts the overview page. */
export function overviewPage(el) {
  const rateChart = lineChart({
    key: 'overview-rates',
    title: `Message rates (last ${WINDOW_SECONDS / 60} minutes)`,
    series: RATES.map(([, label, stroke]) => ({ label, stroke })),
    fmt: (v) => rate(v),
  });
  const depthChart = lineChart({
    key: 'overview-depth',
    title: 'Queued messages',
    series: [{ label: 'Ready', stroke: '#2f7ed8' }, { label: 'Unacked', stroke: '#e08e0b' }, { label: 'Total', stroke: '#556' }],
    fmt: (v) => num(Math.round(v)),
    floor: 5,
  });
  const health = h('div', { class: 'health' });
  const totals = h('div', { class: 'tiles' });
  const rates = h('div', { class: 'tiles' });
  const nodes = h('div');
  const listeners = h('div');
  const status = h('div');
  el.append(
    h('h1', {}, 'Overview'),
    status,
    health,
    section('Totals', totals),
    section('Message rates', rates, h('div', { class: 'charts' }, rateChart.el, depthChart.el)),
    section('Nodes', nodes),
    section('Listeners', listeners),
  );

  async function refresh() {
    let ov;
    try {
      ov = await get('/api/overview', { lengths_age: WINDOW_SECONDS, lengths_incr: 5, msg_rates_age: WINDOW_SECONDS, msg_rates_incr: 5 });
    } catch (e) {
      replace(status, errorBox(e));
      return;
    }
    replace(status);
    const ot = ov.object_totals || {};
    const qt = ov.queue_totals || {};
    const stats = ov.message_stats || {};
    replace(totals,
      tile('Connections', num(ot.connections ?? 0), 'total-connections'),
      tile('Channels', num(ot.channels ?? 0), 'total-channels'),
      tile('Exchanges', num(ot.exchanges ?? 0), 'total-exchanges'),
      tile('Queues', num(ot.queues ?? 0), 'total-queues'),
      tile('Consumers', num(ot.consumers ?? 0), 'total-consumers'),
      tile('Ready', num(qt.messages_ready ?? 0), 'total-ready'),
      tile('Unacked', num(qt.messages_unacknowledged ?? 0), 'total-unacked'),
      tile('Total messages', num(qt.messages ?? 0), 'total-messages'));
    const current = RATES.map(([, , , keys]) => sumRates(stats, keys));
    replace(rates, RATES.map(([id, label], i) => tile(label, rate(current[i]), `rate-${id}`)));
    const sampled = sampledRates(stats);
    if (sampled && sampled.every(Boolean)) rateChart.useSamples(sampled);
    else rateChart.push(current);
    const lens = ['messages_ready', 'messages_unacknowledged', 'messages'].map((k) => valuesFromSamples((qt[`${k}_details`] || {}).samples));
    if (lens.every(Boolean)) depthChart.useSamples(lens);
    else depthChart.push([qt.messages_ready ?? 0, qt.messages_unacknowledged ?? 0, qt.messages ?? 0]);

    replace(listeners, table([
      { label: 'Protocol', cell: (l) => l.protocol },
      { label: 'Address', cell: (l) => l.ip_address },
      { label: 'Port', cell: (l) => String(l.port), num: true },
    ], ov.listeners || []));

    let nodeList = [];
    let alarms = null;
    try {
      nodeList = await get('/api/nodes');
    } catch (e) {
      replace(nodes, h('p', { class: 'muted' }, `Node details need the monitoring tag (${e.message}).`));
    }
    try {
      alarms = await get('/api/health/checks/alarms');
    } catch (e) {
      alarms = { status: 'failed', reason: e.message };
    }
    const raised = [];
    for (const n of nodeList) {
      if (n.mem_alarm) raised.push(`Memory alarm on ${n.name}`);
      if (n.disk_free_alarm) raised.push(`Disk alarm on ${n.name}`);
    }
    if (alarms && alarms.status !== 'ok' && !raised.length && alarms.reason) raised.push(alarms.reason);
    replace(health, h('div', { class: `banner ${raised.length ? 'bad' : 'good'}`, id: 'health', role: 'status' },
      raised.length ? raised.join('; ') : `Healthy: ${ov.node || 'node'} runs ${ov.product_name || 'Warren'} (RabbitMQ ${ov.rabbitmq_version || '?'} API), no alarms.`));
    if (nodeList.length) {
      replace(nodes, table([
        { label: 'Name', cell: (n) => n.name },
        { label: 'Running', cell: (n) => (n.running === false ? 'no' : 'yes') },
        { label: 'Memory', cell: (n) => `${bytes(n.mem_used)} of ${bytes(n.mem_limit)}`, num: true },
        { label: 'Disk free', cell: (n) => `${bytes(n.disk_free)} (limit ${bytes(n.disk_free_limit)})`, num: true },
        { label: 'File descriptors', cell: (n) => `${num(n.fd_used)} / ${num(n.fd_total)}`, num: true },
        { label: 'Uptime', cell: (n) => duration(n.uptime), num: true },
        { label: 'Alarms', cell: (n) => [n.mem_alarm && 'memory', n.disk_free_alarm && 'disk'].filter(Boolean).join(', ') || 'none' },
      ], nodeList));
    }
  }

  return {
    refresh,
    destroy() {
      rateChart.destroy();
      depthChart.destroy();
    },
  };
}
