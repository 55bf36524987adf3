'use strict';
// amqplib, callback API: load levelling. A burst queued with nobody consuming, then drained.
//
// INTEROP_BURST (default 100,000) small messages, the body carrying the sequence number, are
// published on a ConfirmChannel through a direct exchange, alternating between keys q0 and q1
// (one queue bound to each), with a window of unconfirmed messages and amqplib's 'drain'
// back-pressure; every one must be acked. With no consumer attached, each queue's depth must
// then be exactly half the burst (checkQueue). Then both queues are drained at once, each by
// its own consumer channel with prefetch 1000, acking with multiple=true every 100: every
// message exactly once, strictly in order per queue, none redelivered; queues end empty.
const assert = require('node:assert/strict');
const amqplib = require('amqplib/callback_api');
const { amqpUri, unique, run } = require('interop-common');
const { scenario, publishConfirmed } = require('./helpers/callbacks');

const BURST = parseInt(process.env.INTEROP_BURST || '100000', 10);
const PER_QUEUE = [Math.ceil(BURST / 2), Math.floor(BURST / 2)];

run(scenario(({ ok, guard, fail, done, within, owned }) => {
  const exchange = unique('amqplib-cb-levelling');
  const queues = [unique('amqplib-cb-levelling-q0'), unique('amqplib-cb-levelling-q1')];

  amqplib.connect(amqpUri(), ok((conn) => {
    conn.on('error', fail);
    conn.createConfirmChannel(ok((pub) => {
      pub.on('error', fail);
      owned.exchanges.push(exchange);
      owned.queues.push(...queues);
      pub.assertExchange(exchange, 'direct', { durable: false });
      pub.assertQueue(queues[0], { durable: true });
      pub.assertQueue(queues[1], { durable: true });
      pub.bindQueue(queues[0], exchange, 'q0');
      pub.bindQueue(queues[1], exchange, 'q1', {}, ok(() => {
        const deadline = within(30000, `confirms for the burst of ${BURST}`);
        const started = Date.now();
        publishConfirmed(pub, BURST, 5000,
          (i, confirmCb) => pub.publish(exchange, `q${i % 2}`, Buffer.from(String(i)), {}, confirmCb),
          ok(() => {
            deadline.clear();
            console.log(`burst of ${BURST} confirmed in ${Date.now() - started} ms`);
            checkDepths(conn, pub);
          }));
      }));
    }));
  }));

  function checkDepths(conn, pub) {
    pub.checkQueue(queues[0], ok((q0) => {
      pub.checkQueue(queues[1], ok((q1) => {
        assert.deepEqual([q0.messageCount, q1.messageCount], PER_QUEUE, 'queue depths after the burst');
        assert.deepEqual([q0.consumerCount, q1.consumerCount], [0, 0], 'consumers during the burst');
        drainBoth(conn, pub);
      }));
    }));
  }

  function drainBoth(conn, pub) {
    const deadline = within(40000, 'both queues to be drained');
    const started = Date.now();
    let drained = 0;
    for (let k = 0; k < 2; k++) {
      conn.createChannel(ok((ch) => {
        ch.on('error', fail);
        ch.prefetch(1000);
        let expected = k; // queue k holds k, k+2, k+4, ...
        let count = 0;
        let consumerTag = null;
        ch.consume(queues[k], guard((msg) => {
          const seq = Number(msg.content.toString());
          if (seq !== expected) throw new Error(`queue q${k}: got ${seq}, expected ${expected}`);
          assert.equal(msg.fields.redelivered, false, `message ${seq} flagged redelivered`);
          expected += 2;
          count += 1;
          if (count % 100 === 0 || count === PER_QUEUE[k]) ch.ack(msg, true);
          if (count < PER_QUEUE[k]) return;
          ch.cancel(consumerTag, ok(() => {
            ch.checkQueue(queues[k], ok((q) => {
              assert.equal(q.messageCount, 0, `messages left in q${k}`);
              if (++drained < 2) return;
              deadline.clear();
              console.log(`drained in ${Date.now() - started} ms`);
              pub.deleteQueue(queues[0], {});
              pub.deleteQueue(queues[1], {});
              pub.deleteExchange(exchange, {}, ok(() => conn.close(ok(done))));
            }));
          }));
        }), { noAck: false }, ok((consumeOk) => {
          consumerTag = consumeOk.consumerTag;
        }));
      }));
    }
  }
}));
