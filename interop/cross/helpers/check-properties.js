'use strict';
// Reads two copies of the message published by properties-python-to-node.py: the first with
// amqplib, the second with @cloudamqp/amqp-client, and checks every property and header.
// The expected values are written out here independently of the Python side.
const assert = require('node:assert/strict');
const amqplib = require('amqplib');
const { AMQPClient } = require('@cloudamqp/amqp-client');
const { amqpUri, run } = require('interop-common');

const queue = process.argv[2];
const user = process.env.EXPECTED_USER || 'guest';
const BODY = '{"hello": "node", "n": 1}';
const TS = 1704164645; // 2024-01-02T03:04:05Z

function checkIntegers(h) {
  assert.equal(Number(h.int8), -42);
  assert.equal(Number(h.int16), -1000);
  assert.equal(Number(h.uint16), 40000);
  assert.equal(Number(h.int32), -100000);
  assert.equal(Number(h.uint32), 3000000000);
  assert.equal(Number(h.int64), -(2 ** 40 + 5));
}

async function withAmqplib() {
  const conn = await amqplib.connect(amqpUri());
  const ch = await conn.createChannel();
  const msg = await ch.get(queue, { noAck: false });
  assert.ok(msg, 'amqplib: a message is waiting');
  assert.equal(msg.content.toString('utf8'), BODY);
  assert.equal(msg.fields.messageCount, 1);
  const p = msg.properties;
  assert.equal(p.contentType, 'application/json');
  assert.equal(p.contentEncoding, 'identity');
  assert.equal(p.deliveryMode, 2);
  assert.equal(p.priority, 7);
  assert.equal(p.correlationId, 'corr-123');
  assert.equal(p.replyTo, 'reply.queue');
  assert.equal(p.expiration, '600000');
  assert.equal(p.messageId, 'msg-456');
  assert.equal(p.timestamp, TS);
  assert.equal(p.type, 'order.created');
  assert.equal(p.userId, user);
  assert.equal(p.appId, 'interop-python');
  assert.equal(p.clusterId, undefined);
  const h = p.headers;
  assert.deepEqual(Object.keys(h).sort(), ['array', 'bool_false', 'bool_true', 'bytes', 'decimal',
    'empty', 'float', 'int16', 'int32', 'int64', 'int8', 'str', 'table', 'timestamp', 'uint16',
    'uint32', 'void']);
  assert.equal(h.str, 'héllo wörld');
  checkIntegers(h);
  assert.equal(h.bool_true, true);
  assert.equal(h.bool_false, false);
  assert.equal(h.float, 2.5);
  assert.deepEqual(h.decimal, { '!': 'decimal', value: { places: 5, digits: 314159 } });
  assert.deepEqual(h.timestamp, { '!': 'timestamp', value: TS });
  assert.deepEqual(h.table, { inner: 'value', depth: { n: 1 } });
  assert.deepEqual(h.array, [1, 'two', true, null, { k: 'v' }]);
  assert.ok(Buffer.isBuffer(h.bytes), 'bytes header decodes to a Buffer');
  assert.deepEqual([...h.bytes], [0x00, 0x01, 0xfe, 0xff]);
  assert.equal(h.void, null);
  assert.equal(h.empty, '');
  ch.ack(msg);
  await ch.close();
  await conn.close();
}

async function withAmqpClient() {
  const conn = await new AMQPClient(amqpUri()).connect();
  const ch = await conn.channel();
  const msg = await ch.basicGet(queue, { noAck: false });
  assert.ok(msg, 'amqp-client: a message is waiting');
  assert.equal(msg.bodyToString(), BODY);
  assert.equal(msg.messageCount, 0);
  const p = msg.properties;
  assert.equal(p.contentType, 'application/json');
  assert.equal(p.contentEncoding, 'identity');
  assert.equal(p.deliveryMode, 2);
  assert.equal(p.priority, 7);
  assert.equal(p.correlationId, 'corr-123');
  assert.equal(p.replyTo, 'reply.queue');
  assert.equal(p.expiration, '600000');
  assert.equal(p.messageId, 'msg-456');
  assert.equal(p.timestamp.getTime(), TS * 1000);
  assert.equal(p.type, 'order.created');
  assert.equal(p.userId, user);
  assert.equal(p.appId, 'interop-python');
  const h = p.headers;
  assert.equal(h.str, 'héllo wörld');
  checkIntegers(h);
  assert.equal(h.bool_true, true);
  assert.equal(h.bool_false, false);
  assert.equal(h.float, 2.5);
  assert.equal(h.decimal, 3.14159);
  assert.equal(h.timestamp.getTime(), TS * 1000);
  assert.deepEqual(h.table, { inner: 'value', depth: { n: 1 } });
  assert.deepEqual(h.array, [1, 'two', true, null, { k: 'v' }]);
  assert.deepEqual([...h.bytes], [0x00, 0x01, 0xfe, 0xff]);
  assert.equal(h.void, null);
  assert.equal(h.empty, '');
  await msg.ack();
  await conn.close();
}

run(async () => {
  await withAmqplib();
  await withAmqpClient();
});
