'use strict';
// amqplib, promise API: publish/subscribe through a fanout and a headers exchange
// (scenario E of the interop catalogue).
//
// Fanout: three subscribers, each on its own channel with an exclusive server-named queue
// (amq.gen-...) bound to a fanout exchange and its own consumer; 100 messages must reach
// every subscriber, all of them, in order, and nothing else (an end marker closes each
// stream).
// Headers: queue A bound x-match=all {format: pdf, type: report}, queue B bound x-match=any
// {format: zip, type: log}; messages with header sets {pdf, report} -> A only,
// {pdf, log} -> B only, {zip} -> B, {pdf} -> none, {pdf, report, extra: 1} -> A, no headers
// -> none (published with confirms); each queue's exact contents, in order, by basic.get
// until empty.
const assert = require('node:assert/strict');
const amqplib = require('amqplib');
const { amqpUri, unique, Monitor, deleteAll, run } = require('interop-common');

const COUNT = 100;
const FANOUT = unique('pubsub-fanout');
const HEADERS = unique('pubsub-headers');

const MESSAGES = [
  ['pdf-report', { format: 'pdf', type: 'report' }, ['A']],
  ['pdf-log', { format: 'pdf', type: 'log' }, ['B']],
  ['zip', { format: 'zip' }, ['B']],
  ['pdf', { format: 'pdf' }, []],
  ['pdf-report-extra', { format: 'pdf', type: 'report', extra: 1 }, ['A']],
  ['no-headers', undefined, []],
];

async function fanout(conn) {
  const monitor = new Monitor();
  const ch = await conn.createChannel();
  await ch.assertExchange(FANOUT, 'fanout', { durable: false });
  const subs = [];
  for (let s = 0; s < 3; s++) {
    const sch = await conn.createChannel();
    const { queue } = await sch.assertQueue('', { exclusive: true });
    assert.match(queue, /^amq\.gen-/, 'server-named subscriber queue');
    await sch.bindQueue(queue, FANOUT, '');
    const sub = { ch: sch, queue, got: [], ended: false };
    await sch.consume(queue, monitor.guard((msg) => {
      assert.ok(msg, `subscriber ${s}: consumer cancelled by the broker`);
      assert.equal(msg.fields.exchange, FANOUT);
      assert.ok(!sub.ended, `subscriber ${s}: a message after the end marker`);
      const body = msg.content.toString();
      if (body === 'end') sub.ended = true;
      else sub.got.push(body);
    }), { noAck: true });
    subs.push(sub);
  }
  for (let i = 0; i < COUNT; i++) ch.publish(FANOUT, `key-${i % 3}`, Buffer.from(`news ${i}`));
  ch.publish(FANOUT, '', Buffer.from('end'));
  await monitor.until('the end marker on every subscriber', 20000, () => subs.every((s) => s.ended));
  const expected = [...Array(COUNT).keys()].map((i) => `news ${i}`);
  for (const [s, sub] of subs.entries()) {
    assert.deepEqual(sub.got, expected, `messages received by subscriber ${s}`);
    await sub.ch.close();
  }
  await ch.deleteExchange(FANOUT);
  await ch.close();
}

async function headers(conn) {
  const ch = await conn.createConfirmChannel();
  await ch.assertExchange(HEADERS, 'headers', { durable: false });
  const queues = {};
  const bindings = {
    A: { 'x-match': 'all', format: 'pdf', type: 'report' },
    B: { 'x-match': 'any', format: 'zip', type: 'log' },
  };
  for (const [name, args] of Object.entries(bindings)) {
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, HEADERS, '', args);
    queues[name] = queue;
  }
  for (const [body, hdrs] of MESSAGES) {
    const options = hdrs === undefined ? {} : { headers: hdrs };
    ch.publish(HEADERS, `ignored.${body}`, Buffer.from(body), options);
  }
  await ch.waitForConfirms();
  for (const [name, queue] of Object.entries(queues)) {
    const got = [];
    for (;;) {
      const msg = await ch.get(queue, { noAck: true });
      if (msg === false) break;
      got.push(msg.content.toString());
    }
    const expected = MESSAGES.filter(([, , to]) => to.includes(name)).map(([b]) => b);
    assert.deepEqual(got, expected, `messages routed to ${name}`);
  }
  await ch.deleteExchange(HEADERS);
  await ch.close();
}

run(async () => {
  const conn = await amqplib.connect(amqpUri());
  await fanout(conn);
  await headers(conn);
  await conn.close();
}, 60000, () => deleteAll({ exchanges: [FANOUT, HEADERS] }));
