'use strict';
// amqplib, promise API: publisher confirms on a ConfirmChannel.
//
// 500 publishes each with a callback, then waitForConfirms(); every callback must report
// success exactly once. A mandatory publish to an unroutable key must produce a basic.return
// (312 NO_ROUTE, body intact) and still be confirmed. The queue must hold all 500.
const assert = require('node:assert/strict');
const amqplib = require('amqplib');
const { amqpUri, unique, waitFor, run } = require('interop-common');

const COUNT = 500;

run(async () => {
  const conn = await amqplib.connect(amqpUri());
  const ch = await conn.createConfirmChannel();
  const queue = unique('amqplib-p-confirms');
  await ch.assertQueue(queue, { durable: true });
  const acked = new Array(COUNT).fill(0);
  const errors = [];
  for (let i = 0; i < COUNT; i++) {
    ch.sendToQueue(queue, Buffer.from(`c${i}`), { persistent: true }, (err) => {
      if (err) errors.push(err);
      else acked[i] += 1;
    });
  }
  await ch.waitForConfirms();
  assert.deepEqual(errors, []);
  assert.ok(acked.every((n) => n === 1), 'each publish confirmed exactly once');

  const returned = waitFor('basic.return', 10000, (resolve) => ch.once('return', resolve));
  let confirmedUnroutable = null;
  ch.publish('', unique('nowhere'), Buffer.from('lost'), { mandatory: true, messageId: 'r1' },
    (err) => { confirmedUnroutable = err || 'ack'; });
  const ret = await returned;
  await ch.waitForConfirms();
  assert.equal(ret.fields.replyCode, 312);
  assert.equal(ret.fields.replyText, 'NO_ROUTE');
  assert.equal(ret.content.toString(), 'lost');
  assert.equal(ret.properties.messageId, 'r1');
  assert.equal(confirmedUnroutable, 'ack');

  const q = await ch.checkQueue(queue);
  assert.equal(q.messageCount, COUNT);
  const first = await ch.get(queue, { noAck: true });
  assert.equal(first.content.toString(), 'c0');
  assert.equal(first.fields.messageCount, COUNT - 1);
  await ch.deleteQueue(queue);
  await conn.close();
});
