'use strict';
// @cloudamqp/amqp-client, low-level API: publish, consume with manual acks, nack + requeue.
//
// 100 messages with properties go through the default exchange; a consumer with prefetch
// 20 checks bodies, order and properties, nacks #9 once with requeue (it must come back
// with redelivered=true) and acks the rest; then the queue must be empty.
const assert = require('node:assert/strict');
const { AMQPClient } = require('@cloudamqp/amqp-client');
const { amqpUri, unique, waitFor, run } = require('interop-common');

const COUNT = 100;

run(async () => {
  const conn = await new AMQPClient(amqpUri()).connect();
  const ch = await conn.channel();
  const queue = unique('amqp-client-pca');
  const ok = await ch.queueDeclare(queue, { durable: false, autoDelete: false });
  assert.equal(ok.name, queue);
  for (let i = 0; i < COUNT; i++) {
    await ch.basicPublish('', queue, `hello ${i}`, {
      contentType: 'text/plain', headers: { i }, messageId: `id${i}`, priority: (i % 9) + 1,
    });
  }
  await ch.prefetch(20);
  const firsts = [];
  const again = [];
  let consumer;
  await waitFor('deliveries', 30000, async (resolve, reject) => {
    consumer = await ch.basicConsume(queue, { noAck: false }, async (msg) => {
      try {
        const i = Number(msg.bodyToString().split(' ')[1]);
        assert.equal(msg.properties.contentType, 'text/plain');
        assert.deepEqual(msg.properties.headers, { i });
        assert.equal(msg.properties.messageId, `id${i}`);
        assert.equal(msg.properties.priority, (i % 9) + 1);
        assert.equal(msg.routingKey, queue);
        if (msg.redelivered) {
          again.push(i);
          await msg.ack();
        } else {
          firsts.push(i);
          if (i === 9) await msg.nack(true);
          else await msg.ack();
        }
        if (firsts.length + again.length === COUNT + 1) resolve();
      } catch (e) {
        reject(e);
      }
    });
  });
  assert.deepEqual(firsts, [...Array(COUNT).keys()]);
  assert.deepEqual(again, [9]);
  await consumer.cancel();
  const check = await ch.queueDeclare(queue, { passive: true });
  assert.equal(check.messageCount, 0);
  assert.equal(check.consumerCount, 0);
  await ch.queueDelete(queue);
  await conn.close();
});
