'use strict';
// amqplib, promise API: topic routing. Queues bound with "*.orange.*", "*.*.rabbit" +
// "lazy.#", and "#" on a topic exchange; each must receive exactly the keys that match,
// in publish order (an end marker that every queue matches closes each stream).
const assert = require('node:assert/strict');
const amqplib = require('amqplib');
const { amqpUri, unique, waitFor, run } = require('interop-common');

const BINDINGS = { q1: ['*.orange.*'], q2: ['*.*.rabbit', 'lazy.#'], all: ['#'] };
const KEYS = {
  'quick.orange.rabbit': ['q1', 'q2', 'all'],
  'lazy.orange.elephant': ['q1', 'q2', 'all'],
  'quick.orange.fox': ['q1', 'all'],
  'lazy.brown.fox': ['q2', 'all'],
  'lazy.pink.rabbit': ['q2', 'all'],
  'quick.brown.fox': ['all'],
  'quick.orange.male.rabbit': ['all'],
  'lazy.orange.male.rabbit': ['q2', 'all'],
  'lazy': ['q2', 'all'],
  'a.b.c.d.e.f.rabbit': ['all'],
};
const END = 'end.orange.rabbit';

run(async () => {
  const conn = await amqplib.connect(amqpUri());
  const ch = await conn.createChannel();
  const ex = unique('amqplib-p-topic');
  await ch.assertExchange(ex, 'topic', { durable: false, autoDelete: false });
  const streams = {};
  for (const [name, keys] of Object.entries(BINDINGS)) {
    const { queue } = await ch.assertQueue('', { exclusive: true });
    assert.match(queue, /^amq\.gen-/);
    for (const key of keys) await ch.bindQueue(queue, ex, key);
    if (name === 'all') await ch.bindQueue(queue, ex, END);
    streams[name] = { queue, got: [] };
  }
  for (const key of [...Object.keys(KEYS), END]) {
    ch.publish(ex, key, Buffer.from(`body of ${key}`));
  }
  await Promise.all(Object.entries(streams).map(([name, s]) =>
    waitFor(`end marker on ${name}`, 30000, (resolve, reject) => {
      ch.consume(s.queue, (msg) => {
        const key = msg.fields.routingKey;
        if (msg.content.toString() !== `body of ${key}`) reject(new Error(`bad body for ${key}`));
        if (key === END) resolve();
        else s.got.push(key);
      }, { noAck: true }).catch(reject);
    })));
  for (const [name, s] of Object.entries(streams)) {
    const expected = Object.entries(KEYS).filter(([, qs]) => qs.includes(name)).map(([k]) => k);
    assert.deepEqual(s.got, expected, `keys routed to ${name}`);
  }
  await ch.deleteExchange(ex);
  await conn.close();
});
