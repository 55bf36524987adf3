"""pika SelectConnection: heartbeats over an idle period, and a silent client dropped.

Environment: INTEROP_HEARTBEAT (seconds, default 1) and INTEROP_IDLE_SECONDS (default 4).

1. A connection asks for heartbeat N; the negotiated value (connection.params.heartbeat
   after tune) must be N. The program then does nothing for the idle period (an IOLoop
   timer; pika's heartbeat checker keeps running on the loop). Afterwards the connection
   must be open, pika must have counted broker heartbeat frames (at least one per two
   intervals), and a confirmed publish + consume round trip must work.
2. A second connection negotiates the same heartbeat, then the program blocks the IOLoop
   (no reads, no heartbeats) for three intervals plus a second. The broker must have
   dropped it: the declare sent afterwards never completes and the connection's close
   callback reports a closed stream.
"""

import os
import time

import pika
from pika.spec import Basic

from interop_common import check, check_eq, main, unique
from pika_async import SelectScenario

HEARTBEAT = int(os.environ.get("INTEROP_HEARTBEAT", "1"))
IDLE = float(os.environ.get("INTEROP_IDLE_SECONDS", "4"))


class Heartbeats(SelectScenario):
    TIMEOUT = IDLE + HEARTBEAT * 3 + 30

    def start(self):
        self.conn = self.connect(self.on_open, heartbeat=HEARTBEAT)

    def on_open(self, conn):
        check_eq(conn.params.heartbeat, HEARTBEAT, "negotiated heartbeat")
        self.open_channel(conn, self.on_channel)

    def on_channel(self, ch):
        self.ch = ch

        def declared(frame):
            self.queue = frame.method.queue
            self.ioloop.call_later(IDLE, self.cb(self.after_idle))

        ch.queue_declare("", exclusive=True, callback=self.cb(declared))

    def after_idle(self):
        check(self.conn.is_open, "connection closed during the idle period")
        received = self.conn._heartbeat_checker._heartbeat_frames_received
        check(received >= max(1, int(IDLE / HEARTBEAT / 2)),
              "only %d heartbeat frames from the broker in %ss at heartbeat %ss"
              % (received, IDLE, HEARTBEAT))
        print("%d broker heartbeats in %ss" % (received, IDLE))
        self.ch.confirm_delivery(self.cb(self.on_confirm), callback=self.cb(self.publish))

    def publish(self, _frame):
        self.ch.basic_publish("", self.queue, b"still here")

    def on_confirm(self, frame):
        check(isinstance(frame.method, Basic.Ack), "publish after the idle period nacked")
        self.ch.basic_consume(self.queue, self.cb(self.on_message), auto_ack=True)

    def on_message(self, _ch, _method, _props, body):
        check_eq(body, b"still here", "message after the idle period")
        self.close(self.conn)
        self.silent = self.connect(self.on_silent_open, heartbeat=HEARTBEAT)

    # -- part 2 ---------------------------------------------------------------------------
    def on_silent_open(self, conn):
        check_eq(conn.params.heartbeat, HEARTBEAT, "negotiated heartbeat (silent client)")
        conn.add_on_close_callback(self.cb(self.on_silent_closed))
        self.open_channel(conn, self.go_silent, closing_ok=True)

    def go_silent(self, ch):
        self.silent.closing_expected = True  # the broker is expected to drop it
        # Block the IOLoop: nothing is read or sent, heartbeats included. This is the one
        # intentional wait.
        time.sleep(HEARTBEAT * 3 + 1)
        self.declared_after_silence = False
        ch.queue_declare(unique("after-silence"), exclusive=True,
                         callback=self.cb(lambda _f: setattr(self, "declared_after_silence",
                                                             True)))

    def on_silent_closed(self, _conn, reason):
        check(not self.declared_after_silence,
              "the broker kept a connection that sent no heartbeats")
        # Closed by the broker (not by pika's own missed-heartbeat check).
        check(isinstance(reason, (pika.exceptions.StreamLostError,
                                  pika.exceptions.ConnectionClosedByBroker)),
              "the silent connection closed with %r" % (reason,))
        print("silent connection closed: %r" % (reason,))
        self.succeed()


if __name__ == "__main__":
    main(Heartbeats().run)
