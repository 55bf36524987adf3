'use strict';
// amqplib, callback API: one very large message, then many small ones.
//
// 1. A 16 MiB body of random bytes is published on a ConfirmChannel (its confirm callback
//    must fire without error), consumed back (manual ack) and compared by SHA-256 and length,
//    with its properties; the queue is then empty.
// 2. 10,000 small messages of varying length 0..100 bytes (message i has i % 101 random
//    bytes, so message 0 has an empty body) are published with confirms (all acked), then
//    consumed back with prefetch 500 and multiple acks: every body byte-for-byte equal, in
//    publish order, none redelivered; the queue ends empty.
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const amqplib = require('amqplib/callback_api');
const { amqpUri, unique, run } = require('interop-common');
const { scenario, publishConfirmed } = require('./helpers/callbacks');

const LARGE = 16 * 1024 * 1024;
const SMALL = 10000;

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

run(scenario(({ ok, guard, fail, done, within, owned }) => {
  const queue = unique('amqplib-cb-large-small');
  const large = crypto.randomBytes(LARGE);
  const largeDigest = sha256(large);
  const small = [];
  for (let i = 0; i < SMALL; i++) small.push(crypto.randomBytes(i % 101));

  amqplib.connect(amqpUri(), ok((conn) => {
    conn.on('error', fail);
    conn.createConfirmChannel(ok((pub) => {
      pub.on('error', fail);
      conn.createChannel(ok((sub) => {
        sub.on('error', fail);
        owned.queues.push(queue);
        pub.assertQueue(queue, { durable: false }, ok(() => largeRoundTrip(conn, pub, sub)));
      }));
    }));
  }));

  function largeRoundTrip(conn, pub, sub) {
    const deadline = within(15000, 'the 16 MiB message to be confirmed and consumed');
    let confirmed = false;
    let received = null;
    const check = () => {
      if (!confirmed || !received) return;
      deadline.clear();
      sub.ack(received);
      sub.cancel(received.fields.consumerTag, ok(() => {
        assert.equal(received.content.length, LARGE, 'length of the large body');
        assert.equal(sha256(received.content), largeDigest, 'SHA-256 of the large body');
        assert.equal(received.properties.messageId, 'large');
        assert.equal(received.properties.contentType, 'application/octet-stream');
        assert.equal(received.fields.redelivered, false);
        sub.checkQueue(queue, ok((q) => {
          assert.equal(q.messageCount, 0, 'messages left after the large one');
          smallRoundTrip(conn, pub, sub);
        }));
      }));
    };
    sub.prefetch(1);
    sub.consume(queue, guard((msg) => {
      assert.equal(received, null, 'more than one message arrived in the large phase');
      received = msg;
      check();
    }), { noAck: false }, ok(() => {
      pub.sendToQueue(queue, large, { messageId: 'large', contentType: 'application/octet-stream' }, ok(() => {
        confirmed = true;
        check();
      }));
    }));
  }

  function smallRoundTrip(conn, pub, sub) {
    const deadline = within(20000, 'the small messages to be confirmed and consumed');
    let next = 0;
    let published = false;
    let consumerTag = null;
    const check = () => {
      if (!published || next < SMALL) return;
      deadline.clear();
      sub.cancel(consumerTag, ok(() => {
        sub.checkQueue(queue, ok((q) => {
          assert.equal(q.messageCount, 0, 'messages left after draining');
          sub.deleteQueue(queue, {}, ok((del) => {
            assert.equal(del.messageCount, 0);
            conn.close(ok(done));
          }));
        }));
      }));
    };
    sub.prefetch(500);
    sub.consume(queue, guard((msg) => {
      assert.ok(next < SMALL, `unexpected extra message (${msg.content.length} bytes)`);
      assert.equal(msg.fields.redelivered, false, `message ${next} flagged redelivered`);
      if (!msg.content.equals(small[next])) {
        throw new Error(`message ${next}: body differs (got ${msg.content.length} bytes, `
          + `expected ${small[next].length})`);
      }
      assert.equal(msg.properties.messageId, String(next), 'message id, i.e. publish order');
      next += 1;
      if (next % 100 === 0 || next === SMALL) sub.ack(msg, true);
      check();
    }), { noAck: false }, ok((consumeOk) => {
      consumerTag = consumeOk.consumerTag;
      publishConfirmed(pub, SMALL, 1000, (i, confirmCb) => pub.sendToQueue(queue, small[i], { messageId: String(i) }, confirmCb),
        ok(() => {
          published = true;
          check();
        }));
    }));
  }
}));
