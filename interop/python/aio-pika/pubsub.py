"""aio-pika: publish/subscribe through a fanout exchange, and a headers exchange.

Fanout: three subscribers, each on its own channel with an exclusive server-named queue
("amq.gen-" prefix) bound to a fanout exchange and its own consumer (queue iterator).
100 messages and an end marker are published with confirms; every subscriber must get
exactly the 100 messages in order, then the marker, and nothing else.

Headers: queue A bound with x-match=all {format: pdf, type: report}, queue B with
x-match=any {format: zip, type: log}. Messages with headers {pdf, report}, {pdf, log},
{zip}, {pdf}, {pdf, report, extra: 1} and none are published with confirms; then each
queue is read with basic.get until empty and must hold exactly its messages, in order.
Everything is deleted at the end.
"""

import asyncio

import aio_pika

from catalogue import (FANOUT_END, FANOUT_MESSAGES, FANOUT_SUBSCRIBERS, HEADER_BINDINGS,
                       HEADER_MESSAGES, fanout_body, fanout_expected, header_expected)
from interop_common import amqp_uri, check, check_eq, main_async, unique

FANOUT = unique("pubsub-fanout")
HEADERS = unique("pubsub-headers")


async def subscriber(connection, exchange_name, ready):
    channel = await connection.channel()
    exchange = await channel.get_exchange(exchange_name)
    queue = await channel.declare_queue(exclusive=True)
    check(queue.name.startswith("amq.gen-"), "server-named queue %r" % queue.name)
    await queue.bind(exchange)
    got = []
    async with queue.iterator() as messages:
        ready.set()
        async for message in messages:
            await message.ack()
            if message.body == FANOUT_END.encode():
                break
            got.append(message.body.decode())
    await channel.close()
    return got


async def fanout(connection):
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.declare_exchange(FANOUT, aio_pika.ExchangeType.FANOUT)
    readies = [asyncio.Event() for _ in range(FANOUT_SUBSCRIBERS)]
    subscribers = [asyncio.ensure_future(subscriber(connection, FANOUT, r)) for r in readies]
    await asyncio.wait_for(asyncio.gather(*[r.wait() for r in readies]), 20)
    for i in range(FANOUT_MESSAGES):
        await exchange.publish(aio_pika.Message(fanout_body(i).encode()), routing_key="")
    await exchange.publish(aio_pika.Message(FANOUT_END.encode()), routing_key="")
    results = await asyncio.wait_for(asyncio.gather(*subscribers), 20)
    for n, got in enumerate(results):
        check_eq(got, fanout_expected(), "messages of subscriber %d" % n)
    await exchange.delete()
    await channel.close()


async def headers(connection):
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.declare_exchange(HEADERS, aio_pika.ExchangeType.HEADERS)
    queues = {name: await channel.declare_queue(unique("pubsub-" + name)) for name in "AB"}
    for name, queue in queues.items():
        await queue.bind(exchange, arguments=HEADER_BINDINGS[name])
    for body, hdrs, _dest in HEADER_MESSAGES:
        await exchange.publish(aio_pika.Message(body.encode(), headers=hdrs),
                               routing_key="ignored", mandatory=False)
    for name, queue in queues.items():
        got = []
        while True:
            message = await queue.get(no_ack=True, fail=False)
            if message is None:
                break
            got.append(message.body.decode())
        check_eq(got, header_expected(name), "messages routed to queue %s" % name)
        await queue.delete()
    await exchange.delete()
    await channel.close()


async def run():
    connection = await aio_pika.connect(amqp_uri())
    async with connection:
        await fanout(connection)
        await headers(connection)


if __name__ == "__main__":
    main_async(run, 60)
