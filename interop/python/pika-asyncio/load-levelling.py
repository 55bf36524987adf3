"""pika AsyncioConnection: load levelling, a burst queued with no consumer, then drained.

INTEROP_BURST (default 100,000) small messages, the body carrying the sequence number,
are published alternately to two durable queues through the default exchange on a
confirm-mode channel with no consumer attached, 5,000 unconfirmed at most; every one
must be acked, none nacked. Then each queue's depth must be exactly half the burst
(passive declare). Then each queue is drained (prefetch 1000, `basic_ack(multiple=True)`
every 100 deliveries): every message once, in sequence order, none redelivered; the
queues end empty and are deleted.
"""

import asyncio
import os
import struct
import time

from interop_common import check, check_eq, main, unique
from pika_async import AsyncioPika

BURST = int(os.environ.get("INTEROP_BURST", "100000"))
WINDOW = 5000
QUEUES = [unique("levelling-q0"), unique("levelling-q1")]
PADDING = b"." * 32


async def run():
    amqp = AsyncioPika(timeout=60)
    conn = await amqp.connect()
    ch = await amqp.channel(conn)
    for name in QUEUES:
        await amqp.call(ch.queue_declare, name, durable=True)

    started = time.monotonic()
    confirms = await amqp.confirms(ch)
    for i in range(BURST):
        ch.basic_publish("", QUEUES[i % 2], struct.pack(">Q", i) + PADDING)
        confirms.published()
        if confirms.outstanding >= WINDOW:
            await confirms.wait(WINDOW // 2)
    await confirms.wait(0)
    check_eq((confirms.acked, confirms.nacked), (BURST, []), "confirms (acked, nacked)")
    published = time.monotonic()

    for q, name in enumerate(QUEUES):
        frame = await amqp.call(ch.queue_declare, name, passive=True)
        check_eq(frame.method.message_count, len(range(q, BURST, 2)),
                 "depth of queue %d after the burst" % q)

    consumer = await amqp.channel(conn)
    await amqp.call(consumer.basic_qos, prefetch_count=1000)
    for q, name in enumerate(QUEUES):
        tag, deliveries = await amqp.consume(consumer, name)
        sequence = range(q, BURST, 2)
        for n, expected in enumerate(sequence):
            method, _props, body = await amqp.next(deliveries, "message %d" % expected)
            seq = struct.unpack(">Q", body[:8])[0]
            if seq != expected:
                raise AssertionError("queue %d: got %d, expected %d" % (q, seq, expected))
            check(not method.redelivered, "message %d flagged redelivered" % seq)
            if (n + 1) % 100 == 0 or n + 1 == len(sequence):
                consumer.basic_ack(method.delivery_tag, multiple=True)
        await amqp.call(consumer.basic_cancel, tag)
    drained = time.monotonic()

    for name in QUEUES:
        frame = await amqp.call(ch.queue_declare, name, passive=True)
        check_eq(frame.method.message_count, 0, "messages left in %s" % name)
        await amqp.call(ch.queue_delete, name)
    await amqp.close(conn)
    print("published %d in %.1fs, drained in %.1fs"
          % (BURST, published - started, drained - published))


def scenario():
    asyncio.run(asyncio.wait_for(run(), 110))


if __name__ == "__main__":
    main(scenario)
