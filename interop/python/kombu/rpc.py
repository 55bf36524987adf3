"""kombu: RabbitMQ tutorial 6 (RPC) with kombu's Producer/Consumer.

The server is a kombu ConsumerMixin in a thread with its own connection, prefetch 1,
consuming the request queue: it publishes fib(n) (JSON) to the request's reply_to with the
request's correlation_id, then acks. The client, on its own connection, consumes an
exclusive server-named callback queue (Queue("", exclusive=True); its name must start
"amq.gen-") and matches replies by correlation_id while draining events. Checks: 15
sequential calls, then a stray reply with an unknown correlation id (ignored, seen as
such) and 25 calls in flight at once; the server served each request once, the
sequential ones in order; the request queue is deleted at the end.
"""

import socket
import threading
import uuid

import kombu
from kombu.mixins import ConsumerMixin

from catalogue import RPC_BATCH, RPC_SEQUENTIAL, check_rpc_served, fib
from interop_common import Deadline, Worker, amqp_uri, check, check_eq, main, unique

RPC_QUEUE = kombu.Queue(unique("rpc_queue"), durable=False)


class FibonacciServer(ConsumerMixin):
    def __init__(self, connection):
        self.connection = connection
        self.served = []
        self.ready = threading.Event()

    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[RPC_QUEUE], on_message=self.on_request, accept=["json"],
                         prefetch_count=1)]

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        self.ready.set()

    def on_request(self, message):
        n = message.decode()
        self.served.append(n)
        with kombu.Producer(self.connection.default_channel, serializer="json") as producer:
            producer.publish(fib(n), routing_key=message.properties["reply_to"],
                             correlation_id=message.properties["correlation_id"], retry=False)
        message.ack()


class FibonacciRpcClient:
    def __init__(self, connection):
        self.connection = connection
        self.callback_queue = kombu.Queue("", exclusive=True, auto_delete=True)
        self.responses = {}
        self.consumer = kombu.Consumer(connection.channel(), queues=[self.callback_queue],
                                       on_message=self.on_response, accept=["json"],
                                       no_ack=True)
        self.consumer.consume()
        self.reply_to = self.consumer.queues[0].name
        self.producer = kombu.Producer(connection.channel(), serializer="json")

    def on_response(self, message):
        self.responses[message.properties["correlation_id"]] = message.decode()

    def send(self, n):
        corr_id = str(uuid.uuid4())
        self.producer.publish(n, routing_key=RPC_QUEUE.name, reply_to=self.reply_to,
                              correlation_id=corr_id, retry=False)
        return corr_id

    def wait_for(self, corr_ids, seconds=20):
        deadline = Deadline(seconds)
        while not all(c in self.responses for c in corr_ids):
            try:
                self.connection.drain_events(timeout=max(0.01, deadline.remaining()))
            except socket.timeout:
                raise AssertionError("RPC replies missing after %ss" % seconds) from None
        return [self.responses.pop(c) for c in corr_ids]


def scenario():
    with kombu.Connection(amqp_uri()) as server_conn, kombu.Connection(amqp_uri()) as conn:
        RPC_QUEUE(conn.default_channel).declare()
        server = FibonacciServer(server_conn)
        thread = Worker(server.run, name="rpc-server")
        thread.start()
        try:
            thread.wait_ready(server.ready, 20)
            client = FibonacciRpcClient(conn)
            check(client.reply_to.startswith("amq.gen-"), "callback queue %r" % client.reply_to)
            for n in range(RPC_SEQUENTIAL):
                check_eq(client.wait_for([client.send(n)])[0], fib(n), "fib(%d) over RPC" % n)
            client.producer.publish(-1, routing_key=client.reply_to, correlation_id="stray",
                                    retry=False)
            ids = [client.send(n) for n in RPC_BATCH]
            check_eq(client.wait_for(ids), [fib(n) for n in RPC_BATCH], "25 calls in flight")
            check_eq(client.responses, {"stray": -1}, "replies left over (only the stray one)")
        finally:
            server.should_stop = True
            thread.join_checked(10)
        check_rpc_served(server.served)
        check_eq(RPC_QUEUE(conn.default_channel).delete(), 0, "requests left in the queue")


if __name__ == "__main__":
    main(scenario)
