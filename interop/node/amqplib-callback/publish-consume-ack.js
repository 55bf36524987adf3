'use strict';
// amqplib, callback API: publish, consume with manual acks, reject with requeue, prefetch.
//
// A sender channel and a listener channel on one connection, as in amqplib's own example.
// 100 messages with properties; the listener (prefetch 5) checks bodies, order and
// properties, rejects message 3 once with requeue (it must come back redelivered), acks the
// rest, cancels, and the queue must be empty.
const assert = require('node:assert/strict');
const amqplib = require('amqplib/callback_api');
const { amqpUri, unique, run } = require('interop-common');

const COUNT = 100;


run(() => new Promise((resolve, reject) => {
  const queue = unique('amqplib-cb-pca');
  amqplib.connect(amqpUri(), (err, conn) => {
    if (err) return reject(err);
    conn.on('error', reject);
    conn.createChannel((err, listener) => {
      if (err) return reject(err);
      listener.on('error', reject);
      listener.assertQueue(queue, { durable: false }, (err, ok) => {
        if (err) return reject(err);
        assert.equal(ok.queue, queue);
        const firsts = [];
        const again = [];
        listener.prefetch(5);
        listener.consume(queue, (msg) => {
          try {
            const i = Number(msg.content.toString().slice(4));
            assert.equal(msg.properties.correlationId, `corr-${i}`);
            assert.equal(msg.properties.type, 'greeting');
            assert.deepEqual(msg.properties.headers, { index: i });
            if (msg.fields.redelivered) {
              again.push(i);
              listener.ack(msg);
            } else {
              firsts.push(i);
              if (i === 3) listener.reject(msg, true);
              else listener.ack(msg);
            }
            if (firsts.length + again.length < COUNT + 1) return;
            assert.deepEqual(firsts, [...Array(COUNT).keys()]);
            assert.deepEqual(again, [3]);
            listener.cancel(msg.fields.consumerTag, (err) => {
              if (err) return reject(err);
              listener.checkQueue(queue, (err, q) => {
                if (err) return reject(err);
                assert.equal(q.messageCount, 0);
                listener.deleteQueue(queue, {}, (err) => {
                  if (err) return reject(err);
                  conn.close((err) => (err ? reject(err) : resolve()));
                });
              });
            });
          } catch (e) {
            reject(e);
          }
        }, { noAck: false }, (err) => {
          if (err) return reject(err);
          conn.createChannel((err, sender) => {
            if (err) return reject(err);
            for (let i = 0; i < COUNT; i++) {
              sender.sendToQueue(queue, Buffer.from(`msg ${i}`), {
                correlationId: `corr-${i}`, type: 'greeting', headers: { index: i },
              });
            }
          });
        });
      });
    });
  });
}));
