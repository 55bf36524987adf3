"""Cross-language: every basic property and every header field type, Python -> Node.js.

The Python side (aio-pika, whose pamqp codec encodes every AMQP field type including
floats, and picks the smallest integer type) publishes two copies of one message with all
basic properties set (content_type, content_encoding, headers, delivery_mode, priority,
correlation_id, reply_to, expiration, message_id, timestamp, type, user_id, app_id;
cluster_id is deprecated and left out) and a headers table holding str, integers of every
width (b, s, u, I, i, l), bool, float, decimal, timestamp, nested table, array, bytes and
void values. A Node.js program (helpers/check-properties.js) then reads the first copy with
amqplib and the second with @cloudamqp/amqp-client and checks every value against its own,
independently written expectations. user_id must equal the connection's user (the broker
validates it: a publish with another user_id closes the channel with 406).
"""

import asyncio
import datetime
import decimal
import os
import subprocess

import aio_pika

from interop_common import amqp_uri, check_eq, main, unique, uri_user

QUEUE = unique("cross-props")
HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers", "check-properties.js")

HEADERS = {
    "str": "héllo wörld",
    "int8": -42,
    "int16": -1000,
    "uint16": 40000,
    "int32": -100000,
    "uint32": 3000000000,
    "int64": -(2**40 + 5),
    "bool_true": True,
    "bool_false": False,
    "float": 2.5,
    "decimal": decimal.Decimal("3.14159"),
    "timestamp": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
    "table": {"inner": "value", "depth": {"n": 1}},
    "array": [1, "two", True, None, {"k": "v"}],
    "bytes": bytearray(b"\x00\x01\xfe\xff"),
    "void": None,
    "empty": "",
}
BODY = '{"hello": "node", "n": 1}'.encode()


async def publish():
    connection = await aio_pika.connect(amqp_uri())
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.declare_queue(QUEUE, durable=True)
        message = aio_pika.Message(
            body=BODY,
            content_type="application/json",
            content_encoding="identity",
            headers=HEADERS,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            priority=7,
            correlation_id="corr-123",
            reply_to="reply.queue",
            expiration=600,  # seconds in aio-pika; "600000" ms on the wire
            message_id="msg-456",
            timestamp=datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
            type="order.created",
            user_id=uri_user(),
            app_id="interop-python",
        )
        for _ in range(2):
            await channel.default_exchange.publish(message, routing_key=QUEUE)
        declared = await channel.declare_queue(QUEUE, durable=True, passive=True)
        check_eq(declared.declaration_result.message_count, 2, "messages for the Node consumer")


def spoofed_user_id_is_refused():
    """A user_id other than the connection's user closes the channel with 406."""
    import pika
    import pika.exceptions

    from interop_common import pika_params

    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    channel.confirm_delivery()
    try:
        channel.basic_publish(
            "", QUEUE, b"spoofed", pika.BasicProperties(user_id="not-" + uri_user())
        )
        raise AssertionError("a publish with someone else's user_id was accepted")
    except pika.exceptions.ChannelClosedByBroker as exc:
        check_eq(exc.reply_code, 406, "reply code for a spoofed user_id")
    connection.close()


async def cleanup():
    connection = await aio_pika.connect(amqp_uri())
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(QUEUE, durable=True, passive=True)
        check_eq(declared.declaration_result.message_count, 0, "messages left after Node")
        await declared.delete()


def scenario():
    asyncio.run(asyncio.wait_for(publish(), 30))
    spoofed_user_id_is_refused()
    env = dict(os.environ, EXPECTED_USER=uri_user())
    result = subprocess.run(
        ["node", HELPER, QUEUE], env=env, capture_output=True, text=True, timeout=60
    )
    print(result.stdout, end="")
    print(result.stderr, end="")
    check_eq(result.returncode, 0, "Node checker exit code")
    asyncio.run(asyncio.wait_for(cleanup(), 30))


if __name__ == "__main__":
    main(scenario)
