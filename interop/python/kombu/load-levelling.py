"""kombu: load levelling, a burst queued with no consumer, then drained in order.

INTEROP_BURST (default 100,000) small raw-bytes messages (serializer=None), the body
carrying the sequence number, are published by a Producer through a direct exchange,
alternating routing keys q0/q1 (one durable queue each), while nobody consumes, with
publisher confirms (py-amqp basic_ack events, 5,000 in flight; all acked, none nacked).
Then each queue's depth must be exactly half the burst (passive declare). Then each queue
is drained by a kombu Consumer (prefetch 1000, `on_message` with the raw Message,
`message.ack(multiple=True)` every 100): every message once, in sequence order per queue,
none flagged redelivered; the queues end empty; everything is deleted.
"""

import socket
import time

import kombu

from catalogue import BURST, burst_body, burst_sequence, check_burst_message, report_burst
from interop_common import Deadline, amqp_uri, check_eq, main, unique
from kombu_confirms import ConfirmWindow

WINDOW = 5000
exchange = kombu.Exchange(unique("levelling"), type="direct", durable=True)
QUEUES = [kombu.Queue(unique("levelling-q%d" % q), exchange, routing_key="q%d" % q,
                      durable=True) for q in range(2)]


def scenario():
    with kombu.Connection(amqp_uri()) as conn:
        channel = conn.channel()
        for q in QUEUES:
            q(channel).declare()
        started = time.monotonic()
        confirms = ConfirmWindow(conn, channel)
        producer = kombu.Producer(channel, exchange=exchange, serializer=None)
        for i in range(BURST):
            producer.publish(burst_body(i), routing_key="q%d" % (i % 2),
                             retry=False)
            confirms.published()
            confirms.wait(WINDOW)
        confirms.wait(0)
        check_eq((confirms.acked, confirms.nacked), (BURST, []), "confirms (acked, nacked)")
        published = time.monotonic()

        for n, q in enumerate(QUEUES):
            check_eq(q(channel).queue_declare(passive=True).message_count,
                     len(burst_sequence(n)), "depth of %s after the burst" % q.name)

        for n, q in enumerate(QUEUES):
            sequence = burst_sequence(n)
            got = 0

            def on_message(message):
                nonlocal got
                check_burst_message(n, message.body, sequence[got],
                                    message.delivery_info["redelivered"])
                got += 1
                if got % 100 == 0 or got == len(sequence):
                    message.ack(multiple=True)

            with kombu.Consumer(conn.channel(), queues=[q], on_message=on_message,
                                prefetch_count=1000):
                deadline = Deadline(60)
                while got < len(sequence):
                    try:
                        conn.drain_events(timeout=max(0.01, deadline.remaining()))
                    except socket.timeout:
                        raise AssertionError("%s: only %d of %d messages within 60s"
                                             % (q.name, got, len(sequence)))
        drained = time.monotonic()

        for q in QUEUES:
            bound = q(channel)
            check_eq(bound.queue_declare(passive=True).message_count, 0,
                     "messages left in %s" % q.name)
            bound.delete()
        exchange(channel).delete()
        report_burst(started, published, drained)


if __name__ == "__main__":
    main(scenario)
