"""kombu: one 16 MiB message, then 10,000 small ones of varying length.

A Producer with serializer=None (raw bytes, content type application/data) publishes a
16 MiB body of pseudo-random bytes, persistent, to a durable queue on a connection with
`confirm_publish` (publish returns once the broker acked it); a Consumer takes it back and
length and SHA-256 (also carried in a header) must match. Then 10,000 small messages with
bodies of length i % 101 (0..100 bytes, the first one empty) are published with confirms
(py-amqp basic_ack events, 1,000 in flight) and consumed (prefetch 500, multiple acks
every 100); every body must match exactly, in order. The queue ends empty and is deleted.
"""

import socket

import kombu

from catalogue import SMALL_COUNT, check_large, check_small, large_message, small_body
from interop_common import Deadline, amqp_uri, check_eq, main, unique
from kombu_confirms import ConfirmWindow

QUEUE = kombu.Queue(unique("large-and-small"), durable=True)


def consume(conn, count, on_body):
    """Consume `count` messages, passing each raw body (bytes, not decoded) to on_body."""
    got = 0

    def on_message(message):
        nonlocal got
        if got >= count:
            return  # after a failure: deliveries still arriving while the consumer closes
        try:
            # py-amqp leaves a bodyless message's body at its default, '' (a str).
            on_body(got, message.body if message.body != "" else b"", message)
        except BaseException:
            got = count
            raise
        got += 1
        if got % 100 == 0 or got == count:
            message.ack(multiple=True)

    with kombu.Consumer(conn.channel(), queues=[QUEUE], on_message=on_message,
                        prefetch_count=500):
        deadline = Deadline(30)
        while got < count:
            try:
                conn.drain_events(timeout=max(0.01, deadline.remaining()))
            except socket.timeout:
                raise AssertionError("only %d of %d messages within 30s" % (got, count))


def scenario():
    body, digest = large_message()
    with kombu.Connection(amqp_uri(), transport_options={"confirm_publish": True}) as conn:
        producer = kombu.Producer(conn.channel(), serializer=None)
        QUEUE(producer.channel).declare()
        producer.publish(body, routing_key=QUEUE.name, delivery_mode=2,
                         headers={"sha256": digest}, retry=False)

        def on_large(_n, got, message):
            check_eq(message.content_type, "application/data", "content type")
            check_large(got, message.headers, digest)
        consume(conn, 1, on_large)

    with kombu.Connection(amqp_uri()) as conn:
        channel = conn.channel()
        confirms = ConfirmWindow(conn, channel)
        producer = kombu.Producer(channel, serializer=None)
        for i in range(SMALL_COUNT):
            producer.publish(small_body(i), routing_key=QUEUE.name, retry=False)
            confirms.published()
            confirms.wait(1000)
        confirms.wait(0)
        check_eq((confirms.acked, confirms.nacked), (SMALL_COUNT, []), "confirms (acked, nacked)")

        consume(conn, SMALL_COUNT, lambda n, got, _message: check_small(n, got))

        bound = QUEUE(channel)
        check_eq(bound.queue_declare(passive=True).message_count, 0, "messages left")
        bound.delete()


if __name__ == "__main__":
    main(scenario)
