"""pika AsyncioConnection: order pipeline over a durable topic exchange, dead-lettering.

pika's callback API on an asyncio loop, bridged to coroutines (lib/pika_async.py). The
order API declares a durable topic exchange, a fanout dead-letter exchange and four
durable queues (inventory "order.created.*", payment "order.created.*" with
x-dead-letter-exchange, e-mail "order.#", rejected bound to the DLX) and publishes 300
persistent orders "order.created.<eu|us|ap>" on a confirm-mode channel, awaiting every
ack (none nacked). Inventory, payment and e-mail are coroutines, each with its own
AsyncioConnection, prefetch 10 and manual acks. Payment rejects orders with id % 7 == 3
without requeue and rejects order 0 once with requeue (it must come back with
redelivered=True and is then processed).

Checks: inventory and e-mail saw every id once; payment completed exactly the non-failing
ids once each (order 0 delivered twice); "rejected" receives exactly the failing ids, in
order, each with x-death[0] = payment queue, reason "rejected", count 1, the orders
exchange and the original routing key; every queue ends empty; everything is deleted.
"""

import asyncio
import json

import pika

from interop_common import check_eq, main, unique
from pika_async import AsyncioPika

ORDERS = 300
REGIONS = ["eu", "us", "ap"]
EXCHANGE = unique("orders")
DLX = unique("orders-dlx")
Q = {name: unique("orders-" + name) for name in ("inventory", "payment", "email", "rejected")}
SERVICES = ("inventory", "payment", "email")


def failing(i):
    return i % 7 == 3


class Pipeline:
    def __init__(self, amqp):
        self.amqp = amqp
        self.seen = {name: [] for name in SERVICES}
        self.completed, self.redelivered = [], []
        self.done = asyncio.Event()

    def finished(self):
        return (len(self.seen["inventory"]) >= ORDERS and len(self.seen["email"]) >= ORDERS
                and len(self.completed) + sum(map(failing, range(ORDERS))) >= ORDERS)

    async def service(self, name, ready):
        amqp = self.amqp
        conn = await amqp.connect()
        try:
            ch = await amqp.channel(conn)
            await amqp.call(ch.basic_qos, prefetch_count=10)
            _tag, deliveries = await amqp.consume(ch, Q[name])
            ready.set()
            while True:
                method, _props, body = await deliveries.get()
                order = json.loads(body)
                self.seen[name].append(order["id"])
                if name == "payment":
                    if order["id"] == 0 and not method.redelivered:
                        ch.basic_reject(method.delivery_tag, requeue=True)
                        continue
                    if method.redelivered:
                        self.redelivered.append(order["id"])
                    if failing(order["id"]):
                        ch.basic_reject(method.delivery_tag, requeue=False)
                    else:
                        self.completed.append(order["id"])
                        ch.basic_ack(method.delivery_tag)
                else:
                    ch.basic_ack(method.delivery_tag)
                if self.finished():
                    self.done.set()
        finally:
            await amqp.close(conn)


async def run():
    amqp = AsyncioPika()
    conn = await amqp.connect()
    ch = await amqp.channel(conn)
    await amqp.call(ch.exchange_declare, EXCHANGE, "topic", durable=True)
    await amqp.call(ch.exchange_declare, DLX, "fanout", durable=True)
    for name in ("inventory", "email", "rejected"):
        await amqp.call(ch.queue_declare, Q[name], durable=True)
    await amqp.call(ch.queue_declare, Q["payment"], durable=True,
                    arguments={"x-dead-letter-exchange": DLX})
    await amqp.call(ch.queue_bind, Q["inventory"], EXCHANGE, "order.created.*")
    await amqp.call(ch.queue_bind, Q["payment"], EXCHANGE, "order.created.*")
    await amqp.call(ch.queue_bind, Q["email"], EXCHANGE, "order.#")
    await amqp.call(ch.queue_bind, Q["rejected"], DLX, "")

    pipeline = Pipeline(amqp)
    readies = {name: asyncio.Event() for name in SERVICES}
    services = [asyncio.ensure_future(pipeline.service(name, readies[name]))
                for name in SERVICES]
    try:
        for name in SERVICES:
            ready = asyncio.ensure_future(readies[name].wait())
            finished, _ = await asyncio.wait([ready] + services, timeout=20,
                                             return_when=asyncio.FIRST_COMPLETED)
            for task in services:
                if task in finished:
                    task.result()  # a service that ended early raises its error here
            check_eq(ready in finished, True, "service %s consuming" % name)

        confirms = await amqp.confirms(ch)
        for i in range(ORDERS):
            region = REGIONS[i % 3]
            ch.basic_publish(EXCHANGE, "order.created." + region,
                             json.dumps({"id": i, "region": region}).encode(),
                             pika.BasicProperties(delivery_mode=2, message_id="order-%d" % i,
                                                  content_type="application/json"))
            confirms.published()
        await confirms.wait(0)
        check_eq((confirms.acked, confirms.nacked), (ORDERS, []), "order confirms")

        waiter = asyncio.ensure_future(pipeline.done.wait())
        finished, _ = await asyncio.wait([waiter] + services, timeout=30,
                                         return_when=asyncio.FIRST_COMPLETED)
        for task in services:
            if task in finished:
                task.result()
        check_eq(waiter in finished, True, "all orders handled within 30s")
    finally:
        for task in services:
            task.cancel()
        await asyncio.gather(*services, return_exceptions=True)

    good = [i for i in range(ORDERS) if not failing(i)]
    bad = [i for i in range(ORDERS) if failing(i)]
    check_eq(sorted(pipeline.seen["inventory"]), list(range(ORDERS)), "inventory ids")
    check_eq(sorted(pipeline.seen["email"]), list(range(ORDERS)), "e-mail ids")
    check_eq(sorted(pipeline.completed), good, "payments completed (once each)")
    check_eq(sorted(pipeline.seen["payment"]), sorted(list(range(ORDERS)) + [0]),
             "payment deliveries (order 0 twice)")
    check_eq(pipeline.redelivered, [0], "orders redelivered to payment")

    # Dead-lettering is asynchronous: consume "rejected" until every failing id is in.
    tag, deliveries = await amqp.consume(ch, Q["rejected"])
    rejected = []
    while len(rejected) < len(bad):
        method, props, body = await amqp.next(deliveries, "dead-lettered order")
        order = json.loads(body)
        rejected.append(order["id"])
        check_eq(props.message_id, "order-%d" % order["id"], "dead-lettered message id")
        death = props.headers["x-death"][0]
        check_eq((death["queue"], death["reason"], death["count"], death["exchange"]),
                 (Q["payment"], "rejected", 1, EXCHANGE), "x-death entry")
        check_eq(death["routing-keys"], ["order.created." + order["region"]], "x-death keys")
        ch.basic_ack(method.delivery_tag)
    check_eq(rejected, bad, "dead-lettered orders, in order")
    await amqp.call(ch.basic_cancel, tag)

    for name, queue in Q.items():
        frame = await amqp.call(ch.queue_declare, queue, passive=True)
        check_eq(frame.method.message_count, 0, "messages left in %s" % name)
        await amqp.call(ch.queue_delete, queue)
    await amqp.call(ch.exchange_delete, EXCHANGE)
    await amqp.call(ch.exchange_delete, DLX)
    await amqp.close(conn)


def scenario():
    asyncio.run(asyncio.wait_for(run(), 60))


if __name__ == "__main__":
    main(scenario)
