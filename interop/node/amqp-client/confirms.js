'use strict';
// @cloudamqp/amqp-client: publisher confirms. With confirmSelect, basicPublish resolves
// only when the broker acks; 1000 publishes in flight together must all resolve, with
// distinct delivery tags 1..1000, and the queue must then hold exactly 1000 messages.
// A mandatory publish to an unbound key must come back through onReturn with 312.
const assert = require('node:assert/strict');
const { AMQPClient } = require('@cloudamqp/amqp-client');
const { amqpUri, unique, waitFor, run } = require('interop-common');

const COUNT = 1000;

run(async () => {
  const conn = await new AMQPClient(amqpUri()).connect();
  const ch = await conn.channel();
  await ch.confirmSelect();
  const queue = unique('amqp-client-confirms');
  await ch.queueDeclare(queue, { durable: true });
  const tags = await Promise.all(
    [...Array(COUNT).keys()].map((i) => ch.basicPublish('', queue, `m${i}`, { deliveryMode: 2 })));
  assert.deepEqual(tags, [...Array(COUNT).keys()].map((i) => i + 1));
  const q = await ch.queueDeclare(queue, { passive: true });
  assert.equal(q.messageCount, COUNT);

  const returned = waitFor('returned message', 10000, (resolve) => { ch.onReturn = resolve; });
  await ch.basicPublish('', unique('nowhere'), 'bounce', { messageId: 'b1' }, true);
  const msg = await returned;
  assert.equal(msg.replyCode, 312);
  assert.equal(msg.replyText, 'NO_ROUTE');
  assert.equal(msg.bodyToString(), 'bounce');
  assert.equal(msg.properties.messageId, 'b1');

  const purged = await ch.queuePurge(queue);
  assert.equal(purged.messageCount, COUNT);
  await ch.queueDelete(queue);
  await conn.close();
});
