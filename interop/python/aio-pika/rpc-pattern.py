"""aio-pika: the RPC pattern (aio_pika.patterns.RPC) between two connections.

A server registers a method; a client on another connection calls it many times, some
calls concurrently, and also calls a method that raises, which must come back as an
exception. aio-pika's RPC uses its own exclusive reply queue, correlation ids, reply_to,
mandatory publishes and a dead-letter-free request queue per method name.
"""

import asyncio

import aio_pika
from aio_pika.patterns import RPC

from interop_common import amqp_uri, check_eq, main_async, unique

METHOD = unique("multiply").replace(".", "_")
FAILING = unique("explode").replace(".", "_")


async def multiply(*, x, y):
    return x * y


async def explode():
    raise ValueError("boom")


async def run():
    server_conn = await aio_pika.connect_robust(amqp_uri())
    client_conn = await aio_pika.connect_robust(amqp_uri())
    async with server_conn, client_conn:
        server_rpc = await RPC.create(await server_conn.channel())
        await server_rpc.register(METHOD, multiply, auto_delete=True)
        await server_rpc.register(FAILING, explode, auto_delete=True)

        client_rpc = await RPC.create(await client_conn.channel())
        for i in range(10):
            check_eq(await client_rpc.proxy.__getattr__(METHOD)(x=i, y=7), i * 7, "call %d" % i)
        results = await asyncio.gather(
            *[client_rpc.call(METHOD, kwargs=dict(x=i, y=i)) for i in range(50)]
        )
        check_eq(results, [i * i for i in range(50)], "50 concurrent calls")
        try:
            await client_rpc.call(FAILING)
            raise AssertionError("a call to a raising method returned normally")
        except ValueError as exc:
            check_eq(str(exc), "boom", "remote exception text")
        await client_rpc.close()
        await server_rpc.unregister(multiply)
        await server_rpc.unregister(explode)
        await server_rpc.close()


if __name__ == "__main__":
    main_async(run, 60)
