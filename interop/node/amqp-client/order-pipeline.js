'use strict';
// @cloudamqp/amqp-client: an order pipeline over a durable topic exchange.
//
// Inventory ("order.created.*"), payment ("order.created.*", dead-lettering to a fanout
// DLX that feeds a durable "rejected" queue) and e-mail ("order.#") each consume their own
// durable queue on their own connection, prefetch 10, manual acks. 300 persistent orders
// are published with publisher confirms (every basicPublish promise must resolve) as
// "order.created.<eu|us|ap>". Payment rejects orders with id % 7 == 3 without requeue
// (dead-lettered) and rejects order 0 once with requeue (it must come back redelivered).
// Checks: inventory and e-mail saw every id exactly once; payment completed exactly the
// good ids once each, with order 0 delivered twice (the second time redelivered); the
// rejected queue holds exactly the failing ids, each with x-death[0] = {queue: payment,
// reason: rejected, count: 1, exchange: orders, routing-keys: [original key]}; every
// queue ends empty; everything is deleted.
const assert = require('node:assert/strict');
const { unique, run } = require('interop-common');
const { connect, Progress, depth, closeQuietly, dropAll } = require('./helpers/common');

const ORDERS = 300;
const REGIONS = ['eu', 'us', 'ap'];
const failing = (id) => id % 7 === 3;
const keyOf = (id) => `order.created.${REGIONS[id % 3]}`;
const ids = [...Array(ORDERS).keys()];

run(async () => {
  const exchange = unique('amqp-client-orders');
  const dlx = unique('amqp-client-orders-dlx');
  const Q = {
    inventory: unique('amqp-client-inventory'),
    payment: unique('amqp-client-payment'),
    email: unique('amqp-client-email'),
    rejected: unique('amqp-client-rejected'),
  };
  const conns = [];
  try {
    const setup = await connect({ name: 'order-setup' });
    conns.push(setup);
    const ch = await setup.channel();
    await ch.exchangeDeclare(exchange, 'topic', { durable: true });
    await ch.exchangeDeclare(dlx, 'fanout', { durable: true });
    await ch.queueDeclare(Q.inventory, { durable: true });
    await ch.queueDeclare(Q.payment, { durable: true }, { 'x-dead-letter-exchange': dlx });
    await ch.queueDeclare(Q.email, { durable: true });
    await ch.queueDeclare(Q.rejected, { durable: true });
    await ch.queueBind(Q.inventory, exchange, 'order.created.*');
    await ch.queueBind(Q.payment, exchange, 'order.created.*');
    await ch.queueBind(Q.email, exchange, 'order.#');
    await ch.queueBind(Q.rejected, dlx, '');

    const progress = new Progress();
    const seen = { inventory: [], email: [], payment: [] };
    const paymentRedelivered = [];
    const completed = [];
    const consumers = {};
    for (const name of ['inventory', 'payment', 'email']) {
      const conn = await connect({ name: `order-${name}` });
      conns.push(conn);
      const sch = await conn.channel();
      await sch.prefetch(10);
      consumers[name] = await sch.basicConsume(Q[name], { noAck: false }, progress.guard(async (msg) => {
        const order = JSON.parse(msg.bodyToString());
        assert.equal(msg.routingKey, keyOf(order.id), `${name}: routing key of order ${order.id}`);
        assert.equal(msg.exchange, exchange);
        assert.equal(msg.properties.deliveryMode, 2, `${name}: delivery mode`);
        assert.equal(msg.properties.messageId, `order-${order.id}`);
        seen[name].push(order.id);
        if (name !== 'payment') {
          await msg.ack();
          return;
        }
        if (msg.redelivered) paymentRedelivered.push(order.id);
        if (order.id === 0 && !msg.redelivered) {
          await msg.reject(true); // comes back once, redelivered
        } else if (failing(order.id)) {
          await msg.reject(false); // dead-lettered
        } else {
          completed.push(order.id);
          await msg.ack();
        }
      }));
    }

    // Publisher confirms: each basicPublish resolves with its tag once the broker acks it.
    await ch.confirmSelect();
    const tags = await Promise.all(ids.map((id) => ch.basicPublish(exchange, keyOf(id),
      JSON.stringify({ id, region: REGIONS[id % 3], amount: 10 + id }),
      { deliveryMode: 2, messageId: `order-${id}`, contentType: 'application/json' })));
    assert.deepEqual(tags, ids.map((i) => i + 1), 'confirmed delivery tags');

    const bad = ids.filter(failing);
    const good = ids.filter((i) => !failing(i));
    await progress.until('every service to see every order', 30000, () =>
      seen.inventory.length >= ORDERS && seen.email.length >= ORDERS && seen.payment.length >= ORDERS + 1);

    // The rejected queue, consumed until it holds every failing id (dead-lettering is
    // asynchronous); then one more round trip shows nothing else arrived.
    const rejected = [];
    const rch = await setup.channel();
    const rconsumer = await rch.basicConsume(Q.rejected, { noAck: false }, progress.guard(async (msg) => {
      const order = JSON.parse(msg.bodyToString());
      rejected.push(order.id);
      assert.equal(msg.properties.messageId, `order-${order.id}`, 'dead-lettered message id');
      const deaths = msg.properties.headers && msg.properties.headers['x-death'];
      assert.ok(Array.isArray(deaths) && deaths.length === 1, `x-death of order ${order.id}: ${JSON.stringify(deaths)}`);
      const d = deaths[0];
      assert.deepEqual(
        { queue: d.queue, reason: d.reason, count: d.count, exchange: d.exchange, keys: d['routing-keys'] },
        { queue: Q.payment, reason: 'rejected', count: 1, exchange, keys: [keyOf(order.id)] },
        `x-death[0] of order ${order.id}`);
      await msg.ack();
    }));
    await progress.until('the rejected orders', 15000, () => rejected.length >= bad.length);

    for (const name of ['inventory', 'payment', 'email']) await consumers[name].cancel();
    await rconsumer.cancel();

    assert.deepEqual([...seen.inventory].sort((a, b) => a - b), ids, 'orders seen by inventory');
    assert.deepEqual([...seen.email].sort((a, b) => a - b), ids, 'orders seen by e-mail');
    assert.deepEqual([...seen.payment].sort((a, b) => a - b), [0, ...ids], 'payment deliveries');
    assert.deepEqual(paymentRedelivered, [0], 'orders redelivered to payment');
    assert.deepEqual([...completed].sort((a, b) => a - b), good, 'orders completed by payment');
    assert.deepEqual(rejected, bad, 'rejected orders, in order');

    for (const c of conns.slice(1)) await c.close();
    for (const [name, queue] of Object.entries(Q)) {
      assert.equal(await depth(ch, queue), 0, `messages left in ${name}`);
      await ch.queueDelete(queue);
    }
    await ch.exchangeDelete(exchange);
    await ch.exchangeDelete(dlx);
    await setup.close();
  } catch (err) {
    await closeQuietly(...conns);
    await dropAll({ queues: Object.values(Q), exchanges: [exchange, dlx] });
    throw err;
  }
});
