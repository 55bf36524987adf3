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

Checks: the services' deliveries against OrderServices.verify (lib/catalogue.py: every id
once at inventory and e-mail, payment completing each good id once); "rejected", consumed
with the bridge, yields the failing ids in order, each passing check_dead_lettered; all
queues empty (passive declare) before everything is deleted.
"""

import asyncio
import json

import pika

from catalogue import (ACK, ORDER_BAD, ORDER_BINDINGS, ORDER_SERVICES, ORDERS, REQUEUE,
                       OrderServices, check_dead_lettered, check_rejected, order_body, order_key,
                       order_message_id, order_names)
from interop_common import check_eq, main_async
from pika_async import AsyncioPika

EXCHANGE, DLX, Q = order_names()


class Pipeline(OrderServices):
    def __init__(self, amqp):
        super().__init__()
        self.amqp = amqp
        self.done = asyncio.Event()

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
                action = self.handle(name, json.loads(body)["id"], method.redelivered)
                if action == REQUEUE:
                    ch.basic_reject(method.delivery_tag, requeue=True)
                    continue
                if action == ACK:
                    ch.basic_ack(method.delivery_tag)
                else:
                    ch.basic_reject(method.delivery_tag, requeue=False)
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
    for name in ORDER_SERVICES:
        await amqp.call(ch.queue_bind, Q[name], EXCHANGE, ORDER_BINDINGS[name])
    await amqp.call(ch.queue_bind, Q["rejected"], DLX, "")

    pipeline = Pipeline(amqp)
    readies = {name: asyncio.Event() for name in ORDER_SERVICES}
    services = [asyncio.ensure_future(pipeline.service(name, readies[name]))
                for name in ORDER_SERVICES]
    try:
        for name in ORDER_SERVICES:
            ready = asyncio.ensure_future(readies[name].wait())
            finished, _ = await asyncio.wait([ready] + services, timeout=20,
                                             return_when=asyncio.FIRST_COMPLETED)
            for task in services:
                if task in finished:
                    task.result()  # a service that ended early raises its error here
            check_eq(ready in finished, True, "service %s consuming" % name)

        confirms = await amqp.confirms(ch)
        for i in range(ORDERS):
            ch.basic_publish(EXCHANGE, order_key(i), order_body(i),
                             pika.BasicProperties(delivery_mode=2, message_id=order_message_id(i),
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

    pipeline.verify()

    # Dead-lettering is asynchronous: consume "rejected" until every failing id is in.
    tag, deliveries = await amqp.consume(ch, Q["rejected"])
    rejected = []
    while len(rejected) < len(ORDER_BAD):
        method, props, body = await amqp.next(deliveries, "dead-lettered order")
        rejected.append(check_dead_lettered(body, props.message_id, props.headers, Q["payment"],
                                            EXCHANGE))
        ch.basic_ack(method.delivery_tag)
    check_rejected(rejected)
    await amqp.call(ch.basic_cancel, tag)

    for name, queue in Q.items():
        frame = await amqp.call(ch.queue_declare, queue, passive=True)
        check_eq(frame.method.message_count, 0, "messages left in %s" % name)
        await amqp.call(ch.queue_delete, queue)
    await amqp.call(ch.exchange_delete, EXCHANGE)
    await amqp.call(ch.exchange_delete, DLX)
    await amqp.close(conn)


if __name__ == "__main__":
    main_async(run, 60)
