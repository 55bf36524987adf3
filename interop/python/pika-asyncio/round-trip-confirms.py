"""pika's asyncio adapter (AsyncioConnection): publish with confirms, consume, ack.

pika's callback API driven by an asyncio event loop, bridged to coroutines with futures:
connect, open a channel, enable confirms, declare a queue, publish 100 persistent messages
and await every confirm, consume them with manual acks (checking body, order, properties and
the redelivered flag), reject one with requeue and see it come back, once, flagged redelivered, then check
the queue is empty and delete it.
"""

import asyncio

import pika
from pika.adapters.asyncio_connection import AsyncioConnection
from pika.spec import Basic

from interop_common import ScenarioFailure, check, check_eq, main_async, pika_params, unique

COUNT = 100
QUEUE = unique("asyncio")


def callback_future(loop):
    fut = loop.create_future()

    def done(*args):
        if not fut.done():
            fut.set_result(args[-1] if args else None)

    return fut, done


async def connect(loop):
    fut = loop.create_future()

    def on_open(conn):
        fut.set_result(conn)

    def on_error(_conn, err):
        fut.set_exception(ScenarioFailure("connection failed: %r" % err))

    AsyncioConnection(
        pika_params(), on_open_callback=on_open, on_open_error_callback=on_error,
        custom_ioloop=loop,
    )
    return await fut


async def run():
    loop = asyncio.get_running_loop()
    conn = await connect(loop)
    fut, done = callback_future(loop)
    conn.channel(on_open_callback=done)
    channel = await fut

    confirms = {}
    all_confirmed = loop.create_future()

    def on_confirm(frame):
        m = frame.method
        tags = range(1, m.delivery_tag + 1) if m.multiple else [m.delivery_tag]
        for tag in tags:
            confirms.setdefault(tag, isinstance(m, Basic.Ack))
        if len(confirms) == COUNT and not all_confirmed.done():
            all_confirmed.set_result(None)

    fut, done = callback_future(loop)
    channel.confirm_delivery(on_confirm, callback=done)
    await fut
    fut, done = callback_future(loop)
    channel.queue_declare(QUEUE, durable=True, callback=done)
    frame = await fut
    check_eq(frame.method.queue, QUEUE, "declared queue")

    for i in range(COUNT):
        props = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent, correlation_id="c%d" % i
        )
        channel.basic_publish("", QUEUE, b"payload-%d" % i, props)
    await asyncio.wait_for(all_confirmed, 30)
    check_eq(sorted(confirms), list(range(1, COUNT + 1)), "confirmed tags")
    check(all(confirms.values()), "some publishes were nacked")

    got = asyncio.Queue()
    channel.basic_qos(prefetch_count=10)
    channel.basic_consume(QUEUE, lambda ch, m, p, b: got.put_nowait((m, p, b)))
    first_time = []  # bodies delivered with redelivered=False, in delivery order
    again = []  # bodies delivered with redelivered=True
    while len(first_time) + len(again) < COUNT + 1:
        method, props, body = await asyncio.wait_for(got.get(), 30)
        i = int(body.split(b"-")[1])
        check_eq(props.correlation_id, "c%d" % i, "correlation_id of %r" % body)
        check_eq(props.delivery_mode, 2, "delivery_mode of %r" % body)
        if method.redelivered:
            again.append(body)
            channel.basic_ack(method.delivery_tag)
        elif i == 50:
            first_time.append(body)
            # Requeued: RabbitMQ puts it back at its original position, so it may arrive
            # after messages that were already prefetched.
            channel.basic_reject(method.delivery_tag, requeue=True)
        else:
            first_time.append(body)
            channel.basic_ack(method.delivery_tag)
    check_eq(first_time, [b"payload-%d" % i for i in range(COUNT)], "first deliveries, in order")
    check_eq(again, [b"payload-50"], "redelivered messages")

    fut, done = callback_future(loop)
    channel.queue_declare(QUEUE, durable=True, passive=True, callback=done)
    frame = await fut
    check_eq(frame.method.message_count, 0, "messages left")
    fut, done = callback_future(loop)
    channel.queue_delete(QUEUE, callback=done)
    await fut
    fut, done = callback_future(loop)
    conn.add_on_close_callback(lambda c, reason: done(reason))
    conn.close()
    await asyncio.wait_for(fut, 10)


if __name__ == "__main__":
    main_async(run, 60)
