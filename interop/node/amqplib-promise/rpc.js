'use strict';
// amqplib, promise API: RabbitMQ tutorial 6, RPC (scenario D of the interop catalogue).
//
// The server has its own connection, declares the RPC queue, sets prefetch 1, computes
// fib(n) and replies to the request's replyTo with its correlationId, then acks. The client
// (another connection) declares an exclusive server-named callback queue (amq.gen-...),
// consumes it with noAck, and matches replies to pending calls by correlationId: 15
// sequential calls, then a stray reply with an unknown correlationId (ignored, never taken
// for a pending call), then a batch of 25 concurrent calls. Checks: every answer right;
// the server saw every request once, in publish order; after the client's connection
// closes its callback queue is gone (checkQueue fails with 404).
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const amqplib = require('amqplib');
const { amqpUri, unique, withTimeout, deleteAll, run } = require('interop-common');

const RPC_QUEUE = unique('rpc_queue');

function fib(n) {
  let [a, b] = [0, 1];
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

async function startServer() {
  const conn = await amqplib.connect(amqpUri());
  const ch = await conn.createChannel();
  await ch.assertQueue(RPC_QUEUE, { durable: false });
  await ch.prefetch(1);
  const served = [];
  await ch.consume(RPC_QUEUE, (msg) => {
    if (msg === null) return; // cancelled by the broker: the client side notices the silence
    const n = parseInt(msg.content.toString(), 10);
    served.push(n);
    ch.sendToQueue(msg.properties.replyTo, Buffer.from(fib(n).toString()), {
      correlationId: msg.properties.correlationId,
    });
    ch.ack(msg);
  });
  return { conn, ch, served };
}

class FibonacciRpcClient {
  async open() {
    this.conn = await amqplib.connect(amqpUri());
    this.ch = await this.conn.createChannel();
    const { queue } = await this.ch.assertQueue('', { exclusive: true });
    this.callbackQueue = queue;
    this.pending = new Map();
    this.unmatched = [];
    await this.ch.consume(queue, (msg) => {
      if (msg === null) return;
      const id = msg.properties.correlationId;
      const resolve = this.pending.get(id);
      if (resolve) {
        this.pending.delete(id);
        resolve(parseInt(msg.content.toString(), 10));
      } else {
        this.unmatched.push({ id, body: msg.content.toString() });
      }
    }, { noAck: true });
    return this;
  }

  call(n) {
    const correlationId = crypto.randomUUID();
    const answer = new Promise((resolve) => this.pending.set(correlationId, resolve));
    this.ch.sendToQueue(RPC_QUEUE, Buffer.from(n.toString()), {
      correlationId, replyTo: this.callbackQueue,
    });
    return withTimeout(`the reply to fib(${n})`, 20000, answer);
  }
}

run(async () => {
  const server = await startServer();
  const client = await new FibonacciRpcClient().open();
  assert.match(client.callbackQueue, /^amq\.gen-/, 'server-named callback queue');

  const sequential = [...Array(15).keys()];
  for (const n of sequential) {
    assert.equal(await client.call(n), fib(n), `fib(${n}) over RPC`);
  }

  // A reply nobody asked for (sent by another connection) must not be confused with a call.
  server.ch.sendToQueue(client.callbackQueue, Buffer.from('-1'), { correlationId: 'stray' });
  const batch = [...Array(25).keys()].map((i) => 20 + i);
  const answers = await Promise.all(batch.map((n) => client.call(n)));
  assert.deepEqual(answers, batch.map(fib), 'batch of 25 concurrent calls');
  // The stray reply was published before the batch, from the server's channel, and every
  // batch reply came later on that same channel: it has been delivered by now.
  assert.deepEqual(client.unmatched, [{ id: 'stray', body: '-1' }], 'replies matching no call');
  assert.equal(client.pending.size, 0, 'calls left pending');
  await client.ch.close();
  await client.conn.close();

  // The exclusive callback queue went with its connection.
  const probe = await server.conn.createChannel();
  const closed = new Promise((resolve) => probe.on('error', resolve));
  await assert.rejects(probe.checkQueue(client.callbackQueue), /404/, 'callback queue after close');
  const err = await withTimeout('the probe channel to close', 10000, closed);
  assert.equal(err.code, 404);

  assert.deepEqual(server.served, [...sequential, ...batch], 'requests served, once each, in order');
  await server.ch.deleteQueue(RPC_QUEUE);
  await server.ch.close();
  await server.conn.close();
}, 60000, () => deleteAll({ queues: [RPC_QUEUE] }));
