"""aio-pika: publish with confirms, consume with the queue iterator, ack.

A robust connection, a channel with publisher confirms (aio-pika waits for each confirm
when publishing), a topic exchange and a durable queue bound with "orders.*". 300 messages
are published concurrently with asyncio.gather (confirms in flight together), plus one
mandatory publish to a key nothing is bound to, which must fail with the message returned (312 NO_ROUTE).
The queue is consumed with the async iterator and `message.process()` (ack on success);
bodies, order, headers and properties are checked.
"""

import asyncio
import datetime

import aio_pika
from aio_pika.exceptions import DeliveryError

from interop_common import amqp_uri, check, check_eq, main_async, unique

COUNT = 300
EXCHANGE = unique("aio-events")
QUEUE = unique("aio-orders")


async def run():
    connection = await aio_pika.connect_robust(amqp_uri())
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC)
        queue = await channel.declare_queue(QUEUE, durable=True)
        await queue.bind(exchange, routing_key="orders.*")

        stamp = datetime.datetime(2024, 5, 17, 12, 30, 0, tzinfo=datetime.timezone.utc)
        confirms = await asyncio.gather(*[
            exchange.publish(
                aio_pika.Message(
                    body=b"order %d" % i,
                    headers={"n": i, "kind": "created"},
                    content_type="text/plain",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id="id-%d" % i,
                    timestamp=stamp,
                    app_id="interop",
                ),
                routing_key="orders.created",
            )
            for i in range(COUNT)
        ])
        check_eq(len(confirms), COUNT, "confirms")
        check(all(c is not None and c.delivery_tag > 0 for c in confirms), "confirm frames")

        try:
            await exchange.publish(
                aio_pika.Message(b"nowhere", message_id="lost-1"), routing_key="nobody.listens", mandatory=True
            )
            raise AssertionError("mandatory publish to an unbound key did not fail")
        except DeliveryError as exc:
            check_eq(exc.message.body, b"nowhere", "returned body")
            check_eq(exc.frame.reply_code, 312, "basic.return reply code")
            check_eq(exc.frame.reply_text, "NO_ROUTE", "basic.return reply text")
            check_eq(exc.frame.routing_key, "nobody.listens", "basic.return routing key")

        await channel.set_qos(prefetch_count=25)
        seen = 0
        async with queue.iterator() as messages:
            async for message in messages:
                async with message.process():
                    check_eq(message.body, b"order %d" % seen, "body %d" % seen)
                    check_eq(message.headers, {"n": seen, "kind": "created"}, "headers")
                    check_eq(message.routing_key, "orders.created", "routing key")
                    check_eq(message.exchange, EXCHANGE, "exchange")
                    check_eq(message.content_type, "text/plain", "content_type")
                    check_eq(message.message_id, "id-%d" % seen, "message_id")
                    check_eq(message.app_id, "interop", "app_id")
                    check_eq(message.delivery_mode, aio_pika.DeliveryMode.PERSISTENT, "mode")
                    check_eq(message.timestamp, stamp, "timestamp")
                    seen += 1
                if seen == COUNT:
                    break
        declared = await channel.declare_queue(QUEUE, passive=True)
        check_eq(declared.declaration_result.message_count, 0, "messages left")
        await queue.delete()
        await exchange.delete()


if __name__ == "__main__":
    main_async(run, 60)
