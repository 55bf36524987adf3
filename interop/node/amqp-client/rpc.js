'use strict';
// @cloudamqp/amqp-client: RPC, tutorial 6 on the low-level API, then the library's own
// AMQPSession rpcServer/rpcClient.
//
// 1. A fib server on its own connection (prefetch 1, manual acks) consumes a request
//    queue and replies to reply_to with the request's correlation_id. The client, on
//    another connection, consumes an exclusive server-named callback queue (amq.gen-...)
//    and matches replies by correlation id: 15 sequential calls, then 25 concurrent ones;
//    a stray reply with an unknown correlation id, put in the callback queue before a
//    call, is ignored (that call still gets its own answer). The server must have seen
//    every request once, in publish order; after the client's connection closes its
//    callback queue is gone (a passive declare fails with 404).
// 2. The library's RPC helpers (direct reply-to, amq.rabbitmq.reply-to): 20 concurrent
//    calls through session.rpcClient() to session.rpcServer(), each answered correctly.
const assert = require('node:assert/strict');
const { AMQPSession } = require('@cloudamqp/amqp-client');
const { amqpUri, unique, run } = require('interop-common');
const { connect, Progress, within, closeQuietly, dropAll } = require('./helpers/common');

const fib = (n) => (n < 2 ? n : fib(n - 1) + fib(n - 2));

async function tutorial6(rpcQueue, conns) {
  // The server.
  const server = await connect({ name: 'rpc-server' });
  conns.push(server);
  const sch = await server.channel();
  await sch.queueDeclare(rpcQueue, { durable: false, autoDelete: false, exclusive: false });
  await sch.prefetch(1);
  const served = [];
  const progress = new Progress();
  await sch.basicConsume(rpcQueue, { noAck: false }, progress.guard(async (msg) => {
    const n = Number(msg.bodyToString());
    served.push(n);
    const { replyTo, correlationId } = msg.properties;
    await sch.basicPublish('', replyTo, String(fib(n)), { correlationId });
    await msg.ack();
  }));

  // The client: an exclusive, server-named callback queue.
  const client = await connect({ name: 'rpc-client' });
  conns.push(client);
  const cch = await client.channel();
  const callback = await cch.queueDeclare('', { exclusive: true });
  assert.match(callback.name, /^amq\.gen-/, 'server-named callback queue');
  const pending = new Map();
  const strays = [];
  await cch.basicConsume(callback.name, { noAck: true }, progress.guard((msg) => {
    const id = msg.properties.correlationId;
    const resolve = pending.get(id);
    if (!resolve) {
      strays.push(id); // not ours: ignored
      return;
    }
    pending.delete(id);
    resolve(Number(msg.bodyToString()));
  }));
  let nextId = 0;
  const call = (n) => {
    const correlationId = `corr-${process.pid}-${nextId++}`;
    const answer = new Promise((resolve) => pending.set(correlationId, resolve));
    return cch.basicPublish('', rpcQueue, String(n), { replyTo: callback.name, correlationId })
      .then(() => within(`the reply to fib(${n})`, 10000, answer));
  };

  const sequential = [...Array(15).keys()];
  for (const n of sequential) assert.equal(await call(n), fib(n), `fib(${n})`);
  const batch = [...Array(25).keys()].map((i) => (i * 7) % 23);
  const answers = await Promise.all(batch.map(call));
  assert.deepEqual(answers, batch.map(fib), 'concurrent answers');

  const stray = `stray-${process.pid}`;
  await cch.basicPublish('', callback.name, 'nobody asked', { correlationId: stray });
  assert.equal(await call(20), fib(20), 'fib(20) after a stray reply');
  assert.deepEqual(strays, [stray], 'stray replies seen (and ignored)');
  assert.equal(pending.size, 0, 'calls left without an answer');
  assert.deepEqual(served, [...sequential, ...batch, 20], 'requests served, in order');

  await client.close();
  const probe = await server.channel();
  await assert.rejects(probe.queueDeclare(callback.name, { passive: true }), /\(404\)/,
    'callback queue after its connection closed');
  await sch.queueDelete(rpcQueue);
  await server.close();
}

async function libraryRpc(rpcQueue) {
  const session = await AMQPSession.connect(amqpUri(), { maxRetries: 1 });
  try {
    await session.queue(rpcQueue, { durable: false, autoDelete: false });
    const server = await session.rpcServer(rpcQueue, (msg) => `fib=${fib(Number(msg.bodyString()))}`, 1);
    const rpc = await session.rpcClient();
    const ns = [...Array(20).keys()];
    const replies = await Promise.all(ns.map((n) => rpc.call(rpcQueue, String(n), { timeout: 10000 })));
    assert.deepEqual(replies.map((m) => m.bodyString()), ns.map((n) => `fib=${fib(n)}`), 'library RPC replies');
    await rpc.close();
    await server.close();
    const q = await session.queue(rpcQueue);
    await q.delete();
  } finally {
    await session.stop();
  }
}

run(async () => {
  const q1 = unique('amqp-client-rpc');
  const q2 = unique('amqp-client-rpc-lib');
  const conns = [];
  try {
    await tutorial6(q1, conns);
    await libraryRpc(q2);
  } catch (err) {
    await closeQuietly(...conns);
    await dropAll({ queues: [q1, q2] });
    throw err;
  }
});
