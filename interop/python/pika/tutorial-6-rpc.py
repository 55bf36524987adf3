"""RabbitMQ tutorial 6, "RPC": rpc_server.py and rpc_client.py with a BlockingConnection.

The server consumes an RPC queue with prefetch 1, computes fib(n) and replies to the
request's reply_to with the request's correlation_id, then acks. The client declares an
exclusive server-named callback queue, sends requests with reply_to and a fresh
correlation_id, and matches replies by correlation_id: first one call at a time, then a
batch of calls in flight at once. A stray reply with an unknown correlation_id is ignored.
"""

import threading
import uuid

import pika

from catalogue import fib
from interop_common import Worker, check, check_eq, main, pika_params, unique

RPC_QUEUE = unique("rpc_queue")


def rpc_server(ready, stop):
    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    channel.queue_declare(queue=RPC_QUEUE)
    served = []

    def on_request(ch, method, props, body):
        n = int(body)
        served.append(n)
        response = fib(n)
        ch.basic_publish(
            exchange="",
            routing_key=props.reply_to,
            properties=pika.BasicProperties(correlation_id=props.correlation_id),
            body=str(response).encode(),
        )
        ch.basic_ack(delivery_tag=method.delivery_tag)

    channel.basic_qos(prefetch_count=1)
    channel.basic_consume(queue=RPC_QUEUE, on_message_callback=on_request)
    ready.set()
    while not stop.is_set():
        connection.process_data_events(time_limit=0.1)
    channel.queue_delete(queue=RPC_QUEUE)
    connection.close()
    return served


class FibonacciRpcClient:
    def __init__(self):
        self.connection = pika.BlockingConnection(pika_params())
        self.channel = self.connection.channel()
        result = self.channel.queue_declare(queue="", exclusive=True)
        self.callback_queue = result.method.queue
        self.channel.basic_consume(
            queue=self.callback_queue, on_message_callback=self.on_response, auto_ack=True
        )
        self.responses = {}

    def on_response(self, ch, method, props, body):
        self.responses[props.correlation_id] = int(body)

    def send(self, n):
        corr_id = str(uuid.uuid4())
        self.channel.basic_publish(
            exchange="",
            routing_key=RPC_QUEUE,
            properties=pika.BasicProperties(reply_to=self.callback_queue, correlation_id=corr_id),
            body=str(n).encode(),
        )
        return corr_id

    def wait_for(self, corr_ids, seconds=30):
        timer = self.connection.call_later(
            seconds, lambda: self.responses.setdefault("timeout", -1)
        )
        while not all(c in self.responses for c in corr_ids) and "timeout" not in self.responses:
            self.connection.process_data_events(time_limit=None)
        self.connection.remove_timeout(timer)
        check("timeout" not in self.responses, "RPC replies did not arrive within %ss" % seconds)
        return [self.responses.pop(c) for c in corr_ids]

    def call(self, n):
        return self.wait_for([self.send(n)])[0]


def scenario():
    ready, stop = threading.Event(), threading.Event()
    server = Worker(rpc_server, ready, stop, name="rpc-server")
    server.start()
    server.wait_ready(ready, 30)

    client = FibonacciRpcClient()
    check(client.callback_queue.startswith("amq.gen-"), "callback queue %r" % client.callback_queue)
    for n in range(0, 15):
        check_eq(client.call(n), fib(n), "fib(%d) over RPC" % n)

    # A reply nobody asked for is delivered to the callback queue and must not be confused
    # with a pending call.
    client.channel.basic_publish(
        exchange="",
        routing_key=client.callback_queue,
        properties=pika.BasicProperties(correlation_id="stray"),
        body=b"-1",
    )
    batch = list(range(20, 40))
    ids = [client.send(n) for n in batch]
    check_eq(client.wait_for(ids), [fib(n) for n in batch], "batch of 20 RPC calls in flight")
    check_eq(client.responses, {"stray": -1}, "replies left over (only the stray one)")
    client.connection.close()

    stop.set()
    served = server.join_checked(30)
    check_eq(served, list(range(0, 15)) + batch, "requests served, in order")


if __name__ == "__main__":
    main(scenario)
