"""pika AsyncioConnection: load levelling, a burst queued with no consumer, then drained.

INTEROP_BURST (default 100,000) small messages, the body carrying the sequence number,
are published alternately to two durable queues through the default exchange on a
confirm-mode channel with no consumer attached, 5,000 unconfirmed at most; every one
must be acked, none nacked. Then each queue's depth must be exactly half the burst
(passive declare). Then each queue is drained (prefetch 1000, `basic_ack(multiple=True)`
every 100 deliveries): every message once, in sequence order, none redelivered; the
queues end empty and are deleted.
"""

import time

from catalogue import BURST, burst_body, burst_sequence, check_burst_message, report_burst
from interop_common import check_eq, main_async, unique
from pika_async import AsyncioPika

WINDOW = 5000
QUEUES = [unique("levelling-q0"), unique("levelling-q1")]


async def run():
    amqp = AsyncioPika(timeout=60)
    conn = await amqp.connect()
    ch = await amqp.channel(conn)
    for name in QUEUES:
        await amqp.call(ch.queue_declare, name, durable=True)

    started = time.monotonic()
    confirms = await amqp.confirms(ch)
    for i in range(BURST):
        ch.basic_publish("", QUEUES[i % 2], burst_body(i))
        confirms.published()
        if confirms.outstanding >= WINDOW:
            await confirms.wait(WINDOW // 2)
    await confirms.wait(0)
    check_eq((confirms.acked, confirms.nacked), (BURST, []), "confirms (acked, nacked)")
    published = time.monotonic()

    for q, name in enumerate(QUEUES):
        frame = await amqp.call(ch.queue_declare, name, passive=True)
        check_eq(frame.method.message_count, len(burst_sequence(q)),
                 "depth of queue %d after the burst" % q)

    consumer = await amqp.channel(conn)
    await amqp.call(consumer.basic_qos, prefetch_count=1000)
    for q, name in enumerate(QUEUES):
        tag, deliveries = await amqp.consume(consumer, name)
        sequence = burst_sequence(q)
        for n, expected in enumerate(sequence):
            method, _props, body = await amqp.next(deliveries, "message %d" % expected)
            check_burst_message(q, body, expected, method.redelivered)
            if (n + 1) % 100 == 0 or n + 1 == len(sequence):
                consumer.basic_ack(method.delivery_tag, multiple=True)
        await amqp.call(consumer.basic_cancel, tag)
    drained = time.monotonic()

    for name in QUEUES:
        frame = await amqp.call(ch.queue_declare, name, passive=True)
        check_eq(frame.method.message_count, 0, "messages left in %s" % name)
        await amqp.call(ch.queue_delete, name)
    await amqp.close(conn)
    report_burst(started, published, drained)


if __name__ == "__main__":
    main_async(run, 110)
