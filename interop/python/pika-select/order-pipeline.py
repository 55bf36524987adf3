"""pika SelectConnection: order pipeline over a durable topic exchange, dead-lettering.

Callback style throughout, all connections on one IOLoop. The order API channel declares
a durable topic exchange, a fanout dead-letter exchange and four durable queues
(inventory "order.created.*", payment "order.created.*" with x-dead-letter-exchange,
e-mail "order.#", rejected bound to the DLX), turns on publisher confirms, and once the
three services consume, publishes 300 persistent orders "order.created.<eu|us|ap>"; the
ack callback must see every delivery tag acked (acks with `multiple` included), no nacks.
Inventory, payment and e-mail each have their own connection, prefetch 10, manual acks.
Payment rejects orders with id % 7 == 3 without requeue and rejects order 0 once with
requeue (it must come back with redelivered=True and is then processed).

Checks, from the callbacks: every order confirmed; OrderServices.verify (lib/catalogue.py)
once all three services are done; each message consumed from "rejected" passes
check_dead_lettered and they arrive as exactly the failing ids, in order; the passive
declares in the clean-up chain find every queue empty.
"""

import functools
import json

import pika
from pika.spec import Basic

from catalogue import (ACK, ORDER_BAD, ORDER_BINDINGS, ORDER_SERVICES, ORDERS, REQUEUE,
                       OrderServices, check_dead_lettered, check_rejected, order_body, order_key,
                       order_message_id, order_names)
from confirm_tracker import ConfirmTracker
from interop_common import check_eq, main
from pika_async import SelectScenario

EXCHANGE, DLX, Q = order_names()


class OrderPipeline(SelectScenario):
    def __init__(self):
        super().__init__()
        self.confirms = ConfirmTracker()
        self.services = OrderServices()
        self.rejected = []
        self.service_connections = []
        self.consuming = 0
        self.checked = False

    def start(self):
        self.connect(lambda conn: self.open_channel(conn, self.on_api_channel))

    def on_api_channel(self, ch):
        self.ch = ch
        self.chain([
            lambda cb: ch.exchange_declare(EXCHANGE, "topic", durable=True, callback=cb),
            lambda cb: ch.exchange_declare(DLX, "fanout", durable=True, callback=cb),
            lambda cb: ch.queue_declare(Q["inventory"], durable=True, callback=cb),
            lambda cb: ch.queue_declare(Q["payment"], durable=True, callback=cb,
                                        arguments={"x-dead-letter-exchange": DLX}),
            lambda cb: ch.queue_declare(Q["email"], durable=True, callback=cb),
            lambda cb: ch.queue_declare(Q["rejected"], durable=True, callback=cb),
            lambda cb: ch.queue_bind(Q["inventory"], EXCHANGE, ORDER_BINDINGS["inventory"],
                                     callback=cb),
            lambda cb: ch.queue_bind(Q["payment"], EXCHANGE, ORDER_BINDINGS["payment"],
                                     callback=cb),
            lambda cb: ch.queue_bind(Q["email"], EXCHANGE, ORDER_BINDINGS["email"], callback=cb),
            lambda cb: ch.queue_bind(Q["rejected"], DLX, "", callback=cb),
            lambda cb: ch.confirm_delivery(self.cb(self.on_confirm), callback=cb),
        ], lambda _frames: [self.connect(functools.partial(self.on_service_open, name))
                            for name in ORDER_SERVICES])

    def on_service_open(self, name, conn):
        self.service_connections.append(conn)

        def on_channel(ch):
            self.chain([
                lambda cb: ch.basic_qos(prefetch_count=10, callback=cb),
                lambda cb: ch.basic_consume(
                    Q[name], self.cb(functools.partial(self.on_order, name)), callback=cb),
            ], self.on_consuming)

        self.open_channel(conn, on_channel)

    def on_consuming(self, _frames):
        self.consuming += 1
        if self.consuming < len(ORDER_SERVICES):
            return
        for i in range(ORDERS):
            self.ch.basic_publish(
                EXCHANGE, order_key(i), order_body(i),
                pika.BasicProperties(delivery_mode=2, message_id=order_message_id(i),
                                     content_type="application/json"))
            self.confirms.published()

    def on_confirm(self, frame):
        m = frame.method
        self.confirms.settle(m.delivery_tag, m.multiple, isinstance(m, Basic.Ack))
        check_eq(self.confirms.nacked, [], "nacked orders")
        self.progress()

    def on_order(self, name, ch, method, props, body):
        action = self.services.handle(name, json.loads(body)["id"], method.redelivered)
        if action == REQUEUE:
            ch.basic_reject(method.delivery_tag, requeue=True)
            return
        if action == ACK:
            ch.basic_ack(method.delivery_tag)
        else:
            ch.basic_reject(method.delivery_tag, requeue=False)
        self.progress()

    def progress(self):
        if self.checked or self.confirms.acked < ORDERS or not self.services.finished():
            return
        self.checked = True
        check_eq((self.confirms.published_count, self.confirms.outstanding), (ORDERS, 0),
                 "orders published and all confirmed")
        self.services.verify()
        for conn in self.service_connections:
            self.close(conn)
        # Dead-lettering is asynchronous: consume "rejected" until every failing id is in.
        self.ch.basic_consume(Q["rejected"], self.cb(self.on_rejected))

    def on_rejected(self, ch, method, props, body):
        self.rejected.append(check_dead_lettered(body, props.message_id, props.headers,
                                                 Q["payment"], EXCHANGE))
        ch.basic_ack(method.delivery_tag)
        if len(self.rejected) == len(ORDER_BAD):
            check_rejected(self.rejected)
            ch.basic_cancel(method.consumer_tag, callback=self.cb(self.clean_up))

    def clean_up(self, _frame):
        ch = self.ch
        steps = [functools.partial(lambda q, cb: ch.queue_declare(q, passive=True, callback=cb),
                                   Q[name]) for name in Q]
        steps += [functools.partial(lambda q, cb: ch.queue_delete(q, callback=cb), Q[name])
                  for name in Q]
        steps += [lambda cb: ch.exchange_delete(EXCHANGE, callback=cb),
                  lambda cb: ch.exchange_delete(DLX, callback=cb)]

        def done(frames):
            for name, frame in zip(Q, frames):
                check_eq(frame.method.message_count, 0, "messages left in %s" % name)
            self.succeed()

        self.chain(steps, done)


if __name__ == "__main__":
    main(OrderPipeline().run)
