"""pika AsyncioConnection: RabbitMQ tutorial 6 (RPC) with coroutines.

The server, on its own connection, declares the request queue, sets prefetch 1 and
consumes it (a callback publishing fib(n) to reply_to with the request's correlation_id,
then acking). The client, on another connection, declares an exclusive server-named
callback queue (must start "amq.gen-"), consumes it with auto-ack and resolves one future
per correlation id. Checks: 15 sequential calls, then a stray reply with an unknown
correlation id (ignored, seen as such) and 25 concurrent calls (asyncio.gather); the server
served each request once, the sequential ones in order; the request queue is deleted.
"""

import asyncio
import uuid

import pika

from catalogue import RPC_BATCH, RPC_SEQUENTIAL, check_rpc_served, fib
from interop_common import check, check_eq, main_async, unique
from pika_async import AsyncioPika

RPC_QUEUE = unique("rpc_queue")


async def start_server(amqp, served):
    conn = await amqp.connect()
    ch = await amqp.channel(conn)
    await amqp.call(ch.queue_declare, RPC_QUEUE)
    await amqp.call(ch.basic_qos, prefetch_count=1)

    def on_request(channel, method, props, body):
        n = int(body)
        served.append(n)
        channel.basic_publish("", props.reply_to, str(fib(n)).encode(),
                              pika.BasicProperties(correlation_id=props.correlation_id))
        channel.basic_ack(method.delivery_tag)

    await amqp.call(ch.basic_consume, RPC_QUEUE, on_request)
    return conn


class FibonacciRpcClient:
    def __init__(self, amqp):
        self.amqp = amqp
        self.futures = {}
        self.strays = []

    async def connect(self):
        self.conn = await self.amqp.connect()
        self.ch = await self.amqp.channel(self.conn)
        frame = await self.amqp.call(self.ch.queue_declare, "", exclusive=True)
        self.callback_queue = frame.method.queue
        await self.amqp.call(self.ch.basic_consume, self.callback_queue, self.on_response,
                             auto_ack=True)
        return self

    def on_response(self, _ch, _method, props, body):
        future = self.futures.pop(props.correlation_id, None)
        if future is None:
            self.strays.append((props.correlation_id, body))
        else:
            future.set_result(int(body))

    async def call(self, n):
        corr_id = str(uuid.uuid4())
        future = asyncio.get_running_loop().create_future()
        self.futures[corr_id] = future
        self.ch.basic_publish("", RPC_QUEUE, str(n).encode(), pika.BasicProperties(
            reply_to=self.callback_queue, correlation_id=corr_id))
        return await asyncio.wait_for(future, 20)


async def run():
    amqp = AsyncioPika()
    served = []
    server = await start_server(amqp, served)
    client = await FibonacciRpcClient(amqp).connect()
    check(client.callback_queue.startswith("amq.gen-"), "callback queue %r"
          % client.callback_queue)
    for n in range(RPC_SEQUENTIAL):
        check_eq(await client.call(n), fib(n), "fib(%d) over RPC" % n)
    client.ch.basic_publish("", client.callback_queue, b"-1",
                            pika.BasicProperties(correlation_id="stray"))
    check_eq(await asyncio.gather(*[client.call(n) for n in RPC_BATCH]),
             [fib(n) for n in RPC_BATCH],
             "batch of 25 concurrent calls")
    check_eq(client.strays, [("stray", b"-1")], "replies with unknown correlation ids")
    check_rpc_served(served)
    await amqp.close(client.conn)
    await amqp.close(server)

    conn = await amqp.connect()
    ch = await amqp.channel(conn)
    frame = await amqp.call(ch.queue_delete, RPC_QUEUE)
    check_eq(frame.method.message_count, 0, "requests left")
    await amqp.close(conn)


if __name__ == "__main__":
    main_async(run, 60)
