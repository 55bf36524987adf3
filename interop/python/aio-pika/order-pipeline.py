"""aio-pika: order pipeline over a durable topic exchange, three services, dead-lettering.

An order API publishes 300 persistent orders ("order.created.<eu|us|ap>") with publisher
confirms (all in flight at once with asyncio.gather; every result must be a Basic.Ack).
Inventory (bound "order.created.*"), payment ("order.created.*", dead-letter exchange = a
fanout DLX feeding a durable "rejected" queue) and e-mail ("order.#") each run on their own
connection with prefetch 10 and manual acks, consuming with `queue.consume(callback)`.
Payment rejects orders with id % 7 == 3 without requeue, and rejects order 0 once with
requeue (it must come back flagged redelivered and is then processed).

Checks: inventory and e-mail saw every id exactly once; payment completed exactly the
non-failing ids once each (order 0 delivered twice); "rejected" holds exactly the failing
ids, in order, with x-death[0] naming the payment queue, reason "rejected", count 1, the
orders exchange and the original routing key; every queue ends empty; all is deleted.
"""

import asyncio
import json

import aio_pika
from pamqp.commands import Basic

from interop_common import amqp_uri, check_eq, main, unique

ORDERS = 300
REGIONS = ["eu", "us", "ap"]
EXCHANGE = unique("orders")
DLX = unique("orders-dlx")
Q = {name: unique("orders-" + name) for name in ("inventory", "payment", "email", "rejected")}


def failing(i):
    return i % 7 == 3


class Services:
    """What the three services saw; `done` is set once every expected delivery is in."""

    def __init__(self):
        self.seen = {"inventory": [], "email": [], "payment": []}
        self.completed = []  # ids payment processed successfully
        self.redelivered = []  # ids payment got with redelivered=True
        self.errors = []
        self.done = asyncio.Event()

    def update(self):
        n_fail = sum(1 for i in range(ORDERS) if failing(i))
        if (len(self.seen["inventory"]) >= ORDERS and len(self.seen["email"]) >= ORDERS
                and len(self.completed) + n_fail >= ORDERS):
            self.done.set()


async def start_service(name, state):
    connection = await aio_pika.connect(amqp_uri())
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=10)
    queue = await channel.get_queue(Q[name], ensure=True)

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage):
        try:
            order = json.loads(message.body)
            state.seen[name].append(order["id"])
            if name == "payment":
                if order["id"] == 0 and not message.redelivered:
                    await message.reject(requeue=True)
                    return
                if message.redelivered:
                    state.redelivered.append(order["id"])
                if failing(order["id"]):
                    await message.reject(requeue=False)
                    return
                state.completed.append(order["id"])
            await message.ack()
        except Exception as exc:  # noqa: BLE001 - reported by the scenario
            state.errors.append(repr(exc))
        state.update()

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
    await queues["inventory"].bind(orders, "order.created.*")
    await queues["payment"].bind(orders, "order.created.*")
    await queues["email"].bind(orders, "order.#")
    await queues["rejected"].bind(dlx, "")

    state = Services()
    services = [await start_service(name, state) for name in ("inventory", "payment", "email")]
    try:
        confirms = await asyncio.gather(*[
            orders.publish(
                aio_pika.Message(
                    json.dumps({"id": i, "region": REGIONS[i % 3]}).encode(),
                    content_type="application/json",
                    message_id="order-%d" % i,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key="order.created." + REGIONS[i % 3])
            for i in range(ORDERS)
        ])
        check_eq({type(c) for c in confirms}, {Basic.Ack}, "confirmation frames for the orders")

        try:
            await asyncio.wait_for(state.done.wait(), 30)
        except asyncio.TimeoutError:
            raise AssertionError("services incomplete after 30s: inventory %d, email %d, "
                                 "payment completed %d" % (len(state.seen["inventory"]),
                                                           len(state.seen["email"]),
                                                           len(state.completed)))
    finally:
        for connection in services:
            await connection.close()
    check_eq(state.errors, [], "errors in the services' callbacks")

    good = [i for i in range(ORDERS) if not failing(i)]
    bad = [i for i in range(ORDERS) if failing(i)]
    check_eq(sorted(state.seen["inventory"]), list(range(ORDERS)), "inventory ids (each once)")
    check_eq(sorted(state.seen["email"]), list(range(ORDERS)), "e-mail ids (each once)")
    check_eq(sorted(state.completed), good, "payments completed (each once)")
    check_eq(sorted(state.seen["payment"]), sorted(list(range(ORDERS)) + [0]),
             "payment deliveries (order 0 twice)")
    check_eq(state.redelivered, [0], "orders redelivered to payment")

    # Dead-lettering is asynchronous: consume "rejected" until every failing id is in.
    rejected = []
    async with queues["rejected"].iterator() as messages:
        async def drain():
            async for message in messages:
                async with message.process():
                    order = json.loads(message.body)
                    rejected.append(order["id"])
                    check_eq(message.message_id, "order-%d" % order["id"], "dead-lettered id")
                    death = message.headers["x-death"][0]
                    check_eq((death["queue"], death["reason"], death["count"], death["exchange"]),
                             (Q["payment"], "rejected", 1, EXCHANGE), "x-death entry")
                    check_eq(list(death["routing-keys"]), ["order.created." + order["region"]],
                             "x-death routing keys")
                if len(rejected) == len(bad):
                    return
        await asyncio.wait_for(drain(), 15)
    check_eq(rejected, bad, "dead-lettered orders, in order")

    for name, queue in queues.items():
        declared = await channel.declare_queue(Q[name], passive=True)
        check_eq(declared.declaration_result.message_count, 0, "messages left in %s" % name)
        await queue.delete(if_unused=False, if_empty=False)
    await orders.delete()
    await dlx.delete()
    await setup.close()


def scenario():
    asyncio.run(asyncio.wait_for(run(), 60))


if __name__ == "__main__":
    main(scenario)
