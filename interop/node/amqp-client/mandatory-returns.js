'use strict';
// @cloudamqp/amqp-client: mandatory publishing, basic.return (channel.onReturn), and a
// publish to a missing exchange.
//
// Without confirms: a mandatory publish through the default exchange to a queue that does
// not exist and one through a direct exchange with no matching binding both come back
// through onReturn with 312 NO_ROUTE, the exchange and routing key they were published
// with, and body and properties (message id, content type, headers) intact; a routable
// mandatory publish is delivered (to a consumer of the bound queue), not returned; a
// non-mandatory unroutable one is dropped silently (a queue.declare round trip on the
// channel shows no further return, and the bound queue gets only the routable ones).
// With confirms: an unroutable mandatory publish is returned and still acked (its
// basicPublish promise resolves, it is not rejected as nacked), and the return has been
// delivered by the time the ack resolves that promise; routable and non-mandatory
// unroutable publishes are acked and not returned.
// Finally a publish to a missing exchange on a confirm channel closes that channel with
// 404 NOT_FOUND (the publish promise rejects, onerror gets the reason) while another
// channel on the connection keeps working.
const assert = require('node:assert/strict');
const { unique, run } = require('interop-common');
const { connect, Progress, within, depth, closeQuietly, dropAll } = require('./helpers/common');

run(async () => {
  const exchange = unique('amqp-client-mandatory-ex');
  const queue = unique('amqp-client-mandatory-q');
  let conn;
  try {
    conn = await connect({ name: 'mandatory-returns' });
    const ch = await conn.channel();
    const returns = [];
    ch.onReturn = (msg) => returns.push(msg);
    await ch.exchangeDeclare(exchange, 'direct', { durable: false });
    await ch.queueDeclare(queue, { durable: false });
    await ch.queueBind(queue, exchange, 'bound');

    const missing = unique('no-such-queue');
    const props = { messageId: 'r-1', contentType: 'text/plain', headers: { why: 'no queue' } };
    await ch.basicPublish('', missing, 'to nowhere', props, true);
    await ch.basicPublish(exchange, 'unbound', 'unbound key', {}, true);
    await ch.basicPublish(exchange, 'bound', 'routable', {}, true);
    await ch.basicPublish(exchange, 'unbound', 'dropped quietly', {}, false);
    // A round trip on the same channel: any return for the publishes above precedes its
    // reply. (Not a message count: RabbitMQ may enqueue a publish after it answers that.)
    await ch.queueDeclare(queue, { passive: true });

    assert.equal(returns.length, 2, 'number of basic.return frames');
    const [first, second] = returns;
    assert.deepEqual([first.replyCode, first.replyText], [312, 'NO_ROUTE'], 'first return: reason');
    assert.deepEqual([first.exchange, first.routingKey], ['', missing], 'first return: address');
    assert.equal(first.bodyToString(), 'to nowhere', 'first return: body');
    assert.deepEqual(first.properties, props, 'first return: properties');
    assert.deepEqual([second.replyCode, second.replyText, second.exchange, second.routingKey, second.bodyToString()],
      [312, 'NO_ROUTE', exchange, 'unbound', 'unbound key'], 'second return');
    // What reaches the bound queue, consumed as it comes.
    const progress = new Progress();
    const delivered = [];
    const consumer = await ch.basicConsume(queue, { noAck: true }, progress.guard((msg) => {
      delivered.push(msg.bodyToString());
    }));
    await progress.until('the routable mandatory message', 10000, () => delivered.length >= 1);
    assert.deepEqual(delivered, ['routable'], 'messages delivered to the bound queue');

    // Publisher confirms.
    const cch = await conn.channel();
    await cch.confirmSelect();
    const creturns = [];
    cch.onReturn = (msg) => creturns.push(msg);
    const tag = await cch.basicPublish(exchange, 'unbound', 'confirm+return', { messageId: 'c-1' }, true);
    assert.equal(tag, 1, 'delivery tag of the returned, confirmed publish');
    assert.equal(creturns.length, 1, 'returns delivered before the ack');
    assert.deepEqual([creturns[0].replyCode, creturns[0].routingKey, creturns[0].bodyToString(),
      creturns[0].properties.messageId], [312, 'unbound', 'confirm+return', 'c-1'], 'return with confirms');
    assert.equal(await cch.basicPublish(exchange, 'bound', 'confirmed', {}, true), 2);
    assert.equal(await cch.basicPublish(exchange, 'unbound', 'confirmed, dropped', {}, false), 3);
    assert.equal(creturns.length, 1, 'returns after routable and non-mandatory publishes');
    await progress.until('the confirmed routable message', 10000, () => delivered.length >= 2);
    await consumer.cancel();
    assert.deepEqual(delivered, ['routable', 'confirmed'], 'messages delivered to the bound queue');
    // Every publish since the consumer started was confirmed, so it has been routed.
    assert.equal(await depth(ch, queue), 0, 'messages left in the bound queue');

    // A missing exchange closes the channel with 404.
    let channelError = null;
    cch.onerror = (reason) => { channelError = reason; };
    await assert.rejects(
      within('the channel to close', 10000, cch.basicPublish(unique('no-such-exchange'), 'k', 'x')),
      /NOT_FOUND.*\(404\)/, 'publish to a missing exchange');
    assert.match(String(channelError), /\(404\)/, 'reason given to onerror');
    assert.equal(cch.closed, true, 'the confirm channel is closed');
    assert.equal(conn.closed, false, 'the connection stays open');
    assert.equal(await depth(ch, queue), 0, 'the other channel still works');

    await ch.queueDelete(queue);
    await ch.exchangeDelete(exchange);
    await conn.close();
  } catch (err) {
    await closeQuietly(conn);
    await dropAll({ queues: [queue], exchanges: [exchange] });
    throw err;
  }
});
