'use strict';
// @cloudamqp/amqp-client: publish/subscribe through a fanout and a headers exchange.
//
// Fanout: three subscribers, each on its own channel with an exclusive server-named queue
// (amq.gen-...) bound to a fanout exchange and its own consumer. 100 messages, then an
// end marker, are published; each subscriber must get exactly the 100 in order, then the
// marker, and nothing else.
// Headers: queue A bound with x-match=all {format: pdf, type: report}, queue B with
// x-match=any {format: zip, type: log}. Confirmed publishes with header sets
// {pdf,report} -> A, {pdf,log} -> B, {zip} -> B, {pdf} -> neither,
// {pdf,report,extra:1} -> A, no headers -> neither; basic.get until empty must give
// exactly those messages per queue, in order, with their headers intact.
const assert = require('node:assert/strict');
const { unique, run } = require('interop-common');
const { connect, Progress, closeQuietly, dropAll } = require('./helpers/common');

const COUNT = 100;
const SUBSCRIBERS = 3;

async function fanout(conn, exchange) {
  const pub = await conn.channel();
  await pub.exchangeDeclare(exchange, 'fanout', { durable: false });
  const progress = new Progress();
  const got = [];
  const consumers = [];
  for (let s = 0; s < SUBSCRIBERS; s++) {
    const ch = await conn.channel();
    const q = await ch.queueDeclare('', { exclusive: true });
    assert.match(q.name, /^amq\.gen-/, 'server-named queue');
    await ch.queueBind(q.name, exchange, '');
    got.push([]);
    consumers.push(await ch.basicConsume(q.name, { noAck: true }, progress.guard((msg) => {
      assert.equal(msg.exchange, exchange);
      got[s].push(msg.bodyToString());
    })));
  }
  for (let i = 0; i < COUNT; i++) await pub.basicPublish(exchange, `k${i % 5}`, `msg ${i}`);
  await pub.basicPublish(exchange, '', 'end');
  await progress.until('every subscriber to reach the end marker', 15000,
    () => got.every((g) => g.includes('end')));
  const want = [...[...Array(COUNT).keys()].map((i) => `msg ${i}`), 'end'];
  for (let s = 0; s < SUBSCRIBERS; s++) assert.deepEqual(got[s], want, `messages of subscriber ${s}`);
  for (const c of consumers) await c.cancel();
  await pub.exchangeDelete(exchange);
}

async function headers(conn, exchange, qa, qb) {
  const ch = await conn.channel();
  await ch.exchangeDeclare(exchange, 'headers', { durable: false });
  await ch.queueDeclare(qa, { durable: false });
  await ch.queueDeclare(qb, { durable: false });
  await ch.queueBind(qa, exchange, '', { 'x-match': 'all', format: 'pdf', type: 'report' });
  await ch.queueBind(qb, exchange, '', { 'x-match': 'any', format: 'zip', type: 'log' });
  await ch.confirmSelect();
  const messages = [
    ['pdf-report', { format: 'pdf', type: 'report' }],
    ['pdf-log', { format: 'pdf', type: 'log' }],
    ['zip', { format: 'zip' }],
    ['pdf', { format: 'pdf' }],
    ['pdf-report-extra', { format: 'pdf', type: 'report', extra: 1 }],
    ['none', undefined],
  ];
  for (const [body, h] of messages) await ch.basicPublish(exchange, '', body, h ? { headers: h } : {});
  const expected = { [qa]: ['pdf-report', 'pdf-report-extra'], [qb]: ['pdf-log', 'zip'] };
  const sent = Object.fromEntries(messages);
  for (const [q, want] of Object.entries(expected)) {
    const bodies = [];
    for (;;) {
      const msg = await ch.basicGet(q, { noAck: true });
      if (!msg) break;
      const b = msg.bodyToString();
      bodies.push(b);
      assert.deepEqual(msg.properties.headers, sent[b], `headers of ${b}`);
    }
    assert.deepEqual(bodies, want, `messages routed to ${q === qa ? 'A (all)' : 'B (any)'}`);
    await ch.queueDelete(q);
  }
  await ch.exchangeDelete(exchange);
}

run(async () => {
  const fx = unique('amqp-client-fanout');
  const hx = unique('amqp-client-headers');
  const qa = unique('amqp-client-headers-all');
  const qb = unique('amqp-client-headers-any');
  let conn;
  try {
    conn = await connect({ name: 'pubsub' });
    await fanout(conn, fx);
    await headers(conn, hx, qa, qb);
    await conn.close();
  } catch (err) {
    await closeQuietly(conn);
    await dropAll({ queues: [qa, qb], exchanges: [fx, hx] });
    throw err;
  }
});
