"""aio-pika: mandatory publishing, basic.return, confirms, and a missing exchange.

aio-pika reports returns on channels with publisher confirms (it matches a basic.return to
its pending publish by message id). On such a channel with on_return_raises=False:
- a mandatory publish to a queue name that does not exist (default exchange) resolves with
  the returned message instead of an ack: Basic.Return 312 NO_ROUTE with the exchange and
  routing key it was sent with, body and properties (message_id, headers, content_type,
  correlation_id) intact; `channel.return_callbacks` sees the same message. The publish
  future resolving with the return (and not with Basic.Ack) shows the return arrived
  before its confirm; aiormq then consumes that confirm itself, so whether it was an ack
  or a nack is not observable through aio-pika;
- a mandatory publish through a direct exchange with no matching binding: returned alike;
- a mandatory routable publish: Basic.Ack, delivered to the bound queue, not returned;
- a non-mandatory unroutable publish: Basic.Ack, dropped silently (no return);
- a publish to an exchange that does not exist: the channel is closed by the broker with
  404 NOT_FOUND (ChannelNotFoundEntity) and a separate channel stays usable.
"""

import asyncio

import aio_pika
import aiormq.exceptions
from pamqp.commands import Basic

from interop_common import amqp_uri, check, check_eq, main_async, unique


async def run():
    connection = await aio_pika.connect(amqp_uri())
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=False)
        returned = []
        channel.return_callbacks.add(lambda _channel, message: returned.append(message))

        exchange = await channel.declare_exchange(unique("mandatory-ex"),
                                                  aio_pika.ExchangeType.DIRECT)
        queue = await channel.declare_queue(unique("mandatory-q"))
        await queue.bind(exchange, routing_key="bound")

        missing = unique("no-such-queue")
        result = await channel.default_exchange.publish(
            aio_pika.Message(b"to nowhere", message_id="r-1", headers={"why": "no queue"},
                             content_type="text/plain", correlation_id="c-1"),
            routing_key=missing, mandatory=True)
        check(isinstance(result.delivery, Basic.Return),
              "mandatory unroutable publish resolved with %r, not a return" % (result,))
        check_eq((result.delivery.reply_code, result.delivery.reply_text), (312, "NO_ROUTE"),
                 "first return's reason")
        check_eq((result.delivery.exchange, result.delivery.routing_key), ("", missing),
                 "first return's exchange and routing key")
        check_eq(result.body, b"to nowhere", "first returned body")
        props = result.header.properties
        check_eq((props.message_id, props.headers, props.content_type, props.correlation_id),
                 ("r-1", {"why": "no queue"}, "text/plain", "c-1"), "first returned properties")

        result = await exchange.publish(aio_pika.Message(b"unbound key", message_id="r-2"),
                                        routing_key="unbound", mandatory=True)
        check(isinstance(result.delivery, Basic.Return), "second publish was not returned")
        check_eq((result.delivery.reply_code, result.delivery.exchange,
                  result.delivery.routing_key, result.body),
                 (312, exchange.name, "unbound", b"unbound key"), "second return")

        result = await exchange.publish(aio_pika.Message(b"routable"), routing_key="bound",
                                        mandatory=True)
        check(isinstance(result, Basic.Ack), "routable mandatory publish gave %r" % (result,))
        result = await exchange.publish(aio_pika.Message(b"dropped quietly"),
                                        routing_key="unbound", mandatory=False)
        check(isinstance(result, Basic.Ack), "non-mandatory unroutable publish gave %r"
              % (result,))

        check_eq([(m.body, m.message_id, m.headers) for m in returned],
                 [(b"to nowhere", "r-1", {"why": "no queue"}), (b"unbound key", "r-2", {})],
                 "messages seen by return_callbacks")
        declared = await channel.declare_queue(queue.name, passive=True)
        check_eq(declared.declaration_result.message_count, 1, "messages in the bound queue")
        message = await queue.get(no_ack=True)
        check_eq(message.body, b"routable", "the routable mandatory message")

        doomed = await connection.channel(publisher_confirms=True)
        nowhere = await doomed.get_exchange(unique("no-such-exchange"), ensure=False)
        try:
            await asyncio.wait_for(nowhere.publish(aio_pika.Message(b"x"), routing_key="k"), 10)
            raise AssertionError("publish to a missing exchange did not close the channel")
        except aiormq.exceptions.ChannelNotFoundEntity as exc:
            # aiormq picks the exception class from the reply code (404 here).
            check(str(exc.args[0]).startswith("NOT_FOUND"), "close reason %r" % (exc.args,))
        check(doomed.is_closed, "the channel is closed after the 404")
        check(not channel.is_closed, "the other channel stays open")
        await queue.delete()
        await exchange.delete()


if __name__ == "__main__":
    main_async(run, 60)
