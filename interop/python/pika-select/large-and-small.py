"""pika SelectConnection: one 16 MiB message, then 10,000 small ones of varying length.

On a confirm-mode channel a 16 MiB body of pseudo-random bytes is published persistent
to a durable queue; once acked it is consumed back and compared by length and SHA-256
(also carried in a header). Then 10,000 small messages with bodies of length i % 101
(0..100 bytes, the first one empty) are published; once all are acked they are consumed
(prefetch 500, multiple acks every 100) and every body must match exactly, in order. The
queue ends empty and is deleted.
"""

import pika
from pika.spec import Basic

from catalogue import SMALL_COUNT, check_large, check_small, large_message, small_body
from confirm_tracker import ConfirmTracker
from interop_common import check_eq, main, unique
from pika_async import SelectScenario

QUEUE = unique("large-and-small")


class LargeAndSmall(SelectScenario):
    def __init__(self):
        super().__init__()
        self.body, self.digest = large_message()
        self.confirms = ConfirmTracker()
        self.on_all_confirmed = None
        self.received = 0

    def start(self):
        self.connect(lambda conn: self.open_channel(conn, self.on_channel))

    def on_channel(self, ch):
        self.ch = ch
        self.chain([
            lambda cb: ch.queue_declare(QUEUE, durable=True, callback=cb),
            lambda cb: ch.basic_qos(prefetch_count=500, callback=cb),
            lambda cb: ch.confirm_delivery(self.cb(self.on_confirm), callback=cb),
        ], self.publish_large)

    def on_confirm(self, frame):
        m = frame.method
        self.confirms.settle(m.delivery_tag, m.multiple, isinstance(m, Basic.Ack))
        check_eq(self.confirms.nacked, [], "nacked publishes")
        if self.confirms.outstanding == 0 and self.on_all_confirmed:
            then, self.on_all_confirmed = self.on_all_confirmed, None
            then()

    def publish_large(self, _frames):
        self.on_all_confirmed = lambda: self.ch.basic_consume(QUEUE, self.cb(self.on_large))
        self.ch.basic_publish("", QUEUE, self.body, pika.BasicProperties(
            delivery_mode=2, headers={"sha256": self.digest}))
        self.confirms.published()

    def on_large(self, ch, method, props, body):
        check_large(body, props.headers, self.digest)
        ch.basic_ack(method.delivery_tag)
        ch.basic_cancel(method.consumer_tag, callback=self.cb(self.publish_small))

    def publish_small(self, _frame):
        self.on_all_confirmed = lambda: self.ch.basic_consume(QUEUE, self.cb(self.on_small))
        for i in range(SMALL_COUNT):
            self.ch.basic_publish("", QUEUE, small_body(i))
            self.confirms.published()

    def on_small(self, ch, method, _props, body):
        check_small(self.received, body)
        self.received += 1
        if self.received % 100 == 0 or self.received == SMALL_COUNT:
            ch.basic_ack(method.delivery_tag, multiple=True)
        if self.received == SMALL_COUNT:
            self.chain([
                lambda cb: ch.basic_cancel(method.consumer_tag, callback=cb),
                lambda cb: ch.queue_declare(QUEUE, passive=True, callback=cb),
                lambda cb: ch.queue_delete(QUEUE, callback=cb),
            ], self.done)

    def done(self, frames):
        check_eq(frames[1].method.message_count, 0, "messages left")
        self.succeed()


if __name__ == "__main__":
    main(LargeAndSmall().run)
