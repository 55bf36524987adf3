'use strict';
// @cloudamqp/amqp-client: one 16 MiB message, then 10,000 small ones.
//
// A 16 MiB body of random bytes is published with a publisher confirm (the library splits
// it into body frames of the negotiated frame size), consumed back and compared by SHA-256
// and length, with its properties. Then 10,000 confirmed messages of random bytes,
// lengths cycling through 0..100 (so empty bodies included), are consumed back by one
// consumer (prefetch 500): exact bodies, in publish order, delivery tags 2..10,001 on the
// consuming channel; the queue ends empty.
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { unique, run } = require('interop-common');
const { connect, Progress, within, depth, closeQuietly, dropAll } = require('./helpers/common');

const LARGE = 16 * 1024 * 1024;
const SMALL = 10000;
const WINDOW = 1000;
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

run(async () => {
  const queue = unique('amqp-client-large-small');
  let conn;
  try {
    conn = await connect({ name: 'large-and-small' });
    const pch = await conn.channel();
    await pch.queueDeclare(queue, { durable: false });
    await pch.confirmSelect();

    const cch = await conn.channel();
    await cch.prefetch(500);
    const progress = new Progress();
    const got = [];
    await cch.basicConsume(queue, { noAck: false }, progress.guard(async (msg) => {
      got.push(msg);
      if (got.length > 1) await msg.ack();
    }));

    const large = crypto.randomBytes(LARGE);
    assert.equal(await within('the large publish confirm', 30000,
      pch.basicPublish('', queue, large, { messageId: 'large', contentType: 'application/octet-stream' })), 1);
    await progress.until('the large message', 30000, () => got.length >= 1);
    const big = got[0];
    assert.equal(big.bodySize, LARGE, 'large body size');
    assert.equal(big.body.byteLength, LARGE, 'large body length');
    assert.equal(sha256(big.body), sha256(large), 'SHA-256 of the large body');
    assert.deepEqual(big.properties, { messageId: 'large', contentType: 'application/octet-stream' });
    assert.equal(big.deliveryTag, 1);
    await big.ack();

    const bodies = [...Array(SMALL).keys()].map((i) => crypto.randomBytes(i % 101));
    for (let start = 0; start < SMALL; start += WINDOW) {
      const tags = await within('small publish confirms', 30000, Promise.all(
        bodies.slice(start, start + WINDOW).map((b) => pch.basicPublish('', queue, b))));
      assert.equal(tags[tags.length - 1], start + tags.length + 1, 'confirm tags');
    }
    await progress.until('the small messages', 30000, () => got.length >= SMALL + 1);
    assert.equal(got.length, SMALL + 1, 'deliveries');
    for (let i = 0; i < SMALL; i++) {
      const m = got[i + 1];
      assert.equal(m.deliveryTag, i + 2, `delivery tag of small message ${i}`);
      assert.equal(m.redelivered, false);
      if (Buffer.compare(Buffer.from(m.body), bodies[i]) !== 0) {
        throw new Error(`small message ${i}: got ${m.body.byteLength} bytes ` +
          `${Buffer.from(m.body).toString('hex')}, want ${bodies[i].byteLength} bytes ${bodies[i].toString('hex')}`);
      }
    }
    assert.equal(got[1].body.byteLength, 0, 'the first small body is empty');
    await cch.close(); // after every ack, on the same channel
    assert.equal(await depth(pch, queue), 0, 'messages left');
    await pch.queueDelete(queue);
    await conn.close();
  } catch (err) {
    await closeQuietly(conn);
    await dropAll({ queues: [queue] });
    throw err;
  }
});
