"""pika SelectConnection (callback style): publish with confirms, consume, ack.

Opens a channel, turns on publisher confirms, declares a queue, publishes 200 messages and
waits until the broker has confirmed every delivery tag (acks may cover several tags with
`multiple`). Then consumes with manual acks, checks bodies, order and properties, acks
every other message singly and the rest with `multiple`, and checks the queue is empty.
"""

import functools

import pika
from pika.spec import Basic

from interop_common import ScenarioFailure, check_eq, main, pika_params, unique

COUNT = 200
QUEUE = unique("select")


class Client:
    def __init__(self):
        self.confirmed = set()
        self.nacked = set()
        self.received = []
        self.error = None
        self.finished = False
        self.connection = pika.SelectConnection(
            pika_params(),
            on_open_callback=self.on_open,
            on_open_error_callback=lambda _c, err: self.fail("open failed: %r" % err),
            on_close_callback=self.on_closed,
        )

    def fail(self, message):
        if self.error is None:
            self.error = message
        if self.connection.is_open:
            self.connection.close()
        else:
            self.connection.ioloop.stop()

    def on_closed(self, _connection, reason):
        if not self.finished:
            self.error = self.error or "connection closed early: %r" % reason
        self.connection.ioloop.stop()

    def on_open(self, connection):
        connection.channel(on_open_callback=self.on_channel)

    def on_channel(self, channel):
        self.channel = channel
        channel.add_on_close_callback(
            lambda _ch, reason: None if self.finished else self.fail("channel closed: %r" % reason)
        )
        channel.confirm_delivery(self.on_confirm, callback=self.on_confirm_mode)

    def on_confirm_mode(self, _frame):
        self.channel.queue_declare(QUEUE, callback=self.on_declared)

    def on_declared(self, frame):
        check_eq(frame.method.queue, QUEUE, "declared queue name")
        for i in range(COUNT):
            props = pika.BasicProperties(
                content_type="text/plain", message_id="m-%d" % i, headers={"seq": i}
            )
            self.channel.basic_publish("", QUEUE, ("message %d" % i).encode(), props)

    def on_confirm(self, frame):
        method = frame.method
        tags = range(max(self.confirmed | self.nacked | {0}) + 1, method.delivery_tag + 1)
        tags = tags if method.multiple else [method.delivery_tag]
        (self.nacked if isinstance(method, Basic.Nack) else self.confirmed).update(tags)
        if len(self.confirmed) + len(self.nacked) == COUNT:
            if self.nacked:
                return self.fail("broker nacked tags %s" % sorted(self.nacked))
            check_eq(self.confirmed, set(range(1, COUNT + 1)), "confirmed delivery tags")
            self.channel.basic_qos(prefetch_count=50, callback=self.on_qos)

    def on_qos(self, _frame):
        self.channel.basic_consume(QUEUE, self.on_message, auto_ack=False)

    def on_message(self, channel, method, props, body):
        i = len(self.received)
        self.received.append(body)
        try:
            check_eq(body, ("message %d" % i).encode(), "body of delivery %d" % i)
            check_eq(props.message_id, "m-%d" % i, "message_id")
            check_eq(props.headers, {"seq": i}, "headers")
            check_eq(props.content_type, "text/plain", "content_type")
            check_eq(method.delivery_tag, i + 1, "delivery tag")
        except ScenarioFailure as exc:
            return self.fail(str(exc))
        if i % 2 == 1:
            channel.basic_ack(method.delivery_tag, multiple=True)
        if len(self.received) == COUNT:
            channel.basic_cancel(method.consumer_tag, callback=self.on_cancelled)

    def on_cancelled(self, _frame):
        self.channel.queue_declare(QUEUE, passive=True, callback=self.on_checked)

    def on_checked(self, frame):
        if frame.method.message_count != 0:
            return self.fail("%d messages left after acking" % frame.method.message_count)
        self.channel.queue_delete(QUEUE, callback=self.on_deleted)

    def on_deleted(self, _frame):
        self.finished = True
        self.connection.close()


def scenario():
    client = Client()
    client.connection.ioloop.call_later(60, functools.partial(client.fail, "timed out"))
    client.connection.ioloop.start()
    if client.error:
        raise ScenarioFailure(client.error)
    check_eq(len(client.received), COUNT, "messages consumed")


if __name__ == "__main__":
    main(scenario)
