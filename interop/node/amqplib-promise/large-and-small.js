'use strict';
// amqplib, promise API: one very large message and many small ones (scenario H of the
// interop catalogue).
//
// A 16 MiB body of random bytes is published on a ConfirmChannel (confirmed), consumed
// back and compared by SHA-256 and length. Then 10,000 small messages of random bytes with
// lengths cycling through 0..100 (so including empty bodies) are published with confirms
// and consumed back (prefetch 500, manual acks, multiple every 50): exact bodies, in order,
// none redelivered. The queue ends empty.
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { once } = require('node:events');
const amqplib = require('amqplib');
const { amqpUri, unique, Monitor, withTimeout, sha256, deleteAll, run } = require('interop-common');

const LARGE = 16 * 1024 * 1024;
const SMALL = 10000;
const QUEUE = unique('large-and-small');

run(async () => {
  const monitor = new Monitor();
  const conn = await amqplib.connect(amqpUri());
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(QUEUE, { durable: true });

  // Consume everything on a second channel, recording bodies in arrival order.
  const cch = await conn.createChannel();
  await cch.prefetch(500);
  const got = [];
  let acked = 0;
  const { consumerTag } = await cch.consume(QUEUE, monitor.guard((msg) => {
    assert.ok(msg, 'consumer cancelled by the broker');
    assert.equal(msg.fields.redelivered, false, 'redelivered flag');
    got.push(msg.content);
    if (got.length === 1 || (got.length - 1) % 50 === 0 || got.length === SMALL + 1) {
      cch.ack(msg, true);
      acked = got.length;
    }
  }));

  const large = crypto.randomBytes(LARGE);
  let confirmed = null;
  ch.sendToQueue(QUEUE, large, { messageId: 'large' }, (err) => { confirmed = err || 'ack'; });
  await withTimeout('the large message confirm', 30000, ch.waitForConfirms());
  assert.equal(confirmed, 'ack', 'the 16 MiB publish confirmed');
  await monitor.until('the large message', 30000, () => got.length >= 1);
  assert.equal(got[0].length, LARGE, 'length of the large body');
  assert.equal(sha256(got[0]), sha256(large), 'SHA-256 of the large body');

  const smalls = [];
  const nacked = [];
  for (let i = 0; i < SMALL; i++) {
    const body = crypto.randomBytes(i % 101);
    smalls.push(body);
    const writable = ch.sendToQueue(QUEUE, body, {}, (err) => { if (err) nacked.push(i); });
    if (!writable) await withTimeout('the channel to drain', 30000, once(ch, 'drain'));
  }
  await withTimeout('the small messages confirms', 30000, ch.waitForConfirms());
  assert.deepEqual(nacked, [], 'small messages nacked');
  await monitor.until(`${SMALL} small messages`, 30000, () => got.length >= SMALL + 1);
  await cch.cancel(consumerTag);
  assert.equal(got.length, SMALL + 1, 'messages consumed');
  assert.equal(acked, SMALL + 1, 'messages acked');
  for (let i = 0; i < SMALL; i++) {
    if (!got[i + 1].equals(smalls[i])) {
      throw new Error(`small message ${i}: got ${got[i + 1].toString('hex')}, want ${smalls[i].toString('hex')}`);
    }
  }
  assert.equal(got[1].length, 0, 'the first small body is empty');
  await cch.close(); // behind the acks
  assert.equal((await ch.checkQueue(QUEUE)).messageCount, 0, 'messages left');
  await ch.deleteQueue(QUEUE);
  await ch.close();
  await conn.close();
}, 90000, () => deleteAll({ queues: [QUEUE] }));
