"""aio-pika: RabbitMQ tutorial 6 (RPC) as aio-pika's tutorial writes it.

The server, on its own connection, consumes a request queue with prefetch 1 through the
queue iterator, computes fib(n) and publishes the reply to the request's reply_to with its
correlation_id, acking via `message.process()`. The client declares an exclusive
server-named callback queue (name must start "amq.gen-"), consumes it with a callback and
resolves one future per correlation id. Checks: 15 sequential calls, a batch of 25
concurrent calls (asyncio.gather), a stray reply with an unknown correlation id is
ignored (and seen as such), and the server served every request once, sequential ones in
order. The request queue is deleted at the end.
"""

import asyncio
import uuid

import aio_pika

from catalogue import RPC_BATCH, RPC_SEQUENTIAL, check_rpc_served, fib
from interop_common import amqp_uri, check, check_eq, main_async, unique

RPC_QUEUE = unique("rpc_queue")


async def rpc_server(ready, served):
    connection = await aio_pika.connect(amqp_uri())
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1)
        queue = await channel.declare_queue(RPC_QUEUE)
        ready.set()
        async with queue.iterator() as qiterator:
            async for message in qiterator:
                async with message.process(requeue=False):
                    n = int(message.body.decode())
                    served.append(n)
                    await channel.default_exchange.publish(
                        aio_pika.Message(body=str(fib(n)).encode(),
                                         correlation_id=message.correlation_id),
                        routing_key=message.reply_to)


class FibonacciRpcClient:
    def __init__(self):
        self.futures = {}
        self.strays = []

    async def connect(self):
        self.connection = await aio_pika.connect(amqp_uri())
        self.channel = await self.connection.channel()
        self.callback_queue = await self.channel.declare_queue(exclusive=True)
        await self.callback_queue.consume(self.on_response, no_ack=True)
        return self

    async def on_response(self, message):
        future = self.futures.pop(message.correlation_id, None)
        if future is None:
            self.strays.append((message.correlation_id, message.body))
            return
        future.set_result(message.body)

    async def call(self, n):
        correlation_id = str(uuid.uuid4())
        future = asyncio.get_running_loop().create_future()
        self.futures[correlation_id] = future
        await self.channel.default_exchange.publish(
            aio_pika.Message(str(n).encode(), content_type="text/plain",
                             correlation_id=correlation_id,
                             reply_to=self.callback_queue.name),
            routing_key=RPC_QUEUE)
        return int(await asyncio.wait_for(future, 20))


async def run():
    ready, served = asyncio.Event(), []
    server = asyncio.ensure_future(rpc_server(ready, served))
    await asyncio.wait_for(ready.wait(), 20)
    try:
        client = await FibonacciRpcClient().connect()
        async with client.connection:
            check(client.callback_queue.name.startswith("amq.gen-"),
                  "callback queue %r" % client.callback_queue.name)
            for n in range(RPC_SEQUENTIAL):
                check_eq(await client.call(n), fib(n), "fib(%d) over RPC" % n)

            await client.channel.default_exchange.publish(
                aio_pika.Message(b"-1", correlation_id="stray"),
                routing_key=client.callback_queue.name)
            results = await asyncio.gather(*[client.call(n) for n in RPC_BATCH])
            check_eq(results, [fib(n) for n in RPC_BATCH], "batch of 25 concurrent calls")
            check_eq(client.strays, [("stray", b"-1")], "replies with unknown correlation ids")
            check_eq(client.futures, {}, "calls left pending")
        check_rpc_served(served)
    finally:
        server.cancel()
        try:
            await server
        except asyncio.CancelledError:
            pass
    connection = await aio_pika.connect(amqp_uri())
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(RPC_QUEUE, passive=True)
        check_eq(declared.declaration_result.message_count, 0, "requests left")
        await declared.delete()


if __name__ == "__main__":
    main_async(run, 60)
