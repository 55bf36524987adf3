"""pika SelectConnection: RabbitMQ tutorial 6 (RPC) in callback style, one IOLoop.

The server, on its own connection, declares the request queue, sets prefetch 1 and
consumes it: fib(n) is published to the request's reply_to with its correlation_id, then
the request is acked. The client, on another connection, declares an exclusive
server-named callback queue (must start "amq.gen-"), consumes it with auto-ack and matches
replies by correlation_id. 15 calls go one at a time (each sent from the previous reply's
callback); then a stray reply with an unknown correlation id is put on the callback queue
and 25 calls are sent at once. Checks: every answer, the stray one ignored (seen as
such), the server served each request once and the sequential ones in order; the request
queue is deleted at the end.
"""

import uuid

import pika

from catalogue import RPC_BATCH, RPC_SEQUENTIAL, check_rpc_served, fib
from interop_common import check, check_eq, main, unique
from pika_async import SelectScenario

RPC_QUEUE = unique("rpc_queue")


class Rpc(SelectScenario):
    def __init__(self):
        super().__init__()
        self.served = []
        self.pending = {}  # correlation id -> n
        self.answers = {}
        self.strays = []

    def start(self):
        self.server_conn = self.connect(
            lambda conn: self.open_channel(conn, self.on_server_channel))

    # -- server ---------------------------------------------------------------------------
    def on_server_channel(self, ch):
        self.chain([
            lambda cb: ch.queue_declare(RPC_QUEUE, callback=cb),
            lambda cb: ch.basic_qos(prefetch_count=1, callback=cb),
            lambda cb: ch.basic_consume(RPC_QUEUE, self.cb(self.on_request), callback=cb),
        ], lambda _frames: self.connect(
            lambda conn: self.open_channel(conn, self.on_client_channel)))

    def on_request(self, ch, method, props, body):
        n = int(body)
        self.served.append(n)
        ch.basic_publish("", props.reply_to, str(fib(n)).encode(),
                         pika.BasicProperties(correlation_id=props.correlation_id))
        ch.basic_ack(method.delivery_tag)

    # -- client ---------------------------------------------------------------------------
    def on_client_channel(self, ch):
        self.client = ch

        def declared(frame):
            self.callback_queue = frame.method.queue
            check(self.callback_queue.startswith("amq.gen-"),
                  "callback queue %r" % self.callback_queue)
            ch.basic_consume(self.callback_queue, self.cb(self.on_response), auto_ack=True,
                             callback=self.cb(lambda _f: self.call(0)))

        ch.queue_declare("", exclusive=True, callback=self.cb(declared))

    def call(self, n):
        corr_id = str(uuid.uuid4())
        self.pending[corr_id] = n
        self.client.basic_publish(
            "", RPC_QUEUE, str(n).encode(),
            pika.BasicProperties(reply_to=self.callback_queue, correlation_id=corr_id))

    def on_response(self, _ch, _method, props, body):
        n = self.pending.pop(props.correlation_id, None)
        if n is None:
            self.strays.append((props.correlation_id, body))
            return
        check_eq(int(body), fib(n), "fib(%d) over RPC" % n)
        self.answers[n] = int(body)
        if n < RPC_SEQUENTIAL - 1:
            self.call(n + 1)
        elif n == RPC_SEQUENTIAL - 1:
            self.client.basic_publish("", self.callback_queue, b"-1",
                                      pika.BasicProperties(correlation_id="stray"))
            for m in RPC_BATCH:
                self.call(m)
        elif not self.pending:
            check_eq(sorted(self.answers), list(range(RPC_SEQUENTIAL)) + RPC_BATCH,
                     "calls answered")
            check_eq(self.strays, [("stray", b"-1")], "replies with unknown correlation ids")
            check_rpc_served(self.served)
            self.client.queue_delete(RPC_QUEUE, callback=self.cb(self.on_deleted))

    def on_deleted(self, frame):
        check_eq(frame.method.message_count, 0, "requests left in the RPC queue")
        self.succeed()


if __name__ == "__main__":
    main(Rpc().run)
