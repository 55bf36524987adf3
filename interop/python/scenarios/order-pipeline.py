"""Order pipeline over a topic exchange, with three durable service queues and rejects.

Topology (all durable, uniquely named): a topic exchange "orders"; queue billing bound
"order.created.*" with a dead-letter exchange; queue shipping bound "order.paid.*"; queue
audit bound "order.#"; a fanout dead-letter exchange feeding a "rejected" queue.

200 persistent orders are published with confirms as "order.created.<region>"; every 10th
is invalid. Each service runs on its own connection (prefetch 5, manual acks):
- billing rejects invalid orders without requeue (they are dead-lettered with an x-death
  header naming the queue, exchange, routing key and reason "rejected"); it rejects order 0
  once *with* requeue (it must come back with redelivered=true) and, for valid orders,
  publishes "order.paid.<region>" and acks;
- shipping acks paid orders; audit acks everything.
Checks: shipping saw exactly the valid orders, each once; rejected holds exactly the
invalid ones with correct x-death; audit saw every created and paid event; all queues end
empty; everything is deleted.
"""

import json
import threading

import pika

from interop_common import Deadline, Worker, check, check_eq, main, pika_params, unique

ORDERS = 200
REGIONS = ["eu", "us", "ap"]
EXCHANGE = unique("orders")
DLX = unique("orders-dlx")
Q = {name: unique("orders-" + name) for name in ("billing", "shipping", "audit", "rejected")}


def invalid(i):
    return i % 10 == 3


def declare(channel):
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    channel.exchange_declare(DLX, exchange_type="fanout", durable=True)
    channel.queue_declare(Q["billing"], durable=True, arguments={"x-dead-letter-exchange": DLX})
    channel.queue_declare(Q["shipping"], durable=True)
    channel.queue_declare(Q["audit"], durable=True)
    channel.queue_declare(Q["rejected"], durable=True)
    channel.queue_bind(Q["billing"], EXCHANGE, "order.created.*")
    channel.queue_bind(Q["shipping"], EXCHANGE, "order.paid.*")
    channel.queue_bind(Q["audit"], EXCHANGE, "order.#")
    channel.queue_bind(Q["rejected"], DLX, "")


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.seen = {name: [] for name in Q}
        self.redelivered = []
        self.stop = threading.Event()


def service(name, state, ready):
    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    channel.basic_qos(prefetch_count=5)

    def on_message(ch, method, props, body):
        order = json.loads(body)
        with state.lock:
            state.seen[name].append((method.routing_key, order["id"], props))
        if name == "billing":
            if order["id"] == 0 and not method.redelivered:
                ch.basic_reject(method.delivery_tag, requeue=True)
                return
            if method.redelivered:
                with state.lock:
                    state.redelivered.append(order["id"])
            if order["amount"] < 0:
                ch.basic_reject(method.delivery_tag, requeue=False)
                return
            paid = dict(order, status="paid")
            ch.basic_publish(EXCHANGE, "order.paid." + order["region"], json.dumps(paid),
                             pika.BasicProperties(delivery_mode=2, message_id=props.message_id))
        ch.basic_ack(method.delivery_tag)

    channel.basic_consume(Q[name], on_message)
    ready.set()
    while not state.stop.is_set():
        connection.process_data_events(time_limit=0.05)
    connection.close()


def scenario():
    setup = pika.BlockingConnection(pika_params())
    channel = setup.channel()
    declare(channel)

    state = State()
    services = []
    for name in ("billing", "shipping", "audit"):
        ready = threading.Event()
        w = Worker(service, name, state, ready, name=name)
        w.start()
        w.wait_ready(ready, 30)
        services.append(w)

    channel.confirm_delivery()
    for i in range(ORDERS):
        region = REGIONS[i % 3]
        order = {"id": i, "region": region, "amount": -1 if invalid(i) else 10 + i}
        channel.basic_publish(EXCHANGE, "order.created." + region, json.dumps(order),
                              pika.BasicProperties(delivery_mode=2, message_id="order-%d" % i,
                                                   content_type="application/json"))

    valid = [i for i in range(ORDERS) if not invalid(i)]
    bad = [i for i in range(ORDERS) if invalid(i)]
    deadline = Deadline(60)
    while not deadline.expired():
        with state.lock:
            done = (len(state.seen["shipping"]) >= len(valid)
                    and len(state.seen["audit"]) >= ORDERS + len(valid))
        if done or any(not w.is_alive() for w in services):
            break
        setup.sleep(0.05)
    state.stop.set()
    for w in services:
        w.join_checked(30)

    shipped = sorted(order_id for _key, order_id, _p in state.seen["shipping"])
    check_eq(shipped, valid, "orders shipped (each exactly once)")
    check(all(key == "order.paid." + REGIONS[i % 3] for key, i, _p in state.seen["shipping"]),
          "shipping routing keys")
    audit_keys = sorted(key.split(".")[1] for key, _i, _p in state.seen["audit"])
    check_eq(audit_keys, ["created"] * ORDERS + ["paid"] * len(valid), "events seen by audit")
    check_eq(state.redelivered, [0], "orders redelivered to billing")
    billing_ids = [i for _key, i, _p in state.seen["billing"]]
    check_eq(sorted(billing_ids), sorted(list(range(ORDERS)) + [0]), "billing deliveries")

    rejected = []
    deadline = Deadline(15)  # dead-lettering is asynchronous: allow it to catch up
    while len(rejected) < len(bad) and not deadline.expired():
        method, props, body = channel.basic_get(Q["rejected"], auto_ack=True)
        if method is None:
            setup.sleep(0.05)
            continue
        order = json.loads(body)
        rejected.append(order["id"])
        check_eq(props.message_id, "order-%d" % order["id"], "dead-lettered message id")
        death = props.headers["x-death"][0]
        check_eq((death["reason"], death["queue"], death["exchange"], death["count"]),
                 ("rejected", Q["billing"], EXCHANGE, 1), "x-death entry")
        check_eq(death["routing-keys"], ["order.created." + order["region"]], "x-death keys")
    check_eq(rejected, bad, "rejected orders, in order")

    for name, queue in Q.items():
        left = channel.queue_declare(queue, durable=True, passive=True).method.message_count
        check_eq(left, 0, "messages left in %s" % name)
        channel.queue_delete(queue)
    channel.exchange_delete(EXCHANGE)
    channel.exchange_delete(DLX)
    setup.close()


if __name__ == "__main__":
    main(scenario)
