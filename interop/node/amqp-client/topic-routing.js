'use strict';
// @cloudamqp/amqp-client: topic routing, including exchange-to-exchange bindings.
//
// A topic exchange "events" routes "user.*" to a queue directly and "#.deleted" through a
// second (fanout) exchange bound to it; a third queue takes "#". Each queue must get
// exactly the keys that match, in order; a key matching two paths to the same queue
// arrives there once.
const assert = require('node:assert/strict');
const { AMQPClient } = require('@cloudamqp/amqp-client');
const { amqpUri, unique, run } = require('interop-common');

const KEYS = ['user.created', 'user.deleted', 'order.deleted', 'user.profile.updated', 'user', 'order.item.deleted'];
const EXPECTED = {
  users: ['user.created', 'user.deleted'],
  deletions: ['user.deleted', 'order.deleted', 'order.item.deleted'],
  all: KEYS,
};

run(async () => {
  const conn = await new AMQPClient(amqpUri()).connect();
  const ch = await conn.channel();
  const events = unique('amqp-client-events');
  const deletions = unique('amqp-client-deletions');
  await ch.exchangeDeclare(events, 'topic', { durable: false });
  await ch.exchangeDeclare(deletions, 'fanout', { durable: false });
  await ch.exchangeBind(deletions, events, '#.deleted');
  const queues = {};
  for (const name of Object.keys(EXPECTED)) {
    queues[name] = (await ch.queueDeclare('', { exclusive: true })).name;
  }
  await ch.queueBind(queues.users, events, 'user.*');
  await ch.queueBind(queues.deletions, deletions, '');
  await ch.queueBind(queues.all, events, '#');
  await ch.queueBind(queues.all, deletions, ''); // second path for deletions: still once
  for (const key of KEYS) await ch.basicPublish(events, key, key);
  for (const [name, queue] of Object.entries(queues)) {
    const got = [];
    for (;;) {
      const msg = await ch.basicGet(queue, { noAck: true });
      if (!msg) break;
      got.push(msg.routingKey);
      assert.equal(msg.bodyToString(), msg.routingKey);
    }
    assert.deepEqual(got, EXPECTED[name], `keys routed to ${name}`);
  }
  await ch.exchangeDelete(deletions);
  await ch.exchangeDelete(events);
  await conn.close();
});
