"""pika AsyncioConnection: heartbeats over an idle period, and a silent client dropped.

Environment: INTEROP_HEARTBEAT (seconds, default 1) and INTEROP_IDLE_SECONDS (default 4).

1. A connection asks for heartbeat N; the negotiated value (connection.params.heartbeat
   after tune) must be N. The program then does nothing for the idle period
   (asyncio.sleep; pika's heartbeat checker keeps running on the event loop). Afterwards
   the connection must be open, pika must have counted broker heartbeat frames (at least
   one per two intervals), and a confirmed publish + consume round trip must work.
2. A second connection negotiates the same heartbeat, then the program blocks the event
   loop (no reads, no heartbeats) for three intervals plus a second. The broker must have
   dropped it: the connection's close callback reports a lost stream and a declare sent
   afterwards never completes.
"""

import asyncio
import os
import time

import pika.exceptions

from interop_common import check, check_eq, main_async, unique
from pika_async import AsyncioPika

HEARTBEAT = int(os.environ.get("INTEROP_HEARTBEAT", "1"))
IDLE = float(os.environ.get("INTEROP_IDLE_SECONDS", "4"))


async def kept_alive(amqp):
    conn = await amqp.connect(heartbeat=HEARTBEAT)
    check_eq(conn.params.heartbeat, HEARTBEAT, "negotiated heartbeat")
    ch = await amqp.channel(conn)
    queue = (await amqp.call(ch.queue_declare, "", exclusive=True)).method.queue
    await asyncio.sleep(IDLE)  # the idle period: no traffic from the program
    check(conn.is_open, "connection closed during the idle period")
    received = conn._heartbeat_checker._heartbeat_frames_received
    check(received >= max(1, int(IDLE / HEARTBEAT / 2)),
          "only %d heartbeat frames from the broker in %ss at heartbeat %ss"
          % (received, IDLE, HEARTBEAT))
    confirms = await amqp.confirms(ch)
    ch.basic_publish("", queue, b"still here")
    confirms.published()
    await confirms.wait(0)
    check_eq(confirms.acked, 1, "publish after the idle period acked")
    _tag, deliveries = await amqp.consume(ch, queue, auto_ack=True)
    check_eq((await amqp.next(deliveries))[2], b"still here", "message after the idle period")
    await amqp.close(conn)
    print("%d broker heartbeats in %ss" % (received, IDLE))


async def silent_client_dropped(amqp):
    conn = await amqp.connect(heartbeat=HEARTBEAT)
    check_eq(conn.params.heartbeat, HEARTBEAT, "negotiated heartbeat (silent client)")
    ch = await amqp.channel(conn)
    closed = asyncio.get_running_loop().create_future()
    conn.add_on_close_callback(lambda _c, reason: closed.done() or closed.set_result(reason))
    # Block the event loop: nothing is read or sent, heartbeats included. This is the one
    # intentional wait.
    time.sleep(HEARTBEAT * 3 + 1)
    declared = []
    ch.queue_declare(unique("after-silence"), exclusive=True,
                     callback=lambda frame: declared.append(frame))
    reason = await asyncio.wait_for(closed, 10)
    check_eq(declared, [], "declare completed on a connection that sent no heartbeats")
    # Closed by the broker, not by pika's own missed-heartbeat check.
    check(isinstance(reason, (pika.exceptions.StreamLostError,
                              pika.exceptions.ConnectionClosedByBroker)),
          "the silent connection closed with %r" % (reason,))
    print("silent connection closed: %r" % (reason,))


async def run():
    amqp = AsyncioPika()
    await kept_alive(amqp)
    await silent_client_dropped(amqp)


if __name__ == "__main__":
    main_async(run, IDLE + HEARTBEAT * 3 + 30)
