"""pika AsyncioConnection: publish/subscribe through fanout and headers exchanges.

Fanout: three subscribers, each on its own channel, declare an exclusive server-named
queue (must start "amq.gen-"), bind it to a fanout exchange and consume it. 100 messages
and an end marker are then published; every subscriber must get exactly the 100 in
order, then the marker, and nothing else.

Headers: queue A bound with x-match=all {format: pdf, type: report}, queue B with
x-match=any {format: zip, type: log}. Messages with headers {pdf, report}, {pdf, log},
{zip}, {pdf}, {pdf, report, extra: 1} and none are published on a confirm-mode channel
and all acked; each queue's depth (passive declare) must equal its expected count, and
consuming that many must give exactly its messages, in order. Everything is deleted.
"""

import asyncio

import pika

from catalogue import (FANOUT_END, FANOUT_MESSAGES, FANOUT_SUBSCRIBERS, HEADER_BINDINGS,
                       HEADER_MESSAGES, fanout_body, fanout_expected, header_expected)
from interop_common import check, check_eq, main_async, unique
from pika_async import AsyncioPika

FANOUT = unique("pubsub-fanout")
HEADERS = unique("pubsub-headers")


async def subscribe(amqp, conn):
    ch = await amqp.channel(conn)
    frame = await amqp.call(ch.queue_declare, "", exclusive=True)
    queue = frame.method.queue
    check(queue.startswith("amq.gen-"), "server-named queue %r" % queue)
    await amqp.call(ch.queue_bind, queue, FANOUT)
    _tag, deliveries = await amqp.consume(ch, queue, auto_ack=True)
    return ch, deliveries


async def receive_all(amqp, deliveries):
    got = []
    while True:
        _method, _props, body = await amqp.next(deliveries, "news")
        if body == FANOUT_END.encode():
            return got
        got.append(body)


async def run():
    amqp = AsyncioPika()
    conn = await amqp.connect()
    ch = await amqp.channel(conn)
    await amqp.call(ch.exchange_declare, FANOUT, "fanout")
    subscribers = [await subscribe(amqp, conn) for _ in range(FANOUT_SUBSCRIBERS)]
    for i in range(FANOUT_MESSAGES):
        ch.basic_publish(FANOUT, "", fanout_body(i).encode())
    ch.basic_publish(FANOUT, "", FANOUT_END.encode())
    results = await asyncio.gather(*[receive_all(amqp, d) for _c, d in subscribers])
    for n, got in enumerate(results):
        check_eq(got, fanout_expected(encode=True), "messages of subscriber %d" % n)
        check(subscribers[n][1].empty(), "subscriber %d got more after the marker" % n)
    for sub_channel, _d in subscribers:
        sub_channel.close()
    await amqp.call(ch.exchange_delete, FANOUT)

    await amqp.call(ch.exchange_declare, HEADERS, "headers")
    queues = {}
    for name, args in HEADER_BINDINGS.items():
        frame = await amqp.call(ch.queue_declare, unique("pubsub-" + name), exclusive=True)
        queues[name] = frame.method.queue
        await amqp.call(ch.queue_bind, queues[name], HEADERS, "", arguments=args)
    confirms = await amqp.confirms(ch)
    for body, hdrs, _dest in HEADER_MESSAGES:
        ch.basic_publish(HEADERS, "ignored", body.encode(), pika.BasicProperties(headers=hdrs))
        confirms.published()
    await confirms.wait(0)
    check_eq((confirms.acked, confirms.nacked), (len(HEADER_MESSAGES), []), "confirms")
    for name, queue in queues.items():
        expected = header_expected(name, encode=True)
        frame = await amqp.call(ch.queue_declare, queue, passive=True)
        check_eq(frame.method.message_count, len(expected), "messages routed to %s" % name)
        tag, deliveries = await amqp.consume(ch, queue, auto_ack=True)
        got = [(await amqp.next(deliveries))[2] for _ in expected]
        check_eq(got, expected, "messages routed to queue %s" % name)
        await amqp.call(ch.basic_cancel, tag)
        await amqp.call(ch.queue_delete, queue)
    await amqp.call(ch.exchange_delete, HEADERS)
    await amqp.close(conn)


if __name__ == "__main__":
    main_async(run, 60)
