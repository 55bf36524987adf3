'use strict';
// amqplib, callback API: heartbeats keep an idle connection open.
//
// Connects asking for a heartbeat of INTEROP_HEARTBEAT seconds (default 1; the `heartbeat`
// URL parameter amqplib documents), checks the negotiated value, declares a queue, then
// sends nothing for INTEROP_IDLE_SECONDS (default 4) while amqplib's heartbeater runs. The
// connection must neither close nor report an error during the idle period: amqplib itself
// closes it with "Heartbeat timeout" when it hears nothing from the broker for two
// intervals, and the broker drops it if the client's heartbeats do not arrive. Afterwards a
// publish and a basic.get round trip must still work.
// (Silencing the client to see the broker drop it is not checked: amqplib has no public
// way to stop its own heartbeats.)
const assert = require('node:assert/strict');
const amqplib = require('amqplib/callback_api');
const { amqpUri, unique, run } = require('interop-common');
const { scenario } = require('./helpers/callbacks');

const HEARTBEAT = parseInt(process.env.INTEROP_HEARTBEAT || '1', 10);
const IDLE_SECONDS = parseFloat(process.env.INTEROP_IDLE_SECONDS || '4');

run(scenario(({ ok, guard, fail, done, owned }) => {
  const url = new URL(amqpUri());
  url.searchParams.set('heartbeat', String(HEARTBEAT));
  const queue = unique('amqplib-cb-heartbeats');

  amqplib.connect(url.toString(), ok((conn) => {
    let closed = null;
    conn.on('error', (err) => fail(new Error(`connection error during the idle period: ${err.message}`)));
    conn.on('close', (err) => {
      closed = err || new Error('closed');
    });
    assert.equal(conn.connection.heartbeat, HEARTBEAT, 'negotiated heartbeat (tune-ok)');
    conn.createChannel(ok((ch) => {
      ch.on('error', fail);
      owned.queues.push(queue);
      ch.assertQueue(queue, { durable: false }, ok(() => {
        // The one intentional wait: no traffic from this program for the idle period.
        setTimeout(guard(() => {
          assert.equal(closed, null, 'connection closed during an idle period with heartbeats');
          ch.sendToQueue(queue, Buffer.from('still here'), { messageId: 'after-idle' });
          ch.get(queue, { noAck: true }, ok((msg) => {
            assert.ok(msg, 'the message published after the idle period was not there');
            assert.equal(msg.content.toString(), 'still here');
            assert.equal(msg.properties.messageId, 'after-idle');
            ch.deleteQueue(queue, {}, ok(() => conn.close(ok(done))));
          }));
        }), IDLE_SECONDS * 1000);
      }));
    }));
  }));
}), 30000 + IDLE_SECONDS * 1000);
