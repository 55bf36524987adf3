"""kombu: order pipeline over a durable topic exchange, three services, dead-lettering.

An order API (Producer, JSON serializer, `confirm_publish` so every publish waits for the
broker's ack) publishes 300 persistent orders as "order.created.<eu|us|ap>" to a durable
topic exchange. Inventory (bound "order.created.*"), payment ("order.created.*", with
x-dead-letter-exchange = a fanout DLX feeding a durable "rejected" queue) and e-mail
("order.#") are kombu ConsumerMixin workers, each on its own Connection in its own thread,
prefetch 10, manual acks. Payment rejects orders with id % 7 == 3 (`message.reject()`,
no requeue) and requeues order 0 once (`message.requeue()`); it must come back with
delivery_info["redelivered"] and is then processed.

Checks (lib/catalogue.py): OrderServices.verify over what the three ConsumerMixins saw;
"rejected", drained by a kombu Consumer, holds exactly the failing ids in order, each
passing check_dead_lettered (message id, x-death[0]: payment queue, reason "rejected",
count 1, orders exchange, original routing key); queues empty at the end, then deleted.
"""

import socket
import threading

import kombu
from kombu.mixins import ConsumerMixin

from catalogue import (ACK, ORDER_BAD, ORDER_BINDINGS, ORDER_SERVICES, ORDERS, REQUEUE,
                       OrderServices, check_dead_lettered, check_rejected, order, order_key,
                       order_message_id)
from interop_common import Deadline, Worker, amqp_uri, check_eq, main, unique

orders_exchange = kombu.Exchange(unique("orders"), type="topic", durable=True)
dlx = kombu.Exchange(unique("orders-dlx"), type="fanout", durable=True)
QUEUES = {
    "inventory": kombu.Queue(unique("orders-inventory"), orders_exchange,
                             routing_key=ORDER_BINDINGS["inventory"], durable=True),
    "payment": kombu.Queue(unique("orders-payment"), orders_exchange,
                           routing_key=ORDER_BINDINGS["payment"], durable=True,
                           queue_arguments={"x-dead-letter-exchange": dlx.name}),
    "email": kombu.Queue(unique("orders-email"), orders_exchange,
                         routing_key=ORDER_BINDINGS["email"], durable=True),
    "rejected": kombu.Queue(unique("orders-rejected"), dlx, routing_key="", durable=True),
}


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
        action = state.handle(self.name, body["id"], message.delivery_info["redelivered"])
        if action == REQUEUE:
            message.requeue()
            return
        if action != ACK:
            message.reject()  # no requeue: dead-lettered
            return
        message.ack()
        if state.finished():
            state.all_done.set()


class State(OrderServices):
    def __init__(self):
        super().__init__()
        self.ready = {name: threading.Event() for name in ORDER_SERVICES}
        self.all_done = threading.Event()


def scenario():
    with kombu.Connection(amqp_uri(), transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        for queue in QUEUES.values():
            queue(channel).declare()  # declares the exchanges and bindings too

        state = State()
        services = [Service(name, state) for name in ORDER_SERVICES]
        threads = [Worker(s.run, name=s.name) for s in services]
        for s, t in zip(services, threads):
            t.start()
            t.wait_ready(state.ready[s.name], 30)
        try:
            producer = kombu.Producer(channel, exchange=orders_exchange, serializer="json")
            for i in range(ORDERS):
                producer.publish(order(i), routing_key=order_key(i), delivery_mode=2,
                                 message_id=order_message_id(i), retry=False)
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

        state.verify()

        # Dead-lettering is asynchronous: consume "rejected" until every failing id is in.
        rejected = []

        def on_rejected(body, message):
            rejected.append(check_dead_lettered(body, message.properties["message_id"],
                                                message.headers, QUEUES["payment"].name,
                                                orders_exchange.name))
            message.ack()

        with kombu.Consumer(conn.channel(), queues=[QUEUES["rejected"]], accept=["json"],
                            callbacks=[on_rejected], prefetch_count=100):
            deadline = Deadline(15)
            while len(rejected) < len(ORDER_BAD) and not deadline.expired():
                try:
                    conn.drain_events(timeout=deadline.remaining())
                except socket.timeout:
                    break  # reported by the check below
        check_rejected(rejected)

        for name, queue in QUEUES.items():
            bound = queue(channel)
            check_eq(bound.queue_declare(passive=True).message_count, 0,
                     "messages left in %s" % name)
            bound.delete()
        orders_exchange(channel).delete()
        dlx(channel).delete()


if __name__ == "__main__":
    main(scenario)
