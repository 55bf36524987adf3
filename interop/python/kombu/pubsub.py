"""kombu: publish/subscribe through a fanout exchange, and a headers exchange.

Fanout: three subscribers, each a kombu Consumer on its own channel with an exclusive
server-named queue (Queue("", exchange, exclusive=True); the name the broker gives must
start "amq.gen-") bound to a fanout exchange. A Producer on another connection with
`confirm_publish` sends 100 messages and an end marker; every subscriber must get exactly
the 100 in order, then the marker, and nothing else.

Headers: queue A bound with binding_arguments x-match=all {format: pdf, type: report},
queue B with x-match=any {format: zip, type: log}. Messages with headers {pdf, report},
{pdf, log}, {zip}, {pdf}, {pdf, report, extra: 1} and none are published (confirmed);
each queue is then read with Queue.get (basic.get) until empty and must hold exactly its
messages, in order. Everything is deleted at the end.
"""

import socket

import kombu

from catalogue import (FANOUT_END, FANOUT_MESSAGES, FANOUT_SUBSCRIBERS, HEADER_BINDINGS,
                       HEADER_MESSAGES, fanout_body, fanout_expected, header_expected)
from interop_common import Deadline, amqp_uri, check, check_eq, main, unique



def fanout(sub_conn, pub_conn):
    exchange = kombu.Exchange(unique("pubsub-fanout"), type="fanout", durable=False)
    got = [[] for _ in range(FANOUT_SUBSCRIBERS)]
    ended = [False] * FANOUT_SUBSCRIBERS
    consumers = []
    for n in range(FANOUT_SUBSCRIBERS):
        def on_message(body, message, n=n):
            message.ack()
            if body == FANOUT_END:
                ended[n] = True
            else:
                check(not ended[n], "subscriber %d got %r after the end marker" % (n, body))
                got[n].append(body)

        consumer = kombu.Consumer(
            sub_conn.channel(), queues=[kombu.Queue("", exchange, exclusive=True)],
            callbacks=[on_message], accept=["json"])
        consumer.consume()
        name = consumer.queues[0].name
        check(name.startswith("amq.gen-"), "server-named queue %r" % name)
        consumers.append(consumer)

    producer = kombu.Producer(pub_conn.channel(), exchange=exchange, serializer="json")
    for i in range(FANOUT_MESSAGES):
        producer.publish(fanout_body(i), retry=False)
    producer.publish(FANOUT_END, retry=False)

    deadline = Deadline(20)
    while not all(ended):
        try:
            sub_conn.drain_events(timeout=max(0.01, deadline.remaining()))
        except socket.timeout:
            raise AssertionError("subscribers incomplete after 20s: %s"
                                 % [len(g) for g in got])
    for n in range(FANOUT_SUBSCRIBERS):
        check_eq(got[n], fanout_expected(), "messages of subscriber %d" % n)
    for consumer in consumers:
        consumer.cancel()
        consumer.channel.close()
    exchange(pub_conn.default_channel).delete()


def headers(conn):
    exchange = kombu.Exchange(unique("pubsub-headers"), type="headers", durable=False)
    queues = {name: kombu.Queue(unique("pubsub-" + name), exchange, binding_arguments=args)
              for name, args in HEADER_BINDINGS.items()}
    channel = conn.channel()
    for q in queues.values():
        q(channel).declare()
    producer = kombu.Producer(channel, exchange=exchange, serializer=None)
    for body, hdrs, _dest in HEADER_MESSAGES:
        producer.publish(body.encode(), routing_key="ignored", headers=hdrs, retry=False)
    for name, queue in queues.items():
        bound = queue(channel)
        got = []
        while True:
            message = bound.get(no_ack=True)
            if message is None:
                break
            got.append(message.body.decode())
        check_eq(got, header_expected(name), "messages routed to queue %s" % name)
        bound.delete()
    exchange(channel).delete()


def scenario():
    with kombu.Connection(amqp_uri()) as sub_conn, \
            kombu.Connection(amqp_uri(), transport_options={"confirm_publish": True}) as pub:
        fanout(sub_conn, pub)
        headers(pub)


if __name__ == "__main__":
    main(scenario)
