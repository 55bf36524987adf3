'use strict';
// amqplib, promise API: a 16 MiB message round trip (split across ~128 frames each way),
// and the broker's consumer cancel notification (amqplib calls the consume callback with
// null when the queue under a consumer is deleted by another connection).
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const amqplib = require('amqplib');
const { amqpUri, unique, waitFor, run } = require('interop-common');

run(async () => {
  const conn = await amqplib.connect(amqpUri());
  const ch = await conn.createConfirmChannel();
  const queue = unique('amqplib-large');
  await ch.assertQueue(queue, { durable: false });
  const body = crypto.randomBytes(16 * 1024 * 1024);
  const digest = crypto.createHash('sha256').update(body).digest('hex');
  ch.sendToQueue(queue, body, { headers: { digest } });
  await ch.waitForConfirms();

  const cancelled = waitFor('consumer cancel notification', 20000, (resolve, reject) => {
    let got = 0;
    ch.consume(queue, async (msg) => {
      try {
        if (msg === null) return resolve(got);
        got += 1;
        assert.equal(msg.content.length, body.length);
        assert.equal(crypto.createHash('sha256').update(msg.content).digest('hex'), digest);
        assert.equal(msg.properties.headers.digest, digest);
        ch.ack(msg);
        // Delete the queue from another connection while this consumer is on it.
        const other = await amqplib.connect(amqpUri());
        const och = await other.createChannel();
        await och.deleteQueue(queue);
        await other.close();
      } catch (err) {
        reject(err);
      }
    }).catch(reject);
  });
  assert.equal(await cancelled, 1);
  await ch.close();
  await conn.close();
}, 90000);
