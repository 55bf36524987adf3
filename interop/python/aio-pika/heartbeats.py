"""aio-pika: a connection with a short heartbeat survives an idle period.

Environment: INTEROP_HEARTBEAT (seconds, default 1) and INTEROP_IDLE_SECONDS (default 4).

Connects with `?heartbeat=N` in the URL (aiormq sends it in tune-ok), checks the
negotiated heartbeat equals the request, declares an exclusive queue, then sends nothing
for the idle period (aiormq's own heartbeat task keeps running). While idle it watches
when aiormq last received a frame: since the program sends nothing, every frame that
arrives is a broker heartbeat, and at least one per two intervals must arrive. After the
idle period the connection must still be open and a publish + basic.get round trip must
work. (Stopping aiormq's heartbeats to see the broker drop a silent client is not
something aio-pika offers; the pika scenario covers that.)
"""

import asyncio
import os

import aio_pika

from interop_common import amqp_uri, check, check_eq, main_async

HEARTBEAT = int(os.environ.get("INTEROP_HEARTBEAT", "1"))
IDLE = float(os.environ.get("INTEROP_IDLE_SECONDS", "4"))


def with_heartbeat(uri, seconds):
    return uri + ("&" if "?" in uri else "?") + "heartbeat=%d" % seconds


async def run():
    connection = await aio_pika.connect(with_heartbeat(amqp_uri(), HEARTBEAT))
    async with connection:
        underlay = connection.transport.connection
        check_eq(underlay.heartbeat_timeout, HEARTBEAT, "negotiated heartbeat")
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)

        # Idle: no traffic from the program. Sample (locally, no I/O) when aiormq last
        # received a frame; every change is a heartbeat from the broker.
        loop = asyncio.get_running_loop()
        end = loop.time() + IDLE
        frame_times = set()
        while loop.time() < end:
            frame_times.add(underlay._Connection__last_frame_time)
            await asyncio.sleep(0.1)
        received = len(frame_times) - 1
        check(received >= max(1, int(IDLE / HEARTBEAT / 2)),
              "only %d frames (heartbeats) from the broker in %ss at heartbeat %ss"
              % (received, IDLE, HEARTBEAT))
        check(not connection.is_closed, "connection closed during the idle period")
        check(not channel.is_closed, "channel closed during the idle period")

        # aio-pika channels use publisher confirms by default: once publish() returns the
        # broker has the message, so one basic.get must find it.
        await channel.default_exchange.publish(aio_pika.Message(b"still here"),
                                               routing_key=queue.name)
        message = await queue.get(no_ack=True, fail=False)
        check(message is not None, "message after the idle period not in the queue")
        check_eq(message.body, b"still here", "message after the idle period")
        await queue.delete()
        print("%d broker heartbeats seen in %ss" % (received, IDLE))


if __name__ == "__main__":
    main_async(run, IDLE + 30)
