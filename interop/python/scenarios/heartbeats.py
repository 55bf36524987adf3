"""Heartbeats kept over an idle period, and a silent client dropped (pika).

Environment: INTEROP_HEARTBEAT (seconds requested by the client, default 1) and
INTEROP_IDLE_SECONDS (default 4; raise it, e.g. to 120, for a long soak).

1. A connection asks for a short heartbeat and idles while pika keeps its I/O loop running
   (connection.sleep), so it sends heartbeats and watches for the broker's. After the idle
   period the connection must still be open, must have received heartbeat frames from the
   broker, and must still publish and consume.
2. A second connection negotiates the same heartbeat, then the client goes silent (no
   heartbeats, no reads). The broker must close it after missing heartbeats (RabbitMQ does
   so after about two intervals); any later use of the connection fails.
"""

import os
import time

import pika
import pika.exceptions

from interop_common import check, check_eq, main, pika_params, unique

HEARTBEAT = int(os.environ.get("INTEROP_HEARTBEAT", "1"))
IDLE = float(os.environ.get("INTEROP_IDLE_SECONDS", "4"))


def kept_alive():
    connection = pika.BlockingConnection(pika_params(heartbeat=HEARTBEAT))
    check_eq(connection._impl.params.heartbeat, HEARTBEAT, "negotiated heartbeat")
    channel = connection.channel()
    queue = channel.queue_declare("", exclusive=True).method.queue
    connection.sleep(IDLE)
    check(connection.is_open, "connection closed during an idle period with heartbeats")
    received = connection._impl._heartbeat_checker._heartbeat_frames_received
    check(received >= max(1, int(IDLE / HEARTBEAT / 2)),
          "only %d heartbeat frames from the broker in %ss at heartbeat %ss"
          % (received, IDLE, HEARTBEAT))
    channel.basic_publish("", queue, b"still here")
    method, _props, body = channel.basic_get(queue, auto_ack=True)
    check_eq(body, b"still here", "message after the idle period")
    connection.close()


def silent_client_dropped():
    connection = pika.BlockingConnection(pika_params(heartbeat=HEARTBEAT))
    channel = connection.channel()
    # Go silent: block this thread without letting pika read or send anything. The broker
    # should give up after two missed heartbeat intervals; wait a little longer than that.
    time.sleep(HEARTBEAT * 3 + 1)
    try:
        channel.queue_declare(unique("after-silence"), exclusive=True)
        connection.process_data_events(time_limit=1)
        raise AssertionError("the broker kept a connection that sent no heartbeats")
    except (pika.exceptions.AMQPConnectionError, pika.exceptions.ChannelWrongStateError,
            pika.exceptions.StreamLostError, pika.exceptions.ConnectionClosed):
        pass


def scenario():
    kept_alive()
    silent_client_dropped()


if __name__ == "__main__":
    main(scenario)
