'use strict';
// amqplib, promise API: an order pipeline over a durable topic exchange, with rejects and a
// dead-letter exchange (scenario A of the interop catalogue).
//
// Topology (all durable, uniquely named): topic exchange "orders"; queues inventory and
// payment bound "order.created.*", e-mail bound "order.#"; payment has
// x-dead-letter-exchange = a fanout DLX feeding a "rejected" queue.
// 300 persistent orders are published with publisher confirms (every confirm callback must
// report an ack) as "order.created.<eu|us|ap>". Each service has its own connection,
// prefetch 10 and manual acks: inventory and e-mail ack everything; payment rejects orders
// with id % 7 == 3 without requeue (dead-lettered) and rejects order 0 once with requeue
// (it must come back flagged redelivered, and is then processed).
// Checks: inventory and e-mail saw every id exactly once; payment completed exactly the
// non-failing ids once each (order 0 delivered twice); "rejected" holds exactly the failing
// ids, in order, each with x-death[0] = {queue: payment, reason: rejected, count: 1,
// exchange: orders, routing-keys: [original key]}; every queue ends empty.
const assert = require('node:assert/strict');
const amqplib = require('amqplib');
const { amqpUri, unique, Monitor, deleteAll, run } = require('interop-common');

const ORDERS = 300;
const REGIONS = ['eu', 'us', 'ap'];
const failing = (id) => id % 7 === 3;
const keyOf = (id) => `order.created.${REGIONS[id % 3]}`;

const EXCHANGE = unique('orders');
const DLX = unique('orders-dlx');
const Q = {
  inventory: unique('orders-inventory'),
  payment: unique('orders-payment'),
  email: unique('orders-email'),
  rejected: unique('orders-rejected'),
};

async function declare(ch) {
  await ch.assertExchange(EXCHANGE, 'topic', { durable: true });
  await ch.assertExchange(DLX, 'fanout', { durable: true });
  await ch.assertQueue(Q.inventory, { durable: true });
  await ch.assertQueue(Q.payment, { durable: true, deadLetterExchange: DLX });
  await ch.assertQueue(Q.email, { durable: true });
  await ch.assertQueue(Q.rejected, { durable: true });
  await ch.bindQueue(Q.inventory, EXCHANGE, 'order.created.*');
  await ch.bindQueue(Q.payment, EXCHANGE, 'order.created.*');
  await ch.bindQueue(Q.email, EXCHANGE, 'order.#');
  await ch.bindQueue(Q.rejected, DLX, '');
}

function checkOrder(msg) {
  const order = JSON.parse(msg.content.toString());
  assert.equal(msg.properties.contentType, 'application/json');
  assert.equal(msg.properties.deliveryMode, 2);
  assert.equal(msg.properties.messageId, `order-${order.id}`);
  assert.equal(msg.fields.exchange, EXCHANGE);
  assert.equal(msg.fields.routingKey, keyOf(order.id));
  return order;
}

// One service: its own connection and channel, prefetch 10, manual acks.
async function startService(name, monitor, state) {
  const conn = await amqplib.connect(amqpUri());
  const ch = await conn.createChannel();
  await ch.prefetch(10);
  await ch.consume(Q[name], monitor.guard((msg) => {
    assert.ok(msg, `${name}: consumer cancelled by the broker`);
    const order = checkOrder(msg);
    state.deliveries[name].push(order.id);
    if (msg.fields.redelivered) state.redelivered[name].push(order.id);
    if (name === 'payment') {
      if (order.id === 0 && !msg.fields.redelivered) {
        ch.reject(msg, true); // once, with requeue: must come back redelivered
        return;
      }
      if (failing(order.id)) {
        ch.reject(msg, false); // dead-lettered
        state.failed.push(order.id);
        return;
      }
      state.completed.push(order.id);
    }
    ch.ack(msg);
  }), { noAck: false });
  return { conn, ch };
}

run(async () => {
  const setup = await amqplib.connect(amqpUri());
  const ch = await setup.createConfirmChannel();
  await declare(ch);

  const monitor = new Monitor();
  const state = {
    deliveries: { inventory: [], payment: [], email: [] },
    redelivered: { inventory: [], payment: [], email: [] },
    completed: [],
    failed: [],
  };
  const services = [];
  for (const name of ['inventory', 'payment', 'email']) {
    services.push(await startService(name, monitor, state));
  }

  // Publish every order once, persistent, each confirm counted.
  const confirms = new Array(ORDERS).fill(0);
  const nacks = [];
  for (let id = 0; id < ORDERS; id++) {
    const body = Buffer.from(JSON.stringify({ id, region: REGIONS[id % 3], amount: 10 + id }));
    ch.publish(EXCHANGE, keyOf(id), body, {
      persistent: true, contentType: 'application/json', messageId: `order-${id}`,
    }, (err) => {
      if (err) nacks.push(id);
      else confirms[id] += 1;
    });
  }
  await ch.waitForConfirms();
  assert.deepEqual(nacks, [], 'orders nacked by the broker');
  assert.ok(confirms.every((n) => n === 1), 'every order confirmed exactly once');

  const ids = [...Array(ORDERS).keys()];
  const good = ids.filter((id) => !failing(id));
  const bad = ids.filter(failing);
  await monitor.until('every service to finish', 30000, () =>
    state.deliveries.inventory.length >= ORDERS && state.deliveries.email.length >= ORDERS
    && state.completed.length + state.failed.length >= ORDERS);

  // Closing a service's channel is a handshake behind its acks on the same channel: they
  // have been processed by then (an unacked delivery would be requeued and show up in the
  // counts below). (Closing only the connection may let amqplib send connection.close
  // ahead of acks still queued on the channel.)
  for (const { conn, ch: sch } of services) {
    await sch.close();
    await conn.close();
  }

  const sorted = (xs) => [...xs].sort((a, b) => a - b);
  assert.deepEqual(sorted(state.deliveries.inventory), ids, 'inventory saw every order once');
  assert.deepEqual(sorted(state.deliveries.email), ids, 'e-mail saw every order once');
  assert.deepEqual(sorted(state.completed), good, 'payment completed each good order once');
  assert.deepEqual(sorted(state.failed), bad, 'payment failed each bad order once');
  assert.deepEqual(sorted(state.deliveries.payment), [0, ...ids], 'payment deliveries (order 0 twice)');
  assert.deepEqual(state.redelivered.payment, [0], 'redelivered to payment');
  assert.deepEqual(state.redelivered.inventory, [], 'redelivered to inventory');
  assert.deepEqual(state.redelivered.email, [], 'redelivered to e-mail');

  // The dead-lettered orders: consume "rejected" until every failing order is there.
  const rejected = [];
  await ch.prefetch(50);
  const { consumerTag } = await ch.consume(Q.rejected, monitor.guard((msg) => {
    assert.ok(msg, 'rejected: consumer cancelled by the broker');
    const order = JSON.parse(msg.content.toString());
    assert.equal(msg.properties.messageId, `order-${order.id}`);
    const deaths = msg.properties.headers['x-death'];
    assert.ok(Array.isArray(deaths) && deaths.length === 1, `x-death of order ${order.id}: ${JSON.stringify(deaths)}`);
    const d = deaths[0];
    assert.deepEqual(
      { queue: d.queue, reason: d.reason, count: d.count, exchange: d.exchange, keys: d['routing-keys'] },
      { queue: Q.payment, reason: 'rejected', count: 1, exchange: EXCHANGE, keys: [keyOf(order.id)] },
      `x-death[0] of order ${order.id}`);
    assert.equal(msg.fields.exchange, DLX, 'dead-lettered through the DLX');
    assert.equal(msg.fields.routingKey, keyOf(order.id), 'dead-lettered with its original key');
    rejected.push(order.id);
    ch.ack(msg);
  }));
  await monitor.until('every failing order in the rejected queue', 15000, () => rejected.length >= bad.length);
  await ch.cancel(consumerTag);
  assert.deepEqual(rejected, bad, 'rejected orders, in order');

  for (const [name, queue] of Object.entries(Q)) {
    const { messageCount } = await ch.checkQueue(queue);
    assert.equal(messageCount, 0, `messages left in ${name}`);
    await ch.deleteQueue(queue);
  }
  await ch.deleteExchange(EXCHANGE);
  await ch.deleteExchange(DLX);
  await setup.close();
}, 60000, () => deleteAll({ queues: Object.values(Q), exchanges: [EXCHANGE, DLX] }));
