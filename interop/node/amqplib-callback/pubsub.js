'use strict';
// amqplib, callback API: publish/subscribe through a fanout and a headers exchange.
//
// Fanout: 3 subscribers, each on its own channel with an exclusive server-named queue
// (amq.gen-...) bound to the exchange and its own consumer; 100 messages and an end marker
// are published, and each subscriber must get exactly messages 0..99, in order, then the
// marker.
// Headers: queue A bound x-match=all {format: pdf, type: report}, queue B bound x-match=any
// {format: zip, type: log}; six messages with different header sets are published with
// confirms, then each queue is drained with basic.get until empty and must hold exactly:
// A = {pdf,report}, {pdf,report,extra:1}; B = {pdf,log}, {zip}.
const assert = require('node:assert/strict');
const amqplib = require('amqplib/callback_api');
const { amqpUri, unique, run } = require('interop-common');
const { scenario } = require('./helpers/callbacks');

const SUBSCRIBERS = 3;
const MESSAGES = 100;

const HEADER_MESSAGES = [
  ['pdf-report', { format: 'pdf', type: 'report' }],
  ['pdf-log', { format: 'pdf', type: 'log' }],
  ['zip', { format: 'zip' }],
  ['pdf', { format: 'pdf' }],
  ['pdf-report-extra', { format: 'pdf', type: 'report', extra: 1 }],
  ['no-headers', undefined],
];
const EXPECTED = { A: ['pdf-report', 'pdf-report-extra'], B: ['pdf-log', 'zip'] };

run(scenario(({ ok, guard, fail, done, within, owned }) => {
  const fanout = unique('amqplib-cb-fanout');
  const headersEx = unique('amqplib-cb-headers');
  const queues = { A: unique('amqplib-cb-headers-a'), B: unique('amqplib-cb-headers-b') };

  amqplib.connect(amqpUri(), ok((conn) => {
    conn.on('error', fail);
    conn.createChannel(ok((pub) => {
      pub.on('error', fail);
      owned.exchanges.push(fanout);
      pub.assertExchange(fanout, 'fanout', { durable: false }, ok(() => subscribe(conn, pub)));
    }));
  }));

  function subscribe(conn, pub) {
    const got = [];
    let ready = 0;
    let finished = 0;
    const deadline = within(15000, 'every subscriber to receive the fanout messages');
    for (let s = 0; s < SUBSCRIBERS; s++) {
      got.push([]);
      conn.createChannel(ok((ch) => {
        ch.on('error', fail);
        ch.assertQueue('', { exclusive: true }, ok((q) => {
          assert.match(q.queue, /^amq\.gen-/, 'server-named queue');
          ch.bindQueue(q.queue, fanout, '');
          ch.consume(q.queue, guard((msg) => {
            const body = msg.content.toString();
            if (body !== 'end') {
              got[s].push(Number(body));
              return;
            }
            assert.deepEqual(got[s], [...Array(MESSAGES).keys()], `subscriber ${s}: messages in order`);
            if (++finished < SUBSCRIBERS) return;
            deadline.clear();
            headers(conn, pub);
          }), { noAck: true }, ok(() => {
            if (++ready < SUBSCRIBERS) return;
            for (let i = 0; i < MESSAGES; i++) pub.publish(fanout, '', Buffer.from(String(i)));
            pub.publish(fanout, '', Buffer.from('end'));
          }));
        }));
      }));
    }
  }

  function headers(conn, pub) {
    pub.deleteExchange(fanout, {}, ok(() => conn.createConfirmChannel(ok((ch) => {
      ch.on('error', fail);
      owned.exchanges.push(headersEx);
      owned.queues.push(queues.A, queues.B);
      ch.assertExchange(headersEx, 'headers', { durable: false });
      ch.assertQueue(queues.A, { durable: false });
      ch.assertQueue(queues.B, { durable: false });
      ch.bindQueue(queues.A, headersEx, '', { 'x-match': 'all', format: 'pdf', type: 'report' });
      ch.bindQueue(queues.B, headersEx, '', { 'x-match': 'any', format: 'zip', type: 'log' }, ok(() => {
        for (const [name, hdrs] of HEADER_MESSAGES) {
          ch.publish(headersEx, '', Buffer.from(name), hdrs ? { headers: hdrs } : {});
        }
        const deadline = within(10000, 'confirms for the headers-exchange messages');
        // Once confirmed, every message has been routed and enqueued.
        ch.waitForConfirms(ok(() => {
          deadline.clear();
          drain(ch, 'A', [], () => drain(ch, 'B', [], () => {
            ch.deleteQueue(queues.A, {});
            ch.deleteQueue(queues.B, {});
            ch.deleteExchange(headersEx, {}, ok(() => conn.close(ok(done))));
          }));
        }));
      }));
    }))));
  }

  // basic.get until the queue is empty, then compare with the expected bodies.
  function drain(ch, which, bodies, k) {
    ch.get(queues[which], { noAck: true }, ok((msg) => {
      if (msg) {
        bodies.push(msg.content.toString());
        return drain(ch, which, bodies, k);
      }
      assert.deepEqual(bodies, EXPECTED[which], `messages in headers queue ${which}`);
      return k();
    }));
  }
}));
