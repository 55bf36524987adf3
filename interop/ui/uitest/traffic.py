"""Message traffic with pika in a background thread, so the overview has rates to show."""

import threading

import pika


class Traffic:
    """Publishes to `queue` and gets-and-acks from it until stopped (or `max_seconds`)."""

    def __init__(self, uri, queue, max_seconds=90):
        self.uri = uri
        self.queue = queue
        self.max_seconds = max_seconds
        self.stop_event = threading.Event()
        self.error = None
        self.published = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        try:
            params = pika.URLParameters(self.uri)
            params.client_properties = {"connection_name": "ui-traffic"}
            conn = pika.BlockingConnection(params)
            ch = conn.channel()
            ch.queue_declare(self.queue, auto_delete=False)
            ticks = 0
            while not self.stop_event.is_set() and ticks < self.max_seconds * 10:
                for _ in range(20):
                    ch.basic_publish("", self.queue, b"traffic")
                    self.published += 1
                for _ in range(10):
                    method, _props, _body = ch.basic_get(self.queue)
                    if method is None:
                        break
                    if method.delivery_tag % 5 == 0:
                        ch.basic_nack(method.delivery_tag, requeue=True)
                    else:
                        ch.basic_ack(method.delivery_tag)
                # Unroutable, so that rate shows too.
                ch.basic_publish("amq.direct", "ui-nowhere", b"lost")
                ticks += 1
                # Pacing: about ten rounds a second, not a synchronisation.
                self.stop_event.wait(0.1)
            ch.queue_purge(self.queue)
            conn.close()
        except Exception as e:  # reported by the scenario
            self.error = e

    def stop(self):
        self.stop_event.set()
        self.thread.join(timeout=20)
