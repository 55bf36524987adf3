'use strict';
// amqplib, promise API: load levelling, a burst queued while nobody consumes, then drained
// in order (scenario C of the interop catalogue).
//
// INTEROP_BURST (default 100000) small messages (an 8-byte sequence number plus a little
// padding) are published on a ConfirmChannel, alternating between two durable queues bound
// to a direct exchange with keys q0 and q1, with no consumer attached; the channel's write
// buffer is respected (publish() returning false waits for 'drain'). Every confirm must be
// an ack. Then each queue's depth must be exactly half the burst (passive declare). Then
// each queue is drained by its own consumer (own channel, prefetch 1000, acking with
// multiple=true every 100 messages): every message strictly in publish order per queue,
// none flagged redelivered, none missing; the queues end empty.
const assert = require('node:assert/strict');
const { once } = require('node:events');
const amqplib = require('amqplib');
const { amqpUri, unique, Monitor, withTimeout, deleteAll, run } = require('interop-common');

const BURST = Number(process.env.INTEROP_BURST || 100000);
const EXCHANGE = unique('levelling');
const QUEUES = [unique('levelling-q0'), unique('levelling-q1')];
const PADDING = Buffer.from('.'.repeat(24));

function body(seq) {
  const b = Buffer.alloc(8 + PADDING.length);
  b.writeBigUInt64BE(BigInt(seq));
  PADDING.copy(b, 8);
  return b;
}

run(async () => {
  const monitor = new Monitor();
  const conn = await amqplib.connect(amqpUri());
  const ch = await conn.createConfirmChannel();
  await ch.assertExchange(EXCHANGE, 'direct', { durable: true });
  for (const [i, q] of QUEUES.entries()) {
    await ch.assertQueue(q, { durable: true });
    await ch.bindQueue(q, EXCHANGE, `q${i}`);
  }

  // The burst, nobody consuming.
  let acked = 0;
  const nacked = [];
  for (let seq = 0; seq < BURST; seq++) {
    const writable = ch.publish(EXCHANGE, `q${seq % 2}`, body(seq), {}, (err) => {
      if (err) nacked.push(seq);
      else acked += 1;
    });
    if (!writable) await withTimeout('the channel to drain', 30000, once(ch, 'drain'));
  }
  await withTimeout('the burst to be confirmed', 60000, ch.waitForConfirms());
  assert.deepEqual(nacked, [], 'nacked publishes');
  assert.equal(acked, BURST, 'publishes confirmed');

  const halves = [Math.ceil(BURST / 2), Math.floor(BURST / 2)];
  for (const [i, q] of QUEUES.entries()) {
    const { messageCount, consumerCount } = await ch.checkQueue(q);
    assert.equal(messageCount, halves[i], `depth of q${i} after the burst`);
    assert.equal(consumerCount, 0, `consumers on q${i}`);
  }

  // Drain each queue on its own channel, strictly in order.
  const drains = await Promise.all(QUEUES.map(async (q, i) => {
    const cch = await conn.createChannel();
    await cch.prefetch(1000);
    const d = { ch: cch, next: i, count: 0, last: null, tag: null };
    const { consumerTag } = await cch.consume(q, monitor.guard((msg) => {
      assert.ok(msg, `q${i}: consumer cancelled by the broker`);
      const seq = Number(msg.content.readBigUInt64BE(0));
      if (seq !== d.next) throw new Error(`q${i} out of order: got ${seq}, expected ${d.next}`);
      assert.ok(msg.content.subarray(8).equals(PADDING), `body of ${seq}`);
      if (msg.fields.redelivered) throw new Error(`q${i}: message ${seq} flagged redelivered`);
      d.next += 2;
      d.count += 1;
      d.last = msg;
      if (d.count % 100 === 0 || d.count === halves[i]) cch.ack(msg, true);
    }));
    d.tag = consumerTag;
    return d;
  }));
  await monitor.until('both queues drained', 60000,
    () => drains.every((d, i) => d.count >= halves[i]));
  for (const [i, d] of drains.entries()) {
    await d.ch.cancel(d.tag);
    assert.equal(d.count, halves[i], `messages drained from q${i}`);
    await d.ch.close(); // behind the acks: every one of them is processed by now
  }
  for (const [i, q] of QUEUES.entries()) {
    const { messageCount } = await ch.checkQueue(q);
    assert.equal(messageCount, 0, `messages left in q${i}`);
    await ch.deleteQueue(q);
  }
  await ch.deleteExchange(EXCHANGE);
  await ch.close();
  await conn.close();
}, 90000, () => deleteAll({ queues: QUEUES, exchanges: [EXCHANGE] }));
