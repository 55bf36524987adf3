"""Load levelling: a 100,000-message burst queued, then drained in order.

A producer (pika BlockingConnection) bursts 100,000 sequence-numbered messages into a
queue with nobody consuming, far faster than a consumer would take them; it then switches
its channel to confirm mode and publishes one marker with a confirm, so once that confirm
is back every earlier message has been enqueued and the queue must report exactly 100,001
messages. A single consumer (prefetch 1000, acking with `multiple` every 500) then drains
the queue; every message must arrive exactly once and in publish order, and the queue must
end empty.

INTEROP_BURST overrides the message count.
"""

import os
import struct

import pika

from interop_common import check, check_eq, main, pika_params, unique

BURST = int(os.environ.get("INTEROP_BURST", "100000"))
QUEUE = unique("levelling")


def scenario():
    producer = pika.BlockingConnection(pika_params())
    pch = producer.channel()
    pch.queue_declare(QUEUE, durable=True)
    padding = b"." * 100
    for i in range(BURST):
        pch.basic_publish("", QUEUE, struct.pack(">Q", i) + padding)
    pch.confirm_delivery()
    pch.basic_publish("", QUEUE, b"end")
    depth = pch.queue_declare(QUEUE, durable=True, passive=True).method.message_count
    check_eq(depth, BURST + 1, "queue depth after the burst")
    producer.close()

    consumer = pika.BlockingConnection(pika_params())
    cch = consumer.channel()
    cch.basic_qos(prefetch_count=1000)
    expected = 0
    last_tag = None
    for method, _props, body in cch.consume(QUEUE, inactivity_timeout=30):
        check(method is not None, "no delivery for 30s after %d messages" % expected)
        if body == b"end":
            cch.basic_ack(method.delivery_tag, multiple=True)
            break
        seq = struct.unpack(">Q", body[:8])[0]
        if seq != expected:
            raise AssertionError("out of order: got %d, expected %d" % (seq, expected))
        check(not method.redelivered, "message %d flagged redelivered" % seq)
        expected += 1
        last_tag = method.delivery_tag
        if expected % 500 == 0:
            cch.basic_ack(last_tag, multiple=True)
    cch.cancel()
    check_eq(expected, BURST, "messages drained")
    left = cch.queue_declare(QUEUE, durable=True, passive=True).method.message_count
    check_eq(left, 0, "messages left after draining")
    cch.queue_delete(QUEUE)
    consumer.close()


if __name__ == "__main__":
    main(scenario)
