"""pika SelectConnection: publish/subscribe through fanout and headers exchanges.

Fanout: three subscribers, each on its own channel, declare an exclusive server-named
queue (must start "amq.gen-"), bind it to a fanout exchange and consume it. Once all three
consume, 100 messages and an end marker are published; every subscriber must get exactly
the 100 in order, then the marker, and nothing else.

Headers: queue A bound with x-match=all {format: pdf, type: report}, queue B with
x-match=any {format: zip, type: log}. Messages with headers {pdf, report}, {pdf, log},
{zip}, {pdf}, {pdf, report, extra: 1} and none are published on a confirm-mode channel;
once all are acked each queue's depth (passive declare) must equal its expected count and
consuming that many must give exactly its messages, in order. Everything is deleted.
"""

import functools

import pika
from pika.spec import Basic

from catalogue import (FANOUT_END, FANOUT_MESSAGES, FANOUT_SUBSCRIBERS, HEADER_BINDINGS,
                       HEADER_MESSAGES, fanout_body, fanout_expected, header_expected)
from confirm_tracker import ConfirmTracker
from interop_common import check, check_eq, main, unique
from pika_async import SelectScenario

FANOUT = unique("pubsub-fanout")
HEADERS = unique("pubsub-headers")
HQ = {"A": unique("pubsub-A"), "B": unique("pubsub-B")}


class PubSub(SelectScenario):
    def __init__(self):
        super().__init__()
        self.got = [[] for _ in range(FANOUT_SUBSCRIBERS)]
        self.ended = [False] * FANOUT_SUBSCRIBERS
        self.subscribed = 0
        self.confirms = ConfirmTracker()
        self.headers_got = {"A": [], "B": []}

    def start(self):
        self.conn = self.connect(lambda conn: self.open_channel(conn, self.on_channel))

    def on_channel(self, ch):
        self.ch = ch
        ch.exchange_declare(FANOUT, "fanout", callback=self.cb(
            lambda _f: [self.open_channel(self.conn, functools.partial(self.subscribe, n))
                        for n in range(FANOUT_SUBSCRIBERS)]))

    def subscribe(self, n, ch):
        def declared(frame):
            queue = frame.method.queue
            check(queue.startswith("amq.gen-"), "server-named queue %r" % queue)
            self.chain([
                lambda cb: ch.queue_bind(queue, FANOUT, callback=cb),
                lambda cb: ch.basic_consume(
                    queue, self.cb(functools.partial(self.on_news, n)), callback=cb),
            ], self.on_subscribed)

        ch.queue_declare("", exclusive=True, callback=self.cb(declared))

    def on_subscribed(self, _frames):
        self.subscribed += 1
        if self.subscribed == FANOUT_SUBSCRIBERS:
            for i in range(FANOUT_MESSAGES):
                self.ch.basic_publish(FANOUT, "", fanout_body(i).encode())
            self.ch.basic_publish(FANOUT, "", FANOUT_END.encode())

    def on_news(self, n, ch, method, _props, body):
        ch.basic_ack(method.delivery_tag)
        check(not self.ended[n], "subscriber %d got %r after the end marker" % (n, body))
        if body == FANOUT_END.encode():
            self.ended[n] = True
            check_eq(self.got[n], fanout_expected(encode=True), "messages of subscriber %d" % n)
            ch.close()
            if all(self.ended):
                self.headers()
        else:
            self.got[n].append(body)

    # -- headers exchange -----------------------------------------------------------------
    def headers(self):
        ch = self.ch
        steps = [lambda cb: ch.exchange_delete(FANOUT, callback=cb),
                 lambda cb: ch.exchange_declare(HEADERS, "headers", callback=cb)]
        for name, queue in HQ.items():
            steps.append(functools.partial(
                lambda q, cb: ch.queue_declare(q, exclusive=True, callback=cb), queue))
            steps.append(functools.partial(
                lambda q, args, cb: ch.queue_bind(q, HEADERS, "", arguments=args, callback=cb),
                queue, HEADER_BINDINGS[name]))
        steps.append(lambda cb: ch.confirm_delivery(self.cb(self.on_confirm), callback=cb))
        self.chain(steps, self.publish_headers)

    def publish_headers(self, _frames):
        for body, hdrs, _dest in HEADER_MESSAGES:
            self.ch.basic_publish(HEADERS, "ignored", body.encode(),
                                  pika.BasicProperties(headers=hdrs))
            self.confirms.published()

    def on_confirm(self, frame):
        m = frame.method
        self.confirms.settle(m.delivery_tag, m.multiple, isinstance(m, Basic.Ack))
        check_eq(self.confirms.nacked, [], "nacked headers publishes")
        if self.confirms.acked == len(HEADER_MESSAGES):
            self.chain([functools.partial(
                lambda q, cb: self.ch.queue_declare(q, passive=True, callback=cb), q)
                for q in HQ.values()], self.on_depths)

    def on_depths(self, frames):
        self.expected = {name: header_expected(name, encode=True) for name in HQ}
        for name, frame in zip(HQ, frames):
            check_eq(frame.method.message_count, len(self.expected[name]),
                     "messages routed to queue %s" % name)
        for name, queue in HQ.items():
            self.ch.basic_consume(queue, self.cb(functools.partial(self.on_routed, name)),
                                  auto_ack=True)

    def on_routed(self, name, _ch, _method, _props, body):
        self.headers_got[name].append(body)
        if all(len(self.headers_got[n]) >= len(self.expected[n]) for n in HQ):
            for n in HQ:
                check_eq(self.headers_got[n], self.expected[n], "messages routed to %s" % n)
            self.ch.exchange_delete(HEADERS, callback=self.cb(self.done))

    def done(self, _frame):
        self.succeed()  # the exclusive queues go with the connection


if __name__ == "__main__":
    main(PubSub().run)
