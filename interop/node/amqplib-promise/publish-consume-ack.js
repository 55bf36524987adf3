'use strict';
// amqplib, promise API: publish, consume with manual acks, nack with requeue, prefetch.
//
// 100 messages go to a queue with properties; a consumer with prefetch 10 checks bodies,
// order and properties, nacks message 7 once with requeue (it must come back with
// redelivered=true), acks the rest, then cancels and checks the queue is empty.
const assert = require('node:assert/strict');
const amqplib = require('amqplib');
const { amqpUri, unique, waitFor, run } = require('interop-common');

const COUNT = 100;

run(async () => {
  const conn = await amqplib.connect(amqpUri());
  const ch = await conn.createChannel();
  const queue = unique('amqplib-p-pca');
  const ok = await ch.assertQueue(queue, { durable: false });
  assert.equal(ok.queue, queue);
  assert.equal(ok.messageCount, 0);

  for (let i = 0; i < COUNT; i++) {
    ch.sendToQueue(queue, Buffer.from(`msg ${i}`), {
      contentType: 'text/plain',
      headers: { i, parity: i % 2 ? 'odd' : 'even' },
      messageId: `m${i}`,
      persistent: i % 2 === 0,
    });
  }

  await ch.prefetch(10);
  const firsts = [];
  const redelivered = [];
  let consumerTag;
  await waitFor('all deliveries', 30000, (resolve, reject) => {
    ch.consume(queue, (msg) => {
      try {
        const i = Number(msg.content.toString().split(' ')[1]);
        assert.equal(msg.properties.contentType, 'text/plain');
        assert.deepEqual(msg.properties.headers, { i, parity: i % 2 ? 'odd' : 'even' });
        assert.equal(msg.properties.messageId, `m${i}`);
        assert.equal(msg.properties.deliveryMode, i % 2 === 0 ? 2 : 1);
        assert.equal(msg.fields.routingKey, queue);
        assert.equal(msg.fields.exchange, '');
        if (msg.fields.redelivered) {
          redelivered.push(i);
          ch.ack(msg);
        } else {
          firsts.push(i);
          if (i === 7) ch.nack(msg, false, true);
          else ch.ack(msg);
        }
        if (firsts.length + redelivered.length === COUNT + 1) resolve();
      } catch (err) {
        reject(err);
      }
    }).then((r) => { consumerTag = r.consumerTag; }, reject);
  });
  assert.deepEqual(firsts, [...Array(COUNT).keys()]);
  assert.deepEqual(redelivered, [7]);
  await ch.cancel(consumerTag);
  const after = await ch.checkQueue(queue);
  assert.equal(after.messageCount, 0);
  assert.equal(after.consumerCount, 0);
  const del = await ch.deleteQueue(queue);
  assert.equal(del.messageCount, 0);
  await ch.close();
  await conn.close();
});
