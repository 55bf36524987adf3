'use strict';
// amqplib, promise API: the canonical property and header set, read back by Python
// (scenario I of the interop catalogue).
//
// One message to a fresh durable queue (default exchange, routing key = the queue, on a
// ConfirmChannel, acked) with every basic property (content type and encoding, delivery
// mode 2, priority 5, correlation id, reply-to, expiration, message id, timestamp, type,
// user id = the URI's user, app id "interop-amqplib-promise") and a header of every AMQP
// field type, each with its exact type: amqplib takes a type hint {'!': type, value} for
// numbers (int8, uint8, int16, uint16, int32, uint32, int64, float, double), timestamps and
// decimals ({places, digits}); strings, booleans, Buffers, null, objects and arrays map to
// S, t, x, V, F and A by themselves. Nothing needs skipping. Then
// cross/helpers/check_properties.py (pika) basic.gets the message and compares every value;
// its exit status is this scenario's. The queue is deleted afterwards.
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { once } = require('node:events');
const amqplib = require('amqplib');
const { amqpUri, uriUser, unique, withTimeout, deleteAll, run } = require('interop-common');

const APP_ID = 'interop-amqplib-promise';
const QUEUE = unique('properties-to-python');
const INTEROP_DIR = process.env.INTEROP_DIR || path.join(__dirname, '..', '..');
const PYTHON = process.env.INTEROP_PYTHON || path.join(INTEROP_DIR, '.cache', 'venv', 'bin', 'python');
const CHECKER = path.join(INTEROP_DIR, 'cross', 'helpers', 'check_properties.py');

const BODY = Buffer.from('{"order": 42, "note": "properties"}', 'utf8');
const TIMESTAMP = 1700000000;

const HEADERS = {
  string: 'h\u00e9llo, w\u00f6rld \u2713',
  empty_string: '',
  i8: { '!': 'int8', value: -8 },
  u8: { '!': 'uint8', value: 200 },
  i16: { '!': 'int16', value: -1600 },
  u16: { '!': 'uint16', value: 60000 },
  i32: { '!': 'int32', value: -320000 },
  u32: { '!': 'uint32', value: 4000000000 },
  i64: { '!': 'int64', value: -6400000000 },
  f32: { '!': 'float', value: 1.5 },
  f64: { '!': 'double', value: 3.25 },
  decimal: { '!': 'decimal', value: { places: 2, digits: 1234 } },
  timestamp: { '!': 'timestamp', value: TIMESTAMP },
  bool_true: true,
  bool_false: false,
  bytes: Buffer.from([0x00, 0x01, 0xfe, 0xff]),
  void: null,
  table: { nested: 'yes', n: { '!': 'int32', value: 7 } },
  array: [{ '!': 'int32', value: 1 }, 'two', true],
};

run(async () => {
  const conn = await amqplib.connect(amqpUri());
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(QUEUE, { durable: true });
  let confirmed = null;
  ch.sendToQueue(QUEUE, BODY, {
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    headers: HEADERS,
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
  }, (err) => { confirmed = err || 'ack'; });
  await withTimeout('the confirm', 10000, ch.waitForConfirms());
  assert.equal(confirmed, 'ack', 'the publish confirmed');

  const checker = spawn(PYTHON, [CHECKER, '--queue', QUEUE, '--app-id', APP_ID],
    { stdio: ['ignore', 'inherit', 'inherit'] });
  const [code, signal] = await withTimeout('the Python checker', 60000, once(checker, 'exit'));
  assert.equal(signal, null, `checker killed by ${signal}`);
  assert.equal(code, 0, 'check_properties.py exit status');

  await ch.deleteQueue(QUEUE);
  await ch.close();
  await conn.close();
}, 90000, () => deleteAll({ queues: [QUEUE] }));
