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

from interop_common import check, check_eq, main, unique
from pika_async import AsyncioPika

COUNT = 100
FANOUT = unique("pubsub-fanout")
HEADERS = unique("pubsub-headers")
BINDINGS = {"A": {"x-match": "all", "format": "pdf", "type": "report"},
            "B": {"x-match": "any", "format": "zip", "type": "log"}}
HEADER_MESSAGES = [
    ("pdf-report", {"format": "pdf", "type": "report"}, "A"),
    ("pdf-log", {"format": "pdf", "type": "log"}, "B"),
    ("zip", {"format": "zip"}, "B"),
    ("pdf", {"format": "pdf"}, None),
    ("pdf-report-extra", {"format": "pdf", "type": "report", "extra": 1}, "A"),
    ("no-headers", None, None),
]


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
        if body == b"end":
            return got
        got.append(body)


async def run():
    amqp = AsyncioPika()
    conn = await amqp.connect()
    ch = await amqp.channel(conn)
    await amqp.call(ch.exchange_declare, FANOUT, "fanout")
    subscribers = [await subscribe(amqp, conn) for _ in range(3)]
    for i in range(COUNT):
        ch.basic_publish(FANOUT, "", b"news %d" % i)
    ch.basic_publish(FANOUT, "", b"end")
    results = await asyncio.gather(*[receive_all(amqp, d) for _c, d in subscribers])
    for n, got in enumerate(results):
        check_eq(got, [b"news %d" % i for i in range(COUNT)], "messages of subscriber %d" % n)
        check(subscribers[n][1].empty(), "subscriber %d got more after the marker" % n)
    for sub_channel, _d in subscribers:
        sub_channel.close()
    await amqp.call(ch.exchange_delete, FANOUT)

    await amqp.call(ch.exchange_declare, HEADERS, "headers")
    queues = {}
    for name, args in BINDINGS.items():
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
        expected = [b.encode() for b, _h, dest in HEADER_MESSAGES if dest == name]
        frame = await amqp.call(ch.queue_declare, queue, passive=True)
        check_eq(frame.method.message_count, len(expected), "messages routed to %s" % name)
        tag, deliveries = await amqp.consume(ch, queue, auto_ack=True)
        got = [(await amqp.next(deliveries))[2] for _ in expected]
        check_eq(got, expected, "messages routed to queue %s" % name)
        await amqp.call(ch.basic_cancel, tag)
        await amqp.call(ch.queue_delete, queue)
    await amqp.call(ch.exchange_delete, HEADERS)
    await amqp.close(conn)


def scenario():
    asyncio.run(asyncio.wait_for(run(), 60))


if __name__ == "__main__":
    main(scenario)
