'use strict';
// amqplib, callback API: publisher confirms with per-message callbacks and waitForConfirms.
// 300 persistent messages to a durable queue; each callback must fire once without error;
// then the queue must hold exactly 300, fetched back in order with basic.get.
const assert = require('node:assert/strict');
const amqplib = require('amqplib/callback_api');
const { amqpUri, unique, run } = require('interop-common');

const COUNT = 300;

run(() => new Promise((resolve, reject) => {
  const queue = unique('amqplib-cb-confirms');
  // noDelay: one basic.get per round trip would otherwise wait on Nagle + delayed ACKs.
  amqplib.connect(amqpUri(), { noDelay: true }, (err, conn) => {
    if (err) return reject(err);
    conn.createConfirmChannel((err, ch) => {
      if (err) return reject(err);
      ch.on('error', reject);
      ch.assertQueue(queue, { durable: true }, (err) => {
        if (err) return reject(err);
        const confirmed = new Array(COUNT).fill(0);
        for (let i = 0; i < COUNT; i++) {
          ch.sendToQueue(queue, Buffer.from(String(i)), { persistent: true }, (err) => {
            if (err) return reject(err);
            confirmed[i] += 1;
          });
        }
        ch.waitForConfirms((err) => {
          if (err) return reject(err);
          try {
            assert.ok(confirmed.every((n) => n === 1), 'each publish confirmed once');
          } catch (e) {
            return reject(e);
          }
          let next = 0;
          const getOne = () => ch.get(queue, { noAck: false }, (err, msg) => {
            if (err) return reject(err);
            try {
              if (next === COUNT) {
                assert.equal(msg, false, 'basic.get-empty after draining');
                return ch.deleteQueue(queue, {}, (err) => {
                  if (err) return reject(err);
                  conn.close((err) => (err ? reject(err) : resolve()));
                });
              }
              assert.equal(msg.content.toString(), String(next));
              assert.equal(msg.properties.deliveryMode, 2);
              assert.equal(msg.fields.messageCount, COUNT - next - 1);
              ch.ack(msg);
              next += 1;
              getOne();
            } catch (e) {
              reject(e);
            }
          });
          getOne();
        });
      });
    });
  });
}));
