"""pika SelectConnection: load levelling, a burst queued with no consumer, then drained.

INTEROP_BURST (default 100,000) small messages, the body carrying the sequence number,
are published alternately to two durable queues through the default exchange on a channel
in confirm mode, with no consumer attached; the ack callback must settle every delivery
tag as acked (single and `multiple` acks, possibly out of order across the two queues;
see lib/confirm_tracker.py), no nacks. Then each queue's depth must be
exactly half the burst (passive declare). Then both queues are drained by two consumers
on one channel (prefetch 1000, `basic_ack(multiple=True)` every 100 deliveries): every
message once, in sequence order per queue, none redelivered; the queues end empty and
are deleted.
"""

import functools
import time

from pika.spec import Basic

from confirm_tracker import ConfirmTracker
from catalogue import BURST, burst_body, burst_sequence, check_burst_message, report_burst
from interop_common import check_eq, main, unique
from pika_async import SelectScenario

QUEUES = [unique("levelling-q0"), unique("levelling-q1")]


class LoadLevelling(SelectScenario):
    TIMEOUT = 100

    def __init__(self):
        super().__init__()
        self.confirms = ConfirmTracker()
        self.next_seq = [0, 1]
        self.delivered = 0
        self.times = [time.monotonic()]

    def start(self):
        self.connect(lambda conn: self.open_channel(conn, self.on_channel))

    def on_channel(self, ch):
        self.ch = ch
        self.chain([
            lambda cb: ch.queue_declare(QUEUES[0], durable=True, callback=cb),
            lambda cb: ch.queue_declare(QUEUES[1], durable=True, callback=cb),
            lambda cb: ch.confirm_delivery(self.cb(self.on_confirm), callback=cb),
        ], self.publish)

    def publish(self, _frames):
        for i in range(BURST):
            self.ch.basic_publish("", QUEUES[i % 2], burst_body(i))
            self.confirms.published()

    def on_confirm(self, frame):
        m = frame.method
        self.confirms.settle(m.delivery_tag, m.multiple, isinstance(m, Basic.Ack))
        check_eq(self.confirms.nacked, [], "nacked publishes")
        if self.confirms.acked == BURST:
            self.times.append(time.monotonic())
            ch = self.ch
            self.chain([
                lambda cb: ch.queue_declare(QUEUES[0], passive=True, callback=cb),
                lambda cb: ch.queue_declare(QUEUES[1], passive=True, callback=cb),
            ], self.on_depths)

    def on_depths(self, frames):
        for q, frame in enumerate(frames):
            check_eq(frame.method.message_count, len(burst_sequence(q)),
                     "depth of queue %d after the burst" % q)
        self.open_channel(self.connections[0], self.on_consumer_channel)

    def on_consumer_channel(self, ch):
        self.consumer = ch

        def consume(_frame):
            for q in range(2):
                ch.basic_consume(QUEUES[q], self.cb(functools.partial(self.on_message, q)))

        ch.basic_qos(prefetch_count=1000, callback=self.cb(consume))

    def on_message(self, q, ch, method, _props, body):
        check_burst_message(q, body, self.next_seq[q], method.redelivered)
        self.next_seq[q] += 2
        self.delivered += 1
        if self.delivered % 100 == 0 or self.delivered == BURST:
            ch.basic_ack(method.delivery_tag, multiple=True)
        if self.delivered == BURST:
            self.times.append(time.monotonic())
            ch.close()
            c = self.ch
            self.chain([
                lambda cb: c.queue_declare(QUEUES[0], passive=True, callback=cb),
                lambda cb: c.queue_declare(QUEUES[1], passive=True, callback=cb),
                lambda cb: c.queue_delete(QUEUES[0], callback=cb),
                lambda cb: c.queue_delete(QUEUES[1], callback=cb),
            ], self.on_cleaned)

    def on_cleaned(self, frames):
        for q in range(2):
            check_eq(frames[q].method.message_count, 0, "messages left in queue %d" % q)
        self.succeed()


def scenario():
    s = LoadLevelling()
    s.run()
    check_eq(s.next_seq, [BURST + BURST % 2, BURST + 1 - BURST % 2], "messages drained")
    report_burst(*s.times)


if __name__ == "__main__":
    main(scenario)
