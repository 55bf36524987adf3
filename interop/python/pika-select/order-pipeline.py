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

Checks: inventory and e-mail saw every id once; payment completed exactly the non-failing
ids once each (order 0 delivered twice); "rejected" receives exactly the failing ids, in
order, each with x-death[0] = payment queue, reason "rejected", count 1, the orders
exchange and the original routing key; every queue ends empty; everything is deleted.
"""

import functools
import json

import pika
from pika.spec import Basic

from confirm_tracker import ConfirmTracker
from interop_common import check, check_eq, main, unique
from pika_async import SelectScenario

ORDERS = 300
REGIONS = ["eu", "us", "ap"]
EXCHANGE = unique("orders")
DLX = unique("orders-dlx")
Q = {name: unique("orders-" + name) for name in ("inventory", "payment", "email", "rejected")}
SERVICES = ("inventory", "payment", "email")


def failing(i):
    return i % 7 == 3


class OrderPipeline(SelectScenario):
    def __init__(self):
        super().__init__()
        self.confirms = ConfirmTracker()
        self.seen = {name: [] for name in SERVICES}
        self.completed, self.redelivered, self.rejected = [], [], []
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
            lambda cb: ch.queue_bind(Q["inventory"], EXCHANGE, "order.created.*", callback=cb),
            lambda cb: ch.queue_bind(Q["payment"], EXCHANGE, "order.created.*", callback=cb),
            lambda cb: ch.queue_bind(Q["email"], EXCHANGE, "order.#", callback=cb),
            lambda cb: ch.queue_bind(Q["rejected"], DLX, "", callback=cb),
            lambda cb: ch.confirm_delivery(self.cb(self.on_confirm), callback=cb),
        ], lambda _frames: [self.connect(functools.partial(self.on_service_open, name))
                            for name in SERVICES])

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
        if self.consuming < len(SERVICES):
            return
        for i in range(ORDERS):
            region = REGIONS[i % 3]
            self.ch.basic_publish(
                EXCHANGE, "order.created." + region,
                json.dumps({"id": i, "region": region}).encode(),
                pika.BasicProperties(delivery_mode=2, message_id="order-%d" % i,
                                     content_type="application/json"))
            self.confirms.published()

    def on_confirm(self, frame):
        m = frame.method
        self.confirms.settle(m.delivery_tag, m.multiple, isinstance(m, Basic.Ack))
        check_eq(self.confirms.nacked, [], "nacked orders")
        self.progress()

    def on_order(self, name, ch, method, props, body):
        order = json.loads(body)
        self.seen[name].append(order["id"])
        if name == "payment":
            if order["id"] == 0 and not method.redelivered:
                ch.basic_reject(method.delivery_tag, requeue=True)
                return
            if method.redelivered:
                self.redelivered.append(order["id"])
            if failing(order["id"]):
                ch.basic_reject(method.delivery_tag, requeue=False)
                self.progress()
                return
            self.completed.append(order["id"])
        ch.basic_ack(method.delivery_tag)
        self.progress()

    def progress(self):
        n_failing = sum(map(failing, range(ORDERS)))
        if (self.checked or self.confirms.acked < ORDERS or len(self.seen["inventory"]) < ORDERS
                or len(self.seen["email"]) < ORDERS
                or len(self.completed) + n_failing < ORDERS):
            return
        self.checked = True
        check_eq((self.confirms.published_count, self.confirms.outstanding), (ORDERS, 0),
                 "orders published and all confirmed")
        good = [i for i in range(ORDERS) if not failing(i)]
        check_eq(sorted(self.seen["inventory"]), list(range(ORDERS)), "inventory ids")
        check_eq(sorted(self.seen["email"]), list(range(ORDERS)), "e-mail ids")
        check_eq(sorted(self.completed), good, "payments completed (once each)")
        check_eq(sorted(self.seen["payment"]), sorted(list(range(ORDERS)) + [0]),
                 "payment deliveries (order 0 twice)")
        check_eq(self.redelivered, [0], "orders redelivered to payment")
        for conn in self.service_connections:
            self.close(conn)
        # Dead-lettering is asynchronous: consume "rejected" until every failing id is in.
        self.ch.basic_consume(Q["rejected"], self.cb(self.on_rejected))

    def on_rejected(self, ch, method, props, body):
        order = json.loads(body)
        self.rejected.append(order["id"])
        check_eq(props.message_id, "order-%d" % order["id"], "dead-lettered message id")
        death = props.headers["x-death"][0]
        check_eq((death["queue"], death["reason"], death["count"], death["exchange"]),
                 (Q["payment"], "rejected", 1, EXCHANGE), "x-death entry")
        check_eq(death["routing-keys"], ["order.created." + order["region"]], "x-death keys")
        ch.basic_ack(method.delivery_tag)
        bad = [i for i in range(ORDERS) if failing(i)]
        if len(self.rejected) == len(bad):
            check_eq(self.rejected, bad, "dead-lettered orders, in order")
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
            self.ok = True
            self.finish()

        self.chain(steps, done)


def scenario():
    pipeline = OrderPipeline()
    pipeline.run()
    check(getattr(pipeline, "ok", False), "the scenario did not reach its end")


if __name__ == "__main__":
    main(scenario)
