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

import os
import socket
import struct
import time

import kombu

from interop_common import Deadline, amqp_uri, check, check_eq, main, unique
from kombu_confirms import ConfirmWindow

BURST = int(os.environ.get("INTEROP_BURST", "100000"))
WINDOW = 5000
exchange = kombu.Exchange(unique("levelling"), type="direct", durable=True)
QUEUES = [kombu.Queue(unique("levelling-q%d" % q), exchange, routing_key="q%d" % q,
                      durable=True) for q in range(2)]
PADDING = b"." * 32


def scenario():
    with kombu.Connection(amqp_uri()) as conn:
        channel = conn.channel()
        for q in QUEUES:
            q(channel).declare()
        started = time.monotonic()
        confirms = ConfirmWindow(conn, channel)
        producer = kombu.Producer(channel, exchange=exchange, serializer=None)
        for i in range(BURST):
            producer.publish(struct.pack(">Q", i) + PADDING, routing_key="q%d" % (i % 2),
                             retry=False)
            confirms.published()
            confirms.wait(WINDOW)
        confirms.wait(0)
        check_eq((confirms.acked, confirms.nacked), (BURST, []), "confirms (acked, nacked)")
        published = time.monotonic()

        for n, q in enumerate(QUEUES):
            check_eq(q(channel).queue_declare(passive=True).message_count,
                     len(range(n, BURST, 2)), "depth of %s after the burst" % q.name)

        for n, q in enumerate(QUEUES):
            sequence = range(n, BURST, 2)
            got = 0

            def on_message(message):
                nonlocal got
                seq = struct.unpack(">Q", message.body[:8])[0]
                if seq != sequence[got]:
                    raise AssertionError("%s: got %d, expected %d" % (q.name, seq, sequence[got]))
                check(not message.delivery_info["redelivered"], "%d flagged redelivered" % seq)
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
        print("published %d in %.1fs, drained in %.1fs"
              % (BURST, published - started, drained - published))


if __name__ == "__main__":
    main(scenario)
