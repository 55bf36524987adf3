'use strict';
// amqplib, promise API: mandatory publishing and basic.return (scenario F of the interop
// catalogue; confirms.js only covers one returned-and-confirmed publish).
//
// On a plain channel with a 'return' listener:
// - mandatory to a missing queue through the default exchange: returned with 312 NO_ROUTE,
//   exchange "" and the routing key, body and properties (messageId, contentType, headers)
//   intact;
// - mandatory through a direct exchange with no matching binding: returned likewise;
// - mandatory and routable: delivered (to a consumer, before a routable marker), not
//   returned;
// - not mandatory and unroutable: dropped silently, the channel stays usable.
// On a ConfirmChannel: an unroutable mandatory publish is returned and still acked (not
// nacked), the return arriving before its ack; routable and non-mandatory publishes are
// simply acked. Publishing to a missing exchange closes that channel with 404 NOT_FOUND
// (the channel's 'error' event), and the other channels stay open.
const assert = require('node:assert/strict');
const amqplib = require('amqplib');
const { amqpUri, unique, Monitor, withTimeout, deleteAll, run } = require('interop-common');

const EXCHANGE = unique('mandatory-ex');
const QUEUE = unique('mandatory-q');

run(async () => {
  const conn = await amqplib.connect(amqpUri());
  const ch = await conn.createChannel();
  const returns = [];
  ch.on('return', (msg) => returns.push(msg));
  await ch.assertExchange(EXCHANGE, 'direct', { durable: false });
  await ch.assertQueue(QUEUE, { durable: false });
  await ch.bindQueue(QUEUE, EXCHANGE, 'bound');

  // A consumer on the bound queue sees what was routed there; a routable marker published
  // last ends its stream (queue order follows publish order on one channel).
  const monitor = new Monitor();
  const delivered = [];
  const { consumerTag } = await ch.consume(QUEUE, monitor.guard((msg) => {
    assert.ok(msg, 'consumer cancelled by the broker');
    delivered.push(msg.content.toString());
  }), { noAck: true });

  const missing = unique('no-such-queue');
  ch.publish('', missing, Buffer.from('to nowhere'), {
    mandatory: true, messageId: 'r-1', contentType: 'text/plain', headers: { why: 'no queue', n: 7 },
  });
  ch.publish(EXCHANGE, 'unbound', Buffer.from('unbound key'), { mandatory: true });
  ch.publish(EXCHANGE, 'bound', Buffer.from('routable'), { mandatory: true });
  ch.publish(EXCHANGE, 'unbound', Buffer.from('dropped quietly'), { mandatory: false });
  ch.publish(EXCHANGE, 'bound', Buffer.from('marker'));
  // A synchronous round trip on the same channel: the broker sends any return for the
  // publishes above before this reply.
  await ch.checkExchange(EXCHANGE);

  assert.equal(returns.length, 2, 'number of basic.return frames');
  const [r1, r2] = returns;
  assert.deepEqual(
    [r1.fields.replyCode, r1.fields.replyText, r1.fields.exchange, r1.fields.routingKey],
    [312, 'NO_ROUTE', '', missing], 'first return');
  assert.equal(r1.content.toString(), 'to nowhere', 'first returned body');
  assert.equal(r1.properties.messageId, 'r-1');
  assert.equal(r1.properties.contentType, 'text/plain');
  assert.deepEqual(r1.properties.headers, { why: 'no queue', n: 7 }, 'first returned headers');
  assert.deepEqual(
    [r2.fields.replyCode, r2.fields.replyText, r2.fields.exchange, r2.fields.routingKey, r2.content.toString()],
    [312, 'NO_ROUTE', EXCHANGE, 'unbound', 'unbound key'], 'second return');
  await monitor.until('the marker on the bound queue', 10000, () => delivered.includes('marker'));
  assert.deepEqual(delivered, ['routable', 'marker'], 'messages delivered to the bound queue');
  await ch.cancel(consumerTag);

  // With confirms: the return comes first, then the ack for the same publish.
  const cch = await conn.createConfirmChannel();
  const events = [];
  cch.on('return', (msg) => events.push(`return ${msg.content} ${msg.fields.replyCode}`));
  const publish = (key, body, mandatory) =>
    cch.publish(EXCHANGE, key, Buffer.from(body), { mandatory },
      (err) => events.push(`${err ? 'nack' : 'ack'} ${body}`));
  publish('unbound', 'confirm+return', true);
  publish('bound', 'confirmed', true);
  publish('unbound', 'confirmed, dropped', false);
  await withTimeout('the confirms', 10000, cch.waitForConfirms());
  // Confirms for different publishes may come in any order (RabbitMQ acks the unroutable
  // ones at once, the routed one once its queue has it); the return must precede its ack.
  assert.deepEqual([...events].sort(), [
    'ack confirm+return',
    'ack confirmed',
    'ack confirmed, dropped',
    'return confirm+return 312',
  ], 'one ack per publish, one return, no nack');
  assert.ok(events.indexOf('return confirm+return 312') < events.indexOf('ack confirm+return'),
    `the return before its ack: ${events.join(', ')}`);
  // Confirmed means enqueued: the declare-ok count includes it. (Without confirms it need
  // not: RabbitMQ 3.10's passive declare right after a publish on the same channel often
  // reports the count from before the publish.)
  assert.equal((await cch.checkQueue(QUEUE)).messageCount, 1, 'messages in the bound queue');

  // A publish to a missing exchange closes its channel with 404 NOT_FOUND.
  const bad = await conn.createChannel();
  const closed = new Promise((resolve) => bad.once('close', resolve));
  const error = new Promise((resolve) => bad.once('error', resolve));
  bad.publish(unique('no-such-exchange'), 'k', Buffer.from('x'));
  const err = await withTimeout('the channel error', 10000, error);
  assert.equal(err.code, 404, `reply code for a missing exchange (${err.message})`);
  assert.match(err.message, /NOT_FOUND/);
  await withTimeout('the channel to close', 10000, closed);

  // The other channels are still open.
  assert.equal((await ch.checkQueue(QUEUE)).messageCount, 1, 'first channel still usable');
  await cch.deleteQueue(QUEUE);
  await cch.deleteExchange(EXCHANGE);
  await cch.close();
  await ch.close();
  await conn.close();
}, 60000, () => deleteAll({ queues: [QUEUE], exchanges: [EXCHANGE] }));
