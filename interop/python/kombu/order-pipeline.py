"""kombu: order pipeline over a durable topic exchange, three services, dead-lettering.

An order API (Producer, JSON serializer, `confirm_publish` so every publish waits for the
broker's ack) publishes 300 persistent orders as "order.created.<eu|us|ap>" to a durable
topic exchange. Inventory (bound "order.created.*"), payment ("order.created.*", with
x-dead-letter-exchange = a fanout DLX feeding a durable "rejected" queue) and e-mail
("order.#") are kombu ConsumerMixin workers, each on its own Connection in its own thread,
prefetch 10, manual acks. Payment rejects orders with id % 7 == 3 (`message.reject()`,
no requeue) and requeues order 0 once (`message.requeue()`); it must come back with
delivery_info["redelivered"] and is then processed.

Checks: inventory and e-mail saw every id exactly once; payment completed exactly the
non-failing ids once each (order 0 delivered twice); "rejected" (read with basic.get via
Queue.get) holds exactly the failing ids in order, with x-death[0] naming the payment
queue, reason "rejected", count 1, the orders exchange and the original routing key;
every queue ends empty; everything is deleted.
"""

import socket
import threading

import kombu
from kombu.mixins import ConsumerMixin

from interop_common import Deadline, Worker, amqp_uri, check_eq, main, unique

ORDERS = 300
REGIONS = ["eu", "us", "ap"]
orders_exchange = kombu.Exchange(unique("orders"), type="topic", durable=True)
dlx = kombu.Exchange(unique("orders-dlx"), type="fanout", durable=True)
QUEUES = {
    "inventory": kombu.Queue(unique("orders-inventory"), orders_exchange,
                             routing_key="order.created.*", durable=True),
    "payment": kombu.Queue(unique("orders-payment"), orders_exchange,
                           routing_key="order.created.*", durable=True,
                           queue_arguments={"x-dead-letter-exchange": dlx.name}),
    "email": kombu.Queue(unique("orders-email"), orders_exchange, routing_key="order.#",
                         durable=True),
    "rejected": kombu.Queue(unique("orders-rejected"), dlx, routing_key="", durable=True),
}


def failing(i):
    return i % 7 == 3


class Service(ConsumerMixin):
    def __init__(self, name, state):
        self.name = name
        self.state = state
        self.connection = kombu.Connection(amqp_uri())

    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[QUEUES[self.name]], callbacks=[self.on_order],
                         accept=["json"], prefetch_count=10)]

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        self.state.ready[self.name].set()

    def on_order(self, body, message):
        state = self.state
        with state.lock:
            state.seen[self.name].append(body["id"])
        if self.name == "payment":
            redelivered = message.delivery_info["redelivered"]
            if body["id"] == 0 and not redelivered:
                message.requeue()
                return
            if redelivered:
                with state.lock:
                    state.redelivered.append(body["id"])
            if failing(body["id"]):
                message.reject()
                return
            with state.lock:
                state.completed.append(body["id"])
        message.ack()
        if state.done():
            state.all_done.set()


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.seen = {"inventory": [], "payment": [], "email": []}
        self.completed = []
        self.redelivered = []
        self.ready = {name: threading.Event() for name in self.seen}
        self.all_done = threading.Event()

    def done(self):
        with self.lock:
            return (len(self.seen["inventory"]) >= ORDERS and len(self.seen["email"]) >= ORDERS
                    and len(self.completed) + sum(map(failing, range(ORDERS))) >= ORDERS)


def scenario():
    with kombu.Connection(amqp_uri(), transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        for queue in QUEUES.values():
            queue(channel).declare()  # declares the exchanges and bindings too

        state = State()
        services = [Service(name, state) for name in ("inventory", "payment", "email")]
        threads = [Worker(s.run, name=s.name) for s in services]
        for s, t in zip(services, threads):
            t.start()
            t.wait_ready(state.ready[s.name], 30)
        try:
            producer = kombu.Producer(channel, exchange=orders_exchange, serializer="json")
            for i in range(ORDERS):
                region = REGIONS[i % 3]
                producer.publish({"id": i, "region": region},
                                 routing_key="order.created." + region,
                                 delivery_mode=2, message_id="order-%d" % i, retry=False)
            deadline = Deadline(30)
            while not state.all_done.wait(0.1) and not deadline.expired():
                if any(not t.is_alive() for t in threads):
                    break  # join_checked below reports its error
        finally:
            for s in services:
                s.should_stop = True
            for t in threads:
                t.join_checked(10)
            for s in services:
                s.connection.release()

        good = [i for i in range(ORDERS) if not failing(i)]
        bad = [i for i in range(ORDERS) if failing(i)]
        check_eq(sorted(state.seen["inventory"]), list(range(ORDERS)), "inventory ids (once each)")
        check_eq(sorted(state.seen["email"]), list(range(ORDERS)), "e-mail ids (once each)")
        check_eq(sorted(state.completed), good, "payments completed (once each)")
        check_eq(sorted(state.seen["payment"]), sorted(list(range(ORDERS)) + [0]),
                 "payment deliveries (order 0 twice)")
        check_eq(state.redelivered, [0], "orders redelivered to payment")

        # Dead-lettering is asynchronous: consume "rejected" until every failing id is in.
        rejected = []

        def on_rejected(order, message):
            rejected.append(order["id"])
            check_eq(message.properties["message_id"], "order-%d" % order["id"],
                     "dead-lettered message id")
            death = message.headers["x-death"][0]
            check_eq((death["queue"], death["reason"], death["count"], death["exchange"]),
                     (QUEUES["payment"].name, "rejected", 1, orders_exchange.name),
                     "x-death entry")
            check_eq(list(death["routing-keys"]), ["order.created." + order["region"]],
                     "x-death routing keys")
            message.ack()

        with kombu.Consumer(conn.channel(), queues=[QUEUES["rejected"]], accept=["json"],
                            callbacks=[on_rejected], prefetch_count=100):
            deadline = Deadline(15)
            while len(rejected) < len(bad) and not deadline.expired():
                try:
                    conn.drain_events(timeout=deadline.remaining())
                except socket.timeout:
                    break  # reported by the check below
        check_eq(rejected, bad, "dead-lettered orders, in order")

        for name, queue in QUEUES.items():
            bound = queue(channel)
            check_eq(bound.queue_declare(passive=True).message_count, 0,
                     "messages left in %s" % name)
            bound.delete()
        orders_exchange(channel).delete()
        dlx(channel).delete()


if __name__ == "__main__":
    main(scenario)
