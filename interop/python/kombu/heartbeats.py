"""kombu: heartbeats kept during an idle period, and a silent client dropped.

Environment: INTEROP_HEARTBEAT (seconds, default 1) and INTEROP_IDLE_SECONDS (default 4).

1. `Connection(heartbeat=N)`; the negotiated interval (`get_heartbeat_interval()`) must
   equal N. For the idle period the program does what kombu's docs prescribe and nothing
   else: `drain_events(timeout=...)` and, on each timeout, `heartbeat_check()` (which sends
   heartbeats and raises if the broker's stop). Nothing else is exchanged, so every frame
   py-amqp receives meanwhile is a broker heartbeat: at least one per two intervals must
   arrive. Afterwards the connection must still work: a SimpleQueue put/get round trip.
2. A second connection negotiates the same heartbeat and then goes silent (no
   heartbeat_check, no reads) for three intervals plus a second; the broker must have
   dropped it, so the next operation fails with a connection error.
"""

import os
import socket
import time

import kombu

from interop_common import Deadline, amqp_uri, check, check_eq, main, unique

HEARTBEAT = int(os.environ.get("INTEROP_HEARTBEAT", "1"))
IDLE = float(os.environ.get("INTEROP_IDLE_SECONDS", "4"))


def kept_alive():
    with kombu.Connection(amqp_uri(), heartbeat=HEARTBEAT) as conn:
        conn.ensure_connection(max_retries=1)
        check_eq(conn.get_heartbeat_interval(), HEARTBEAT, "negotiated heartbeat")
        frames_before = conn.connection.bytes_recv
        idle = Deadline(IDLE)
        while not idle.expired():
            try:
                conn.drain_events(timeout=min(HEARTBEAT / 4, max(0.01, idle.remaining())))
            except socket.timeout:
                conn.heartbeat_check()
        received = conn.connection.bytes_recv - frames_before
        check(received >= max(1, int(IDLE / HEARTBEAT / 2)),
              "only %d frames (heartbeats) from the broker in %ss at heartbeat %ss"
              % (received, IDLE, HEARTBEAT))
        check(conn.connected, "connection closed during the idle period")

        simple = conn.SimpleQueue(unique("heartbeats"), serializer="json")
        simple.put({"still": "here"})
        message = simple.get(block=True, timeout=10)
        check_eq(message.payload, {"still": "here"}, "message after the idle period")
        message.ack()
        simple.close()
        simple.queue(conn.default_channel).delete()
        simple.queue.exchange(conn.default_channel).delete()  # SimpleQueue's own exchange
        print("%d broker heartbeats in %ss" % (received, IDLE))


def silent_client_dropped():
    conn = kombu.Connection(amqp_uri(), heartbeat=HEARTBEAT)
    try:
        channel = conn.channel()
        check_eq(conn.get_heartbeat_interval(), HEARTBEAT, "negotiated heartbeat (silent)")
        # Go silent: neither heartbeat_check() nor reads. The broker should give up after
        # two missed intervals; this is the one intentional wait.
        time.sleep(HEARTBEAT * 3 + 1)
        try:
            kombu.Queue(unique("after-silence"), exclusive=True)(channel).declare()
            raise AssertionError("the broker kept a connection that sent no heartbeats")
        except conn.connection_errors + (OSError,):
            pass
    finally:
        try:
            conn.release()
        except conn.connection_errors + (OSError,):
            pass


def scenario():
    kept_alive()
    silent_client_dropped()


if __name__ == "__main__":
    main(scenario)
