'use strict';
// amqplib, callback API: RabbitMQ tutorial 6 (RPC), written as the tutorial's
// rpc_server.js / rpc_client.js are.
//
// The server has its own connection, prefetch 1, consumes the request queue, replies with
// fib(n) to replyTo carrying the request's correlationId, and acks. The client has an
// exclusive server-named callback queue (amq.gen-...) and matches replies by correlation id:
// 10 sequential calls, then a batch of 25 concurrent calls, with a stray reply (unknown
// correlation id) put into the callback queue in the middle of the batch, which the client
// must ignore. Checks every result, that the server handled each request exactly once in
// the order sent, that the stray reply was the only ignored message, and that the callback
// queue is gone (404) once the client's connection is closed.
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const amqplib = require('amqplib/callback_api');
const { amqpUri, unique, run } = require('interop-common');
const { scenario } = require('./helpers/callbacks');

const SEQUENTIAL = 10;
const BATCH = 25;

function fib(n) {
  let a = 0;
  let b = 1;
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

// noDelay (an amqplib socket option): each call is a few small frames; with Nagle's
// algorithm every sequential round trip would wait on delayed TCP acks.
const SOCKET_OPTIONS = { noDelay: true };

run(scenario(({ ok, guard, fail, done, within, owned }) => {
  const rpcQueue = unique('amqplib-cb-rpc');
  const served = [];

  // ---- server: its own connection -------------------------------------------------------
  amqplib.connect(amqpUri(), SOCKET_OPTIONS, ok((serverConn) => {
    serverConn.on('error', fail);
    serverConn.createChannel(ok((sch) => {
      sch.on('error', fail);
      owned.queues.push(rpcQueue);
      sch.assertQueue(rpcQueue, { durable: false });
      sch.prefetch(1);
      sch.consume(rpcQueue, guard((msg) => {
        const n = parseInt(msg.content.toString(), 10);
        served.push(n);
        sch.sendToQueue(msg.properties.replyTo, Buffer.from(String(fib(n))), {
          correlationId: msg.properties.correlationId,
        });
        sch.ack(msg);
      }), { noAck: false }, ok(() => startClient(serverConn, sch)));
    }));
  }));

  // ---- client -----------------------------------------------------------------------------
  function startClient(serverConn, sch) {
    amqplib.connect(amqpUri(), SOCKET_OPTIONS, ok((conn) => {
      conn.on('error', fail);
      conn.createChannel(ok((ch) => {
        ch.on('error', fail);
        ch.assertQueue('', { exclusive: true }, ok((q) => {
          const callbackQueue = q.queue;
          assert.match(callbackQueue, /^amq\.gen-/, 'server-named callback queue');
          const pending = new Map(); // correlationId -> callback(result)
          const ignored = [];
          ch.consume(callbackQueue, guard((msg) => {
            const k = pending.get(msg.properties.correlationId);
            if (!k) {
              ignored.push(msg.properties.correlationId);
              return;
            }
            pending.delete(msg.properties.correlationId);
            k(parseInt(msg.content.toString(), 10));
          }), { noAck: true }, ok(() => {
            const call = (n, k) => {
              const correlationId = crypto.randomUUID();
              pending.set(correlationId, k);
              ch.sendToQueue(rpcQueue, Buffer.from(String(n)), { correlationId, replyTo: callbackQueue });
            };
            const deadline = within(20000, 'RPC replies');

            // Sequential calls: each waits for the previous reply.
            const sequential = (n) => {
              if (n === SEQUENTIAL) return batch();
              return call(n, guard((result) => {
                assert.equal(result, fib(n), `fib(${n})`);
                sequential(n + 1);
              }));
            };

            // Concurrent calls, with a stray reply dropped into the callback queue midway.
            const batch = () => {
              const results = new Array(BATCH).fill(null);
              let left = BATCH;
              for (let i = 0; i < BATCH; i++) {
                const n = SEQUENTIAL + i;
                if (i === Math.floor(BATCH / 2)) {
                  ch.sendToQueue(callbackQueue, Buffer.from('999'), { correlationId: 'stray-reply' });
                }
                call(n, guard((result) => {
                  results[i] = result;
                  if (--left > 0) return;
                  deadline.clear();
                  for (let j = 0; j < BATCH; j++) assert.equal(results[j], fib(SEQUENTIAL + j), `fib(${SEQUENTIAL + j})`);
                  assert.deepEqual(ignored, ['stray-reply'], 'replies ignored by the client');
                  assert.deepEqual(served, [...Array(SEQUENTIAL + BATCH).keys()], 'requests served, in order');
                  finish(serverConn, sch, conn, callbackQueue);
                }));
              }
            };
            sequential(0);
          }));
        }));
      }));
    }));
  }

  function finish(serverConn, sch, conn, callbackQueue) {
    conn.close(ok(() => {
      // The exclusive callback queue went away with its connection.
      serverConn.createChannel(ok((probe) => {
        const deadline = within(10000, 'a 404 for the closed client\'s callback queue');
        probe.on('error', guard((err) => {
          deadline.clear();
          assert.equal(err.code, 404, `checkQueue on the callback queue: ${err.message}`);
          sch.deleteQueue(rpcQueue, {}, ok((del) => {
            assert.equal(del.messageCount, 0, 'requests left in the RPC queue');
            serverConn.close(ok(done));
          }));
        }));
        probe.checkQueue(callbackQueue, (err) => {
          if (!err) fail(new Error(`callback queue ${callbackQueue} still exists after its connection closed`));
        });
      }));
    }));
  }
}));
