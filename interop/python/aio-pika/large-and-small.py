"""aio-pika: one 16 MiB message, then 10,000 small ones of varying length.

A 16 MiB body of pseudo-random bytes is published persistent to a durable queue with a
confirm (aiormq splits it into frame_max-sized body frames), consumed back with the queue
iterator and compared by length and SHA-256 (also carried in a header). Then 10,000 small
messages with bodies of length i % 101 (0..100 bytes, the first one empty) are published
with confirms (a window of 1,000 in flight) and consumed (prefetch 500, multiple acks);
every body must match exactly, in order. The queue ends empty and is deleted.
"""

import asyncio

import aio_pika
from pamqp.commands import Basic

from catalogue import SMALL_COUNT, check_large, check_small, large_message, small_body
from interop_common import amqp_uri, check, check_eq, main_async, unique

WINDOW = 1000
QUEUE = unique("large-and-small")


async def consume(queue, count, on_message):
    got = 0

    async def drain():
        nonlocal got
        async with queue.iterator() as messages:
            async for message in messages:
                on_message(got, message)
                got += 1
                if got % 100 == 0 or got == count:
                    await message.ack(multiple=True)
                if got == count:
                    return

    try:
        await asyncio.wait_for(drain(), 30)
    except asyncio.TimeoutError:
        raise AssertionError("only %d of %d messages consumed in 30s" % (got, count))


async def run():
    body, digest = large_message()
    connection = await aio_pika.connect(amqp_uri())
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=500)
        queue = await channel.declare_queue(QUEUE, durable=True)

        frame = await channel.default_exchange.publish(
            aio_pika.Message(body, headers={"sha256": digest},
                             delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=QUEUE)
        check(isinstance(frame, Basic.Ack), "confirm of the 16 MiB publish: %r" % (frame,))

        await consume(queue, 1,
                      lambda _n, message: check_large(message.body, message.headers, digest))

        kinds = set()
        for start in range(0, SMALL_COUNT, WINDOW):
            frames = await asyncio.gather(*[
                channel.default_exchange.publish(aio_pika.Message(small_body(i)),
                                                 routing_key=QUEUE)
                for i in range(start, min(start + WINDOW, SMALL_COUNT))
            ])
            kinds.update(type(f) for f in frames)
        check_eq(kinds, {Basic.Ack}, "confirmation frames of the small messages")

        await consume(queue, SMALL_COUNT, lambda n, message: check_small(n, message.body))

        declared = await channel.declare_queue(QUEUE, passive=True)
        check_eq(declared.declaration_result.message_count, 0, "messages left")
        await queue.delete()


if __name__ == "__main__":
    main_async(run, 90)
