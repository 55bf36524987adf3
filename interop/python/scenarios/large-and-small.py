"""Large and small messages (pika BlockingConnection).

Publishes 16 MiB of pseudo-random bytes (with confirms, persistent, to a durable queue),
then consumes it on a second connection and compares length and SHA-256; then does the same
through basic.get. The body spans ~128 frames at the default frame_max of 128 KiB, so this
exercises content assembly on the way in and frame splitting on the way out. Then 10,000
confirmed small messages of 0..100 bytes (empty bodies included) come back in order with
exact bodies and consecutive delivery tags, and the queue ends empty.
"""

import hashlib
import random

import pika

from interop_common import check_eq, main, pika_params, unique

SIZE = 16 * 1024 * 1024
SMALL = 10000


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

    rng = random.Random(100)
    small = [rng.randbytes(i % 101) for i in range(SMALL)]
    for b in small:
        channel.basic_publish("", queue, b)
    cch.basic_qos(prefetch_count=500)
    got = []
    first_tag = None
    for method, _props, cbody in cch.consume(queue, inactivity_timeout=30):
        check_eq(method is not None, True, "a small message within 30 s")
        first_tag = first_tag or method.delivery_tag
        check_eq((method.delivery_tag, method.redelivered), (first_tag + len(got), False),
                 "delivery tag and redelivered flag of small message %d" % len(got))
        got.append(cbody)
        if len(got) % 100 == 0 or len(got) == SMALL:
            cch.basic_ack(method.delivery_tag, multiple=True)
        if len(got) == SMALL:
            break
    cch.cancel()
    check_eq(got == small, True, "the %d small bodies, in order" % SMALL)
    check_eq(cch.queue_declare(queue, passive=True).method.message_count, 0, "queue empty")
    cch.queue_delete(queue)
    consumer.close()
    publisher.close()


if __name__ == "__main__":
    main(scenario)
