"""pika AsyncioConnection: one 16 MiB message, then 10,000 small ones of varying length.

On a confirm-mode channel a 16 MiB body of pseudo-random bytes is published persistent
to a durable queue; once acked it is consumed back and compared by length and SHA-256
(also carried in a header). Then 10,000 small messages with bodies of length i % 101
(0..100 bytes, the first one empty) are published and all acked; they are consumed
(prefetch 500, multiple acks every 100) and every body must match exactly, in order. The
queue ends empty and is deleted.
"""

import pika

from catalogue import SMALL_COUNT, check_large, check_small, large_message, small_body
from interop_common import check_eq, main_async, unique
from pika_async import AsyncioPika

QUEUE = unique("large-and-small")


async def run():
    body, digest = large_message()
    amqp = AsyncioPika()
    conn = await amqp.connect()
    ch = await amqp.channel(conn)
    await amqp.call(ch.queue_declare, QUEUE, durable=True)
    await amqp.call(ch.basic_qos, prefetch_count=500)
    confirms = await amqp.confirms(ch)

    ch.basic_publish("", QUEUE, body, pika.BasicProperties(delivery_mode=2,
                                                           headers={"sha256": digest}))
    confirms.published()
    await confirms.wait(0)
    tag, deliveries = await amqp.consume(ch, QUEUE)
    method, props, got = await amqp.next(deliveries, "the 16 MiB message")
    check_large(got, props.headers, digest)
    ch.basic_ack(method.delivery_tag)
    await amqp.call(ch.basic_cancel, tag)

    for i in range(SMALL_COUNT):
        ch.basic_publish("", QUEUE, small_body(i))
        confirms.published()
    await confirms.wait(0)
    check_eq((confirms.acked, confirms.nacked), (SMALL_COUNT + 1, []), "confirms (acked, nacked)")
    tag, deliveries = await amqp.consume(ch, QUEUE)
    for n in range(SMALL_COUNT):
        method, _props, got = await amqp.next(deliveries, "small message %d" % n)
        check_small(n, got)
        if (n + 1) % 100 == 0 or n + 1 == SMALL_COUNT:
            ch.basic_ack(method.delivery_tag, multiple=True)
    await amqp.call(ch.basic_cancel, tag)
    frame = await amqp.call(ch.queue_declare, QUEUE, passive=True)
    check_eq(frame.method.message_count, 0, "messages left")
    await amqp.call(ch.queue_delete, QUEUE)
    await amqp.close(conn)


if __name__ == "__main__":
    main_async(run, 60)
