'use strict';
// amqplib, callback API: mandatory publishing and basic.return (the channel's 'return' event).
//
// - mandatory to a missing queue through the default exchange: returned with 312 NO_ROUTE,
//   exchange '' and the routing key, body and properties (messageId, contentType, headers)
//   intact;
// - mandatory through a direct exchange with no matching binding: returned likewise;
// - mandatory and routable: delivered (a consumer on the bound queue gets it), not returned;
// - not mandatory and unroutable: dropped silently, no return;
//   (returns are counted after a round trip on the publishing channel, which the broker
//   answers only after sending them)
// - on a ConfirmChannel: an unroutable mandatory publish is returned, then acked (its
//   callback gets no error), the return arriving before its ack; a routable and a
//   non-mandatory unroutable one are acked; nothing is nacked; the bound queue's consumer
//   got exactly the two routable messages;
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
        // What reaches the bound queue, seen by a consumer on its own channel.
        conn.createChannel(ok((sub) => {
          sub.on('error', fail);
          const delivered = [];
          let onDelivery = null;
          sub.consume(queue, guard((msg) => {
            assert.ok(msg, 'consumer cancelled by the broker');
            delivered.push(msg);
            if (onDelivery) onDelivery();
          }), { noAck: true }, ok((consumeOk) => {
            const consumer = { sub, consumerTag: consumeOk.consumerTag, delivered };
            consumer.waitFor = (n, what, k) => {
              const deadline = within(10000, what);
              onDelivery = () => {
                if (delivered.length < n) return;
                deadline.clear();
                onDelivery = null;
                k();
              };
              onDelivery();
            };
            withoutConfirms(conn, ch, returns, consumer);
          }));
        }));
      }));
    }));
  }));

  function withoutConfirms(conn, ch, returns, consumer) {
    ch.sendToQueue(missingQueue, Buffer.from('to nowhere'), {
      mandatory: true, messageId: 'r-1', contentType: 'text/plain', headers: { why: 'no queue' },
    });
    ch.publish(exchange, 'unbound', Buffer.from('unbound key'), { mandatory: true });
    ch.publish(exchange, 'bound', Buffer.from('routable'), { mandatory: true });
    ch.publish(exchange, 'unbound', Buffer.from('dropped quietly'), { mandatory: false });
    // A synchronous round trip on the same channel: the broker sends every basic.return for
    // the publishes above before this reply.
    ch.checkExchange(exchange, ok(() => {
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
      consumer.waitFor(1, 'the routable mandatory message', () => {
        const msg = consumer.delivered[0];
        assert.equal(msg.content.toString(), 'routable');
        assert.deepEqual([msg.fields.exchange, msg.fields.routingKey], [exchange, 'bound']);
        withConfirms(conn, ch, returns, consumer);
      });
    }));
  }

  function withConfirms(conn, ch, returns, consumer) {
    conn.createConfirmChannel(ok((cch) => {
      cch.on('error', fail);
      const events = [];
      cch.on('return', guard((msg) => {
        events.push(`return:${msg.fields.replyCode}:${msg.content.toString()}`);
      }));
      const deadline = within(10000, 'publisher confirms');
      const confirmed = (body) => (err) => events.push(err ? `nack:${body}:${err.message}` : `ack:${body}`);
      cch.publish(exchange, 'unbound', Buffer.from('confirm+return'), { mandatory: true }, confirmed('confirm+return'));
      cch.publish(exchange, 'bound', Buffer.from('confirmed'), { mandatory: true }, confirmed('confirmed'));
      cch.publish(exchange, 'unbound', Buffer.from('confirmed, dropped'), {}, confirmed('confirmed, dropped'));
      cch.waitForConfirms(ok(() => {
        deadline.clear();
        // Acks for different messages may come in any order (an unroutable message is
        // confirmed at once, a routed one once its queue has it), but the return must come
        // before the ack of the returned message, and nothing may be nacked.
        assert.deepEqual([...events].sort(), [
          'ack:confirm+return', 'ack:confirmed', 'ack:confirmed, dropped', 'return:312:confirm+return',
        ], `returns and confirms (${events.join(', ')})`);
        assert.ok(events.indexOf('return:312:confirm+return') < events.indexOf('ack:confirm+return'),
          `the return comes before its ack (${events.join(', ')})`);
        assert.equal(returns.length, 2, 'returns on the other channel');
        consumer.waitFor(2, 'the routable confirmed message', () => {
          assert.deepEqual(consumer.delivered.map((m) => m.content.toString()), ['routable', 'confirmed'],
            'messages that reached the bound queue');
          consumer.sub.cancel(consumer.consumerTag, ok(() => {
            cch.checkQueue(queue, ok((q) => {
              assert.equal(q.messageCount, 0, 'messages left in the bound queue');
              cch.close(ok(() => missingExchangeCloses(conn, ch)));
            }));
          }));
        });
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
          assert.equal(q.messageCount, 0);
          ch.deleteQueue(queue, {}, ok(() => {
            ch.deleteExchange(exchange, {}, ok(() => conn.close(ok(done))));
          }));
        }));
      }));
      doomed.publish(missingExchange, 'k', Buffer.from('x'));
    }));
  }
}));
