'use strict';
// amqplib, promise API: heartbeats (scenario G of the interop catalogue).
//
// Environment: INTEROP_HEARTBEAT (seconds the client asks for with amqplib's `heartbeat`
// URL parameter, default 1) and INTEROP_IDLE_SECONDS (default 4).
// 1. A connection asking for that heartbeat must negotiate exactly it. It then idles (no
//    traffic from the program; amqplib's own timer sends heartbeats) for the idle period:
//    the connection must stay open (amqplib itself would drop it after two intervals
//    without anything from the broker), the broker must have sent heartbeat frames and
//    nothing else in the meantime (socket bytes read: a multiple of the 8-byte
//    heartbeat frame, at least one per two intervals), and a publish + consume round trip
//    must work afterwards.
// 2. A second connection negotiates the same heartbeat, then its heartbeats are stopped
//    (amqplib has no public switch for this; the scenario clears the connection's internal
//    heartbeat timer, which also stops amqplib's own check). The broker must close the
//    connection after missing heartbeats (RabbitMQ does so after about two intervals).
const assert = require('node:assert/strict');
const amqplib = require('amqplib');
const { amqpUri, unique, Monitor, withTimeout, run } = require('interop-common');

const HEARTBEAT = Number(process.env.INTEROP_HEARTBEAT || 1);
const IDLE = Number(process.env.INTEROP_IDLE_SECONDS || 4);
const HEARTBEAT_FRAME = 8; // type 8, channel 0, size 0, frame-end

function uriWithHeartbeat() {
  const url = new URL(amqpUri());
  url.searchParams.set('heartbeat', String(HEARTBEAT));
  return url.toString();
}

async function keptAlive() {
  const conn = await amqplib.connect(uriWithHeartbeat());
  let closed = null;
  conn.on('error', (err) => { closed = closed || err; });
  conn.on('close', (err) => { closed = closed || err || new Error('connection closed'); });
  assert.equal(conn.connection.heartbeat, HEARTBEAT, 'negotiated heartbeat');
  const ch = await conn.createChannel();
  const { queue } = await ch.assertQueue('', { exclusive: true });

  const socket = conn.connection.stream;
  const [read0, written0] = [socket.bytesRead, socket.bytesWritten];
  // The one intentional wait: an idle period with nothing but heartbeats on the wire.
  await new Promise((resolve) => setTimeout(resolve, IDLE * 1000));
  assert.equal(closed, null, `connection closed during the idle period: ${closed}`);
  const read = socket.bytesRead - read0;
  const written = socket.bytesWritten - written0;
  const frames = read / HEARTBEAT_FRAME;
  console.log(`idle ${IDLE}s at heartbeat ${HEARTBEAT}s: ${frames} heartbeat frames received, `
    + `${written / HEARTBEAT_FRAME} sent`);
  assert.equal(read % HEARTBEAT_FRAME, 0, `bytes from the broker while idle (${read}): heartbeats only`);
  const minFrames = Math.floor(IDLE / (2 * HEARTBEAT));
  assert.ok(frames >= minFrames, `only ${frames} heartbeat frames from the broker in ${IDLE}s`);
  assert.equal(written % HEARTBEAT_FRAME, 0, `bytes sent while idle (${written}): heartbeats only`);
  if (IDLE >= HEARTBEAT) assert.ok(written > 0, 'amqplib sent no heartbeats while idle');

  const monitor = new Monitor();
  const got = [];
  await ch.consume(queue, monitor.guard((msg) => {
    assert.ok(msg, 'consumer cancelled by the broker');
    got.push(msg.content.toString());
  }), { noAck: true });
  ch.sendToQueue(queue, Buffer.from('still here'));
  await monitor.until('the message after the idle period', 10000, () => got.length > 0);
  assert.deepEqual(got, ['still here']);
  await ch.close();
  await conn.close();
}

async function silentClientDropped() {
  const conn = await amqplib.connect(uriWithHeartbeat());
  assert.equal(conn.connection.heartbeat, HEARTBEAT, 'negotiated heartbeat');
  conn.on('error', () => {}); // the expected outcome is reported through 'close'
  const closed = new Promise((resolve) => conn.once('close', resolve));
  const ch = await conn.createChannel();
  await ch.assertQueue(unique('silent'), { exclusive: true });
  // Go silent: no more heartbeats from this client (and no checks of the broker's).
  conn.connection.heartbeater.clear();
  const started = Date.now();
  const err = await withTimeout('the broker to drop a client that sends no heartbeats',
    (HEARTBEAT * 4 + 4) * 1000, closed);
  console.log(`silent connection closed by the broker after ${Date.now() - started}ms (${err})`);
  assert.ok(err, 'the connection was closed by the broker, not by the client');
}

run(async () => {
  await keptAlive();
  await silentClientDropped();
}, (IDLE + HEARTBEAT * 4 + 30) * 1000);
