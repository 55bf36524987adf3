'use strict';
// amqplib, callback API: an order pipeline over a durable topic exchange, with dead-lettering.
//
// Topology (durable, uniquely named): topic exchange "orders"; queues inventory
// ("order.created.*"), payment ("order.created.*", x-dead-letter-exchange = a fanout DLX)
// and email ("order.#"); the DLX feeds a durable "rejected" queue.
// The order API publishes 300 persistent JSON orders as "order.created.<eu|us|ap>" on a
// ConfirmChannel; every confirm must be an ack. Each service has its own connection,
// prefetch 10 and manual acks: inventory and email ack everything; payment rejects orders
// with id % 7 == 3 without requeue (dead-lettered), and rejects order 0 once with requeue
// (it must come back with redelivered=true and is then completed). A consumer on "rejected"
// collects the dead letters.
// Checks: inventory and email each saw ids 0..299 exactly once; payment got 301 deliveries
// (order 0 twice, the second redelivered) and completed exactly the non-failing ids once;
// "rejected" got exactly the failing ids, each with x-death[0] = {queue: payment, reason:
// rejected, count: 1, exchange: orders, routing-keys: [original key]} and its original
// properties; all queues end empty; everything is deleted.
const assert = require('node:assert/strict');
const amqplib = require('amqplib/callback_api');
const { amqpUri, unique, run } = require('interop-common');
const { scenario } = require('./helpers/callbacks');

const ORDERS = 300;
const REGIONS = ['eu', 'us', 'ap'];
const failing = (id) => id % 7 === 3;
const keyOf = (id) => `order.created.${REGIONS[id % 3]}`;
const range = (n) => [...Array(n).keys()];

run(scenario(({ ok, guard, fail, done, within, owned }) => {
  const orders = unique('amqplib-cb-orders');
  const dlx = unique('amqplib-cb-orders-dlx');
  const Q = {
    inventory: unique('amqplib-cb-inventory'),
    payment: unique('amqplib-cb-payment'),
    email: unique('amqplib-cb-email'),
    rejected: unique('amqplib-cb-rejected'),
  };
  const seen = { inventory: [], email: [], paymentDeliveries: [], paid: [], rejected: [] };
  const expectedPaid = range(ORDERS).filter((id) => !failing(id));
  const expectedRejected = range(ORDERS).filter(failing);
  const connections = [];
  let deadline = null;

  amqplib.connect(amqpUri(), ok((conn) => {
    conn.on('error', fail);
    conn.createChannel(ok((ch) => {
      ch.on('error', fail);
      owned.exchanges.push(orders, dlx);
      owned.queues.push(...Object.values(Q));
      ch.assertExchange(orders, 'topic', { durable: true });
      ch.assertExchange(dlx, 'fanout', { durable: true });
      ch.assertQueue(Q.inventory, { durable: true });
      ch.assertQueue(Q.payment, { durable: true, deadLetterExchange: dlx });
      ch.assertQueue(Q.email, { durable: true });
      ch.assertQueue(Q.rejected, { durable: true });
      ch.bindQueue(Q.inventory, orders, 'order.created.*');
      ch.bindQueue(Q.payment, orders, 'order.created.*');
      ch.bindQueue(Q.email, orders, 'order.#');
      ch.bindQueue(Q.rejected, dlx, '', {}, ok(() => {
        deadline = within(30000, 'every order to be processed');
        startServices(conn, ch, 0);
      }));
    }));
  }));

  // One connection per service (and one for the dead-letter reader), started in turn.
  const SERVICES = ['inventory', 'payment', 'email', 'rejected'];
  function startServices(conn, ch, n) {
    if (n === SERVICES.length) return publishOrders(conn, ch);
    const name = SERVICES[n];
    return amqplib.connect(amqpUri(), ok((sconn) => {
      sconn.on('error', fail);
      sconn.createChannel(ok((sch) => {
        sch.on('error', fail);
        connections.push([sconn, sch]);
        sch.prefetch(10);
        sch.consume(Q[name], guard((msg) => {
          assert.ok(msg, `${name}: consumer cancelled by the broker`);
          handle(name, sch, msg);
          checkFinished(conn, ch);
        }), { noAck: false }, ok(() => startServices(conn, ch, n + 1)));
      }));
    }));
  }

  function handle(name, sch, msg) {
    const order = JSON.parse(msg.content.toString());
    assert.equal(msg.properties.deliveryMode, 2, 'persistent');
    assert.equal(msg.properties.contentType, 'application/json');
    assert.equal(msg.properties.messageId, `order-${order.id}`);
    if (name === 'inventory' || name === 'email') {
      assert.equal(msg.fields.routingKey, keyOf(order.id), `${name}: routing key`);
      seen[name].push(order.id);
      sch.ack(msg);
    } else if (name === 'payment') {
      seen.paymentDeliveries.push([order.id, msg.fields.redelivered]);
      if (order.id === 0 && !msg.fields.redelivered) {
        sch.reject(msg, true); // once, with requeue: it must come back redelivered
      } else if (failing(order.id)) {
        sch.reject(msg, false); // dead-lettered
      } else {
        seen.paid.push(order.id);
        sch.ack(msg);
      }
    } else {
      const death = msg.properties.headers && msg.properties.headers['x-death'];
      assert.ok(Array.isArray(death) && death.length === 1, `x-death header of order ${order.id}: ${JSON.stringify(death)}`);
      const d = death[0];
      assert.deepEqual(
        { queue: d.queue, reason: d.reason, count: d.count, exchange: d.exchange, keys: d['routing-keys'] },
        { queue: Q.payment, reason: 'rejected', count: 1, exchange: orders, keys: [keyOf(order.id)] },
        `x-death[0] of order ${order.id}`);
      assert.equal(msg.fields.exchange, dlx, 'dead letters come through the DLX');
      seen.rejected.push(order.id);
      sch.ack(msg);
    }
  }

  function publishOrders(conn, ch) {
    conn.createConfirmChannel(ok((pub) => {
      pub.on('error', fail);
      let acked = 0;
      for (let id = 0; id < ORDERS; id++) {
        const body = JSON.stringify({ id, region: REGIONS[id % 3], amount: 10 + id });
        pub.publish(orders, keyOf(id), Buffer.from(body), {
          persistent: true, contentType: 'application/json', messageId: `order-${id}`,
        }, ok(() => {
          acked += 1;
        }));
      }
      pub.waitForConfirms(ok(() => {
        assert.equal(acked, ORDERS, 'orders confirmed (acked) by the broker');
        allConfirmed = true;
        pub.close(ok(() => checkFinished(conn, ch)));
      }));
    }));
  }

  let allConfirmed = false;
  let checking = false;
  function checkFinished(conn, ch) {
    if (checking || !allConfirmed) return;
    if (seen.inventory.length < ORDERS || seen.email.length < ORDERS
      || seen.paid.length < expectedPaid.length || seen.rejected.length < expectedRejected.length) return;
    checking = true;
    deadline.clear();
    const sorted = (xs) => [...xs].sort((a, b) => a - b);
    assert.deepEqual(sorted(seen.inventory), range(ORDERS), 'orders seen by inventory (each once)');
    assert.deepEqual(sorted(seen.email), range(ORDERS), 'orders seen by email (each once)');
    assert.deepEqual(sorted(seen.paid), expectedPaid, 'orders completed by payment (each once)');
    assert.deepEqual(sorted(seen.rejected), expectedRejected, 'orders dead-lettered to rejected');
    const deliveries = seen.paymentDeliveries;
    assert.deepEqual(sorted(deliveries.map(([id]) => id)), sorted([0, ...range(ORDERS)]), 'payment deliveries');
    assert.deepEqual(deliveries.filter(([id]) => id === 0).map(([, r]) => r), [false, true],
      'order 0 delivered to payment, then redelivered');
    assert.deepEqual(deliveries.filter(([, r]) => r).map(([id]) => id), [0], 'redelivered orders');
    // Close each service's channel, then its connection: the channel.close goes out after
    // the channel's acks, so once it is confirmed every ack has been processed. (amqplib
    // sends connection.close on channel 0's own buffer, which can overtake frames still
    // queued on other channels.)
    closeAll(connections, () => checkEmpty(conn, ch, Object.keys(Q)));
  }

  function closeAll(services, k) {
    if (services.length === 0) return k();
    const [sconn, sch] = services[0];
    return sch.close(ok(() => sconn.close(ok(() => closeAll(services.slice(1), k)))));
  }

  function checkEmpty(conn, ch, names) {
    if (names.length === 0) {
      return ch.deleteExchange(orders, {}, ok(() => ch.deleteExchange(dlx, {}, ok(() => conn.close(ok(done))))));
    }
    const name = names[0];
    return ch.checkQueue(Q[name], ok((q) => {
      assert.equal(q.messageCount, 0, `messages left in ${name}`);
      ch.deleteQueue(Q[name], {}, ok(() => checkEmpty(conn, ch, names.slice(1))));
    }));
  }
}));
