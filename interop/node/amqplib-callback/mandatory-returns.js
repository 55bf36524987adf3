'use strict';
// amqplib, callback API: mandatory publishing and basic.return (the channel's 'return' event).
//
// - mandatory to a missing queue through the default exchange: returned with 312 NO_ROUTE,
//   exchange '' and the routing key, body and properties (messageId, contentType, headers)
//   intact;
// - mandatory through a direct exchange with no matching binding: returned likewise;
// - mandatory and routable: delivered, not returned;
// - not mandatory and unroutable: dropped silently, no return;
// - on a ConfirmChannel: an unroutable mandatory publish is returned, then acked (its
//   callback gets no error), the return arriving before the ack; a routable one is acked;
// - a publish to a missing exchange closes that channel with 404 NOT_FOUND; the other
//   channel stays usable.
const assert = require('node:assert/strict');
const amqplib = require('amqplib/callback_api');
const { amqpUri, unique, run } = require('interop-common');
const { scenario } = require('./helpers/callbacks');

run(scenario(({ ok, guard, fail, done, within, owned }) => {
  const exchange = unique('amqplib-cb-mandatory-ex');
  const queue = unique('amqplib-cb-mandatory-q');
  const missingQueue = unique('amqplib-cb-no-such-queue');
  const missingExchange = unique('amqplib-cb-no-such-exchange');

  amqplib.connect(amqpUri(), ok((conn) => {
    conn.on('error', fail);
    conn.createChannel(ok((ch) => {
      ch.on('error', fail);
      const returns = [];
      ch.on('return', guard((msg) => returns.push(msg)));
      owned.exchanges.push(exchange);
      owned.queues.push(queue);
      ch.assertExchange(exchange, 'direct', { durable: false });
      ch.assertQueue(queue, { durable: false });
      ch.bindQueue(queue, exchange, 'bound', {}, ok(() => {
        ch.sendToQueue(missingQueue, Buffer.from('to nowhere'), {
          mandatory: true, messageId: 'r-1', contentType: 'text/plain', headers: { why: 'no queue' },
        });
        ch.publish(exchange, 'unbound', Buffer.from('unbound key'), { mandatory: true });
        ch.publish(exchange, 'bound', Buffer.from('routable'), { mandatory: true });
        ch.publish(exchange, 'unbound', Buffer.from('dropped quietly'), { mandatory: false });
        // A synchronous round trip on the same channel: every return for the publishes
        // above is sent by the broker before this reply.
        ch.checkQueue(queue, ok((q) => {
          assert.equal(returns.length, 2, 'number of basic.return frames');
          const [first, second] = returns;
          assert.deepEqual(
            [first.fields.replyCode, first.fields.replyText, first.fields.exchange, first.fields.routingKey],
            [312, 'NO_ROUTE', '', missingQueue], 'first return');
          assert.equal(first.content.toString(), 'to nowhere');
          assert.equal(first.properties.messageId, 'r-1');
          assert.equal(first.properties.contentType, 'text/plain');
          assert.deepEqual(first.properties.headers, { why: 'no queue' });
          assert.deepEqual(
            [second.fields.replyCode, second.fields.replyText, second.fields.exchange,
              second.fields.routingKey, second.content.toString()],
            [312, 'NO_ROUTE', exchange, 'unbound', 'unbound key'], 'second return');
          assert.equal(q.messageCount, 1, 'messages in the bound queue');
          ch.get(queue, { noAck: true }, ok((msg) => {
            assert.ok(msg, 'basic.get found the routable message');
            assert.equal(msg.content.toString(), 'routable');
            assert.equal(msg.fields.exchange, exchange);
            withConfirms(conn, ch);
          }));
        }));
      }));
    }));
  }));

  function withConfirms(conn, ch) {
    conn.createConfirmChannel(ok((cch) => {
      cch.on('error', fail);
      const events = [];
      cch.on('return', guard((msg) => {
        events.push(`return:${msg.fields.replyCode}:${msg.content.toString()}`);
      }));
      const deadline = within(10000, 'publisher confirms');
      cch.publish(exchange, 'unbound', Buffer.from('confirm+return'), { mandatory: true }, (err) => {
        events.push(err ? `nack:${err.message}` : 'ack:confirm+return');
      });
      cch.publish(exchange, 'bound', Buffer.from('confirmed'), { mandatory: true }, (err) => {
        events.push(err ? `nack:${err.message}` : 'ack:confirmed');
      });
      cch.publish(exchange, 'unbound', Buffer.from('confirmed, dropped'), {}, (err) => {
        events.push(err ? `nack:${err.message}` : 'ack:confirmed, dropped');
      });
      cch.waitForConfirms(ok(() => {
        deadline.clear();
        assert.deepEqual(events, [
          'return:312:confirm+return', 'ack:confirm+return', 'ack:confirmed', 'ack:confirmed, dropped',
        ], 'returns and confirms, in arrival order');
        cch.checkQueue(queue, ok((q) => {
          assert.equal(q.messageCount, 1, 'messages in the bound queue after the confirmed publishes');
          cch.close(ok(() => missingExchangeCloses(conn, ch)));
        }));
      }));
    }));
  }

  function missingExchangeCloses(conn, ch) {
    conn.createChannel(ok((doomed) => {
      const deadline = within(10000, 'the channel to be closed with 404');
      doomed.on('error', guard((err) => {
        deadline.clear();
        assert.equal(err.code, 404, `reply code for a missing exchange (${err.message})`);
        assert.match(err.message, /NOT_FOUND/);
        // The other channel is unaffected.
        ch.checkQueue(queue, ok((q) => {
          assert.equal(q.messageCount, 1);
          ch.deleteQueue(queue, {}, ok(() => {
            ch.deleteExchange(exchange, {}, ok(() => conn.close(ok(done))));
          }));
        }));
      }));
      doomed.publish(missingExchange, 'k', Buffer.from('x'));
    }));
  }
}));
