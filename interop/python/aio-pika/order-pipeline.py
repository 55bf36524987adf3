"""aio-pika: order pipeline over a durable topic exchange, three services, dead-lettering.

An order API publishes 300 persistent orders ("order.created.<eu|us|ap>") with publisher
confirms (all in flight at once with asyncio.gather; every result must be a Basic.Ack).
Inventory (bound "order.created.*"), payment ("order.created.*", dead-letter exchange = a
fanout DLX feeding a durable "rejected" queue) and e-mail ("order.#") each run on their own
connection with prefetch 10 and manual acks, consuming with `queue.consume(callback)`.
Payment rejects orders with id % 7 == 3 without requeue, and rejects order 0 once with
requeue (it must come back flagged redelivered and is then processed).

Checks: OrderServices.verify and check_dead_lettered (lib/catalogue.py): inventory and
e-mail saw every id exactly once; payment completed the non-failing ids once each (order 0
delivered twice); "rejected" holds exactly the failing ids, in order, each with the
catalogue's x-death[0]; every queue ends empty; all is deleted.
"""

import asyncio
import json

import aio_pika
from pamqp.commands import Basic

from catalogue import (ACK, ORDER_BAD, ORDER_BINDINGS, ORDER_SERVICES, ORDERS, REQUEUE,
                       OrderServices, check_dead_lettered, check_rejected, order_body, order_key,
                       order_message_id, order_names)
from interop_common import amqp_uri, check_eq, main_async

EXCHANGE, DLX, Q = order_names()


async def start_service(name, state, done, errors):
    connection = await aio_pika.connect(amqp_uri())
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=10)
    queue = await channel.get_queue(Q[name], ensure=True)

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage):
        try:
            order_id = json.loads(message.body)["id"]
            action = state.handle(name, order_id, message.redelivered)
            if action == ACK:
                await message.ack()
            else:
                await message.reject(requeue=action == REQUEUE)
        except Exception as exc:  # noqa: BLE001 - reported by the scenario
            errors.append(repr(exc))
        if state.finished():
            done.set()

    await queue.consume(on_message)
    return connection


async def run():
    setup = await aio_pika.connect(amqp_uri())
    channel = await setup.channel(publisher_confirms=True)
    orders = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    dlx = await channel.declare_exchange(DLX, aio_pika.ExchangeType.FANOUT, durable=True)
    queues = {
        "inventory": await channel.declare_queue(Q["inventory"], durable=True),
        "payment": await channel.declare_queue(
            Q["payment"], durable=True, arguments={"x-dead-letter-exchange": DLX}),
        "email": await channel.declare_queue(Q["email"], durable=True),
        "rejected": await channel.declare_queue(Q["rejected"], durable=True),
    }
    for name in ORDER_SERVICES:
        await queues[name].bind(orders, ORDER_BINDINGS[name])
    await queues["rejected"].bind(dlx, "")

    state, done, errors = OrderServices(), asyncio.Event(), []
    services = [await start_service(name, state, done, errors) for name in ORDER_SERVICES]
    try:
        confirms = await asyncio.gather(*[
            orders.publish(
                aio_pika.Message(
                    order_body(i),
                    content_type="application/json",
                    message_id=order_message_id(i),
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=order_key(i))
            for i in range(ORDERS)
        ])
        check_eq({type(c) for c in confirms}, {Basic.Ack}, "confirmation frames for the orders")

        try:
            await asyncio.wait_for(done.wait(), 30)
        except asyncio.TimeoutError:
            raise AssertionError("services incomplete after 30s: " + state.progress())
    finally:
        for connection in services:
            await connection.close()
    check_eq(errors, [], "errors in the services' callbacks")
    state.verify()

    # Dead-lettering is asynchronous: consume "rejected" until every failing id is in.
    rejected = []
    async with queues["rejected"].iterator() as messages:
        async def drain():
            async for message in messages:
                async with message.process():
                    rejected.append(check_dead_lettered(message.body, message.message_id,
                                                        message.headers, Q["payment"], EXCHANGE))
                if len(rejected) == len(ORDER_BAD):
                    return
        await asyncio.wait_for(drain(), 15)
    check_rejected(rejected)

    for name, queue in queues.items():
        declared = await channel.declare_queue(Q[name], passive=True)
        check_eq(declared.declaration_result.message_count, 0, "messages left in %s" % name)
        await queue.delete(if_unused=False, if_empty=False)
    await orders.delete()
    await dlx.delete()
    await setup.close()


if __name__ == "__main__":
    main_async(run, 60)
