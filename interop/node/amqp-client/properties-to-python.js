'use strict';
// @cloudamqp/amqp-client -> Python: the canonical property and header set, read by pika.
//
// One message with every basic property and a header of every AMQP field type
// amqp-client can encode is published (confirmed) to a fresh durable queue through the
// default exchange; then interop/cross/helpers/check_properties.py gets it with Python
// and compares body, properties and decoded header values. Its exit status is ours.
//
// amqp-client picks the field type from the JavaScript type (AMQPView.setField):
// string -> S, boolean -> t, integer number -> I (int32) or, beyond +-2^32, l, other
// number -> f (float32) or, beyond +-2^32, d; bigint -> l; Uint8Array -> x; Date -> T;
// null/undefined -> V; array -> A; other object -> F. So:
// - b, B, s, u, I and i values go out as I (or l), their decoded values unchanged; u32
//   4000000000 is passed as a bigint (l), because as a number it would be written as an
//   I and wrap to -294967296;
// - f64 3.25 goes out as f (float32), which holds 3.25 exactly;
// - `decimal` (D) is skipped: no JavaScript value makes amqp-client write a decimal
//   (it can only read them).
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { unique, uriUser, run } = require('interop-common');
const { connect, closeQuietly, dropAll } = require('./helpers/common');

const APP_ID = 'interop-amqp-client';
const SKIP = ['decimal'];
const TIMESTAMP = new Date(1700000000 * 1000);

run(async () => {
  const queue = unique('amqp-client-props');
  let conn;
  try {
    conn = await connect({ name: 'properties-to-python' });
    const ch = await conn.channel();
    await ch.queueDeclare(queue, { durable: true });
    await ch.confirmSelect();
    await ch.basicPublish('', queue, '{"order": 42, "note": "properties"}', {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      deliveryMode: 2,
      priority: 5,
      correlationId: 'corr-7f3a',
      replyTo: 'interop.reply',
      expiration: '600000',
      messageId: 'msg-0042',
      timestamp: TIMESTAMP,
      type: 'order.created',
      userId: uriUser(),
      appId: APP_ID,
      headers: {
        string: 'h\u00e9llo, w\u00f6rld \u2713',
        empty_string: '',
        i8: -8,
        u8: 200,
        i16: -1600,
        u16: 60000,
        i32: -320000,
        u32: 4000000000n,
        i64: -6400000000,
        f32: 1.5,
        f64: 3.25,
        timestamp: TIMESTAMP,
        bool_true: true,
        bool_false: false,
        bytes: new Uint8Array([0x00, 0x01, 0xfe, 0xff]),
        void: null,
        table: { nested: 'yes', n: 7 },
        array: [1, 'two', true],
      },
    });

    const dir = process.env.INTEROP_DIR || path.join(__dirname, '..', '..');
    const python = process.env.INTEROP_PYTHON || path.join(dir, '.cache', 'venv', 'bin', 'python');
    const checker = spawnSync(python, [path.join(dir, 'cross', 'helpers', 'check_properties.py'),
      '--queue', queue, '--app-id', APP_ID, '--skip', SKIP.join(',')],
    { stdio: 'inherit', timeout: 60000 });
    if (checker.error) throw checker.error;
    assert.equal(checker.status, 0, 'the Python checker found differences (see above)');

    await ch.queueDelete(queue);
    await conn.close();
  } catch (err) {
    await closeQuietly(conn);
    await dropAll({ queues: [queue] });
    throw err;
  }
});
