'use strict';
// @cloudamqp/amqp-client: load levelling, a burst queued with no consumer, then drained.
//
// INTEROP_BURST (default 100,000) small messages, each carrying its sequence number, are
// published with publisher confirms (up to 2,000 in flight, every one acked) through
// a direct exchange, alternating between keys q0 and q1 bound to two durable queues, while
// nothing consumes. Then each queue's depth must be exactly half the burst. Then both
// queues are drained at once, each by its own consumer (own channel, prefetch 1,000,
// acking with multiple=true every 100 deliveries): every message arrives exactly once,
// strictly in publish order per queue, none flagged redelivered; the queues end empty.
const assert = require('node:assert/strict');
const { unique, run } = require('interop-common');
const { connect, Progress, within, depth, closeQuietly, dropAll } = require('./helpers/common');

const BURST = Number(process.env.INTEROP_BURST || 100000);
const WINDOW = 2000;
const ACK_EVERY = 100;

/** Body: the sequence number (8 bytes, big-endian) and a little padding. */
function body(seq) {
  const b = Buffer.alloc(8 + 24, '.');
  b.writeBigUInt64BE(BigInt(seq), 0);
  return b;
}

run(async () => {
  const exchange = unique('amqp-client-levelling');
  const queues = [unique('amqp-client-levelling-q0'), unique('amqp-client-levelling-q1')];
  const conns = [];
  try {
    const producer = await connect({ name: 'levelling-producer' });
    conns.push(producer);
    const ch = await producer.channel();
    await ch.exchangeDeclare(exchange, 'direct', { durable: true });
    for (const [i, q] of queues.entries()) {
      await ch.queueDeclare(q, { durable: true });
      await ch.queueBind(q, exchange, `q${i}`);
    }
    await ch.confirmSelect();
    // A sliding window: at most WINDOW publishes awaiting their confirm.
    const inflight = [];
    let confirmed = 0;
    for (let seq = 0; seq < BURST; seq++) {
      inflight.push(ch.basicPublish(exchange, `q${seq % 2}`, body(seq)));
      if (inflight.length >= WINDOW) {
        await within('a publisher confirm', 30000, inflight.shift());
        confirmed += 1;
      }
    }
    confirmed += (await within('the last publisher confirms', 30000, Promise.all(inflight))).length;
    assert.equal(confirmed, BURST, 'publishes confirmed');
    for (const [i, q] of queues.entries()) {
      assert.equal(await depth(ch, q), Math.ceil((BURST - i) / 2), `depth of q${i} after the burst`);
    }

    const consumer = await connect({ name: 'levelling-consumer' });
    conns.push(consumer);
    const progress = new Progress();
    const next = [0, 1]; // the sequence number each queue must deliver next
    const drained = [0, 0];
    const consumers = [];
    for (const [i, q] of queues.entries()) {
      const cch = await consumer.channel();
      await cch.prefetch(1000);
      const total = Math.ceil((BURST - i) / 2);
      consumers.push(await cch.basicConsume(q, { noAck: false }, progress.guard(async (msg) => {
        const seq = Number(Buffer.from(msg.body).readBigUInt64BE(0));
        if (seq !== next[i]) throw new Error(`q${i} out of order: got ${seq}, expected ${next[i]}`);
        if (msg.redelivered) throw new Error(`message ${seq} flagged redelivered`);
        assert.equal(msg.body.length, 32, `length of message ${seq}`);
        next[i] += 2;
        drained[i] += 1;
        if (drained[i] % ACK_EVERY === 0 || drained[i] === total) await msg.ack(true);
      })));
    }
    await progress.until('both queues drained', 60000,
      () => drained[0] === Math.ceil(BURST / 2) && drained[1] === Math.floor(BURST / 2));
    for (const c of consumers) await c.cancel(); // after the last acks, on the same channels
    for (const [i, q] of queues.entries()) {
      assert.equal(await depth(ch, q), 0, `messages left in q${i}`);
      await ch.queueDelete(q);
    }
    await ch.exchangeDelete(exchange);
    await consumer.close();
    await producer.close();
  } catch (err) {
    await closeQuietly(...conns);
    await dropAll({ queues, exchanges: [exchange] });
    throw err;
  }
});
