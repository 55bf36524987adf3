"""aio-pika: load levelling, a burst queued with no consumer, then drained in order.

INTEROP_BURST (default 100,000) small messages, the body carrying the sequence number,
are published alternately to two durable queues through the default exchange while
nobody consumes, with publisher confirms (a window of 2,000 in flight via asyncio.gather;
every result must be Basic.Ack). Then each queue's depth must be exactly half the burst
(passive declare). Then each queue is drained by a consumer (queue iterator, prefetch
1000, `ack(multiple=True)` every 100 messages): every message arrives exactly once, in
sequence order per queue, none flagged redelivered; the queues end empty and are deleted.
"""

import asyncio
import time

import aio_pika
from pamqp.commands import Basic

from catalogue import BURST, burst_body, burst_sequence, check_burst_message, report_burst
from interop_common import amqp_uri, check_eq, main_async, unique

WINDOW = 2000
QUEUES = [unique("levelling-q0"), unique("levelling-q1")]


async def run():
    connection = await aio_pika.connect(amqp_uri())
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queues = [await channel.declare_queue(name, durable=True) for name in QUEUES]
        exchange = channel.default_exchange

        started = time.monotonic()
        kinds = set()
        for start in range(0, BURST, WINDOW):
            frames = await asyncio.gather(*[
                exchange.publish(aio_pika.Message(burst_body(i)),
                                 routing_key=QUEUES[i % 2], mandatory=False)
                for i in range(start, min(start + WINDOW, BURST))
            ])
            kinds.update(type(f) for f in frames)
        check_eq(kinds, {Basic.Ack}, "confirmation frames for the burst")
        published = time.monotonic()

        for q, name in enumerate(QUEUES):
            declared = await channel.declare_queue(name, passive=True)
            expected = len(burst_sequence(q))
            check_eq(declared.declaration_result.message_count, expected,
                     "depth of queue %d after the burst" % q)

        consumer = await connection.channel()
        await consumer.set_qos(prefetch_count=1000)
        for q, name in enumerate(QUEUES):
            queue = await consumer.get_queue(name, ensure=False)
            sequence = burst_sequence(q)
            got = 0

            async def drain():
                nonlocal got
                async with queue.iterator() as messages:
                    async for message in messages:
                        check_burst_message(q, message.body, sequence[got], message.redelivered)
                        got += 1
                        if got % 100 == 0 or got == len(sequence):
                            await message.ack(multiple=True)
                        if got == len(sequence):
                            return

            try:
                await asyncio.wait_for(drain(), 60)
            except asyncio.TimeoutError:
                raise AssertionError("queue %d: only %d of %d messages drained"
                                     % (q, got, len(sequence)))
        drained = time.monotonic()

        for queue, name in zip(queues, QUEUES):
            declared = await channel.declare_queue(name, passive=True)
            check_eq(declared.declaration_result.message_count, 0, "messages left in %s" % name)
            await queue.delete(if_unused=False, if_empty=False)
        report_burst(started, published, drained)


if __name__ == "__main__":
    main_async(run, 110)
