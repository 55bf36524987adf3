"""pika AsyncioConnection: mandatory publishing, basic.return, confirms, missing exchange.

- With `add_on_return_callback`, mandatory publishes to a queue name that does not exist
  (default exchange) and through a direct exchange with no matching binding come back as
  basic.return 312 NO_ROUTE with the exchange and routing key used, body and properties
  (message_id, headers, content_type) intact; checked after a passive declare on the same
  channel (returns precede its declare-ok);
- a mandatory routable publish is delivered (consumed from the bound queue) and not
  returned; a non-mandatory unroutable publish is dropped silently;
- on a confirm-mode channel an unroutable mandatory publish is returned and then acked
  (not nacked): the return callback runs before the ack callback;
- a publish to an exchange that does not exist makes the broker close that channel with
  404 NOT_FOUND (ChannelClosedByBroker in the close callback); the first channel stays
  open. Everything is deleted at the end.
"""

import asyncio

import pika
import pika.exceptions
from pika.spec import Basic

from interop_common import check, check_eq, main_async, unique
from pika_async import AsyncioPika


async def run():
    amqp = AsyncioPika()
    conn = await amqp.connect()
    ch = await amqp.channel(conn)
    returns = []
    ch.add_on_return_callback(lambda _ch, method, props, body:
                              returns.append((method, props, body)))
    exchange, queue, missing = unique("mandatory-ex"), unique("mandatory-q"), \
        unique("no-such-queue")
    await amqp.call(ch.exchange_declare, exchange, "direct")
    await amqp.call(ch.queue_declare, queue)
    await amqp.call(ch.queue_bind, queue, exchange, "bound")

    props = pika.BasicProperties(message_id="r-1", headers={"why": "no queue"},
                                 content_type="text/plain")
    ch.basic_publish("", missing, b"to nowhere", props, mandatory=True)
    ch.basic_publish(exchange, "unbound", b"unbound key", mandatory=True)
    ch.basic_publish(exchange, "bound", b"routable", mandatory=True)
    ch.basic_publish(exchange, "unbound", b"dropped quietly", mandatory=False)
    await amqp.call(ch.queue_declare, queue, passive=True)

    check_eq(len(returns), 2, "basic.return frames")
    method, rprops, body = returns[0]
    check_eq((method.reply_code, method.reply_text, method.exchange, method.routing_key),
             (312, "NO_ROUTE", "", missing), "first return")
    check_eq(body, b"to nowhere", "first returned body")
    check_eq((rprops.message_id, rprops.headers, rprops.content_type),
             ("r-1", {"why": "no queue"}, "text/plain"), "first returned properties")
    method, _rprops, body = returns[1]
    check_eq((method.reply_code, method.exchange, method.routing_key, body),
             (312, exchange, "unbound", b"unbound key"), "second return")
    tag, deliveries = await amqp.consume(ch, queue, auto_ack=True)
    check_eq((await amqp.next(deliveries))[2], b"routable", "the routable mandatory message")
    await amqp.call(ch.basic_cancel, tag)

    cch = await amqp.channel(conn)
    events = []
    cch.add_on_return_callback(lambda _ch, method, _p, body:
                               events.append(("return", method.reply_code, body)))
    acked = asyncio.get_running_loop().create_future()

    def on_confirm(frame):
        events.append(("ack" if isinstance(frame.method, Basic.Ack) else "nack",
                       frame.method.delivery_tag))
        acked.done() or acked.set_result(None)

    await amqp.call(cch.confirm_delivery, on_confirm)
    cch.basic_publish(exchange, "unbound", b"confirm+return", mandatory=True)
    await asyncio.wait_for(acked, 10)
    check_eq(events, [("return", 312, b"confirm+return"), ("ack", 1)],
             "return, then ack, for an unroutable mandatory publish with confirms")

    doomed = await amqp.channel(conn)
    closed = asyncio.get_running_loop().create_future()
    doomed.add_on_close_callback(lambda _ch, reason: closed.done() or closed.set_result(reason))
    doomed.basic_publish(unique("no-such-exchange"), "k", b"x")
    reason = await asyncio.wait_for(closed, 10)
    check(isinstance(reason, pika.exceptions.ChannelClosedByBroker),
          "channel closed by %r" % (reason,))
    check_eq(reason.reply_code, 404, "reply code for a missing exchange")
    check(reason.reply_text.startswith("NOT_FOUND"), "reply text %r" % reason.reply_text)
    check(ch.is_open and cch.is_open, "the other channels stay open")

    frame = await amqp.call(ch.queue_delete, queue)
    check_eq(frame.method.message_count, 0, "messages left in the bound queue")
    await amqp.call(ch.exchange_delete, exchange)
    await amqp.close(conn)


if __name__ == "__main__":
    main_async(run, 60)
