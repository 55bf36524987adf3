"""A 16 MiB message (pika BlockingConnection), split into many body frames.

Publishes 16 MiB of pseudo-random bytes (with confirms, persistent, to a durable queue),
then consumes it on a second connection and compares length and SHA-256; then does the same
through basic.get. The body spans ~128 frames at the default frame_max of 128 KiB, so this
exercises content assembly on the way in and frame splitting on the way out.
"""

import hashlib
import random

import pika

from interop_common import check_eq, main, pika_params, unique

SIZE = 16 * 1024 * 1024


def scenario():
    body = random.Random(16).randbytes(SIZE)
    digest = hashlib.sha256(body).hexdigest()
    queue = unique("large")
    publisher = pika.BlockingConnection(pika_params())
    channel = publisher.channel()
    channel.queue_declare(queue, durable=True)
    channel.confirm_delivery()
    props = pika.BasicProperties(delivery_mode=2, headers={"sha256": digest})
    for _ in range(2):
        channel.basic_publish("", queue, body, props)

    consumer = pika.BlockingConnection(pika_params())
    cch = consumer.channel()
    cch.basic_qos(prefetch_count=1)
    got = None
    for method, cprops, cbody in cch.consume(queue, inactivity_timeout=60):
        check_eq(method is not None, True, "a delivery within 60s")
        got = (cprops, cbody)
        cch.basic_ack(method.delivery_tag)
        break
    cch.cancel()
    cprops, cbody = got
    check_eq(len(cbody), SIZE, "consumed body length")
    check_eq(hashlib.sha256(cbody).hexdigest(), digest, "consumed body SHA-256")
    check_eq(cprops.headers, {"sha256": digest}, "headers of the large message")

    method, gprops, gbody = cch.basic_get(queue, auto_ack=True)
    check_eq(method is not None, True, "basic.get found the second copy")
    check_eq(method.message_count, 0, "message_count after the last get")
    check_eq(len(gbody), SIZE, "fetched body length")
    check_eq(hashlib.sha256(gbody).hexdigest(), digest, "fetched body SHA-256")
    cch.queue_delete(queue)
    consumer.close()
    publisher.close()


if __name__ == "__main__":
    main(scenario)
