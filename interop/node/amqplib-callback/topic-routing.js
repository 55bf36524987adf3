'use strict';
// amqplib, callback API: topic routing with exclusive server-named queues. Bindings
// "kern.*", "*.critical" and "#"; each queue must get exactly the matching keys, in order.
const assert = require('node:assert/strict');
const amqplib = require('amqplib/callback_api');
const { amqpUri, unique, run } = require('interop-common');

const BINDINGS = { kern: ['kern.*'], critical: ['*.critical'], all: ['#'] };
const KEYS = ['kern.critical', 'kern.info', 'disk.critical', 'kern', 'kern.disk.critical',
  'a.critical', 'critical', 'kern.'];
const MATCHES = {
  kern: ['kern.critical', 'kern.info', 'kern.'],
  critical: ['kern.critical', 'disk.critical', 'a.critical'],
  all: KEYS,
};
const END = 'kern.critical'; // matched by every queue; sent last with an "end" body

run(() => new Promise((resolve, reject) => {
  const ex = unique('amqplib-cb-topic');
  amqplib.connect(amqpUri(), (err, conn) => {
    if (err) return reject(err);
    conn.createChannel((err, ch) => {
      if (err) return reject(err);
      ch.on('error', reject);
      ch.assertExchange(ex, 'topic', { durable: false });
      const got = {};
      let pending = Object.keys(BINDINGS).length;
      let ready = 0;
      const finish = () => {
        try {
          for (const name of Object.keys(BINDINGS)) assert.deepEqual(got[name], MATCHES[name], name);
        } catch (e) {
          return reject(e);
        }
        ch.deleteExchange(ex, {}, (err) => {
          if (err) return reject(err);
          conn.close((err) => (err ? reject(err) : resolve()));
        });
      };
      const publishAll = () => {
        for (const key of KEYS) ch.publish(ex, key, Buffer.from(key));
        ch.publish(ex, END, Buffer.from('end'));
      };
      for (const [name, keys] of Object.entries(BINDINGS)) {
        got[name] = [];
        ch.assertQueue('', { exclusive: true }, (err, q) => {
          if (err) return reject(err);
          for (const key of keys) ch.bindQueue(q.queue, ex, key);
          ch.consume(q.queue, (msg) => {
            if (msg.content.toString() === 'end') {
              if (--pending === 0) finish();
            } else {
              got[name].push(msg.fields.routingKey);
            }
          }, { noAck: true }, (err) => {
            if (err) return reject(err);
            if (++ready === Object.keys(BINDINGS).length) publishAll();
          });
        });
      }
    });
  });
}));
