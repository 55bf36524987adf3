'use strict';
// @cloudamqp/amqp-client: a connection with a short heartbeat survives an idle period.
//
// The client asks for INTEROP_HEARTBEAT seconds (default 1) with the library's
// `?heartbeat=` URI option; the negotiated value (conn.heartbeat, the smaller of the
// client's and the broker's) must equal the request. The program then sends nothing for
// INTEROP_IDLE_SECONDS (default 4): amqp-client sends a heartbeat only in answer to one
// from the broker, and destroys its socket if nothing at all arrives for one heartbeat
// interval, so the connection stays up only if the broker keeps sending heartbeats and
// accepts the answers. Afterwards the connection must still be open, bytes (heartbeat
// frames) must have arrived while idle, and a publish + basic.get round trip must work.
// Not checked: that the broker drops a client that goes silent. amqp-client cannot be
// made to stop answering heartbeats while still reading, and if it stops reading it
// closes the socket itself after one interval, before any broker would.
const assert = require('node:assert/strict');
const { run } = require('interop-common');
const { connect, closeQuietly } = require('./helpers/common');

const HEARTBEAT = Number(process.env.INTEROP_HEARTBEAT || 1);
const IDLE = Number(process.env.INTEROP_IDLE_SECONDS || 4);

run(async () => {
  let conn;
  try {
    conn = await connect({ heartbeat: HEARTBEAT, name: 'heartbeats' });
    assert.equal(conn.heartbeat, HEARTBEAT, 'negotiated heartbeat');
    const ch = await conn.channel();
    const q = await ch.queueDeclare('', { exclusive: true });
    let lost = null;
    conn.onerror = (err) => { lost = err; };
    let received = 0;
    conn.socket.on('data', (buf) => { received += buf.length; });

    // The idle period itself: no traffic from this program.
    await new Promise((resolve) => setTimeout(resolve, IDLE * 1000));

    assert.equal(lost, null, 'connection error while idle');
    assert.equal(conn.closed, false, 'connection closed during an idle period with heartbeats');
    const frames = received / 8; // a heartbeat frame is 8 bytes, nothing else was sent to us
    assert.ok(frames >= Math.max(1, Math.floor(IDLE / HEARTBEAT / 2)),
      `only ${received} bytes from the broker in ${IDLE}s at heartbeat ${HEARTBEAT}s`);
    await ch.basicPublish('', q.name, 'still here');
    const msg = await ch.basicGet(q.name, { noAck: true });
    assert.equal(msg && msg.bodyToString(), 'still here', 'message after the idle period');
    console.log(`heartbeat ${conn.heartbeat}s: ${frames} heartbeat frames in ${IDLE}s idle`);
    await ch.queueDelete(q.name);
    await conn.close();
  } catch (err) {
    await closeQuietly(conn);
    throw err;
  }
}, (IDLE + 30) * 1000);
