"""RabbitMQ tutorial 5, "Topics": emit_log_topic.py and receive_logs_topic.py.

A topic exchange with the tutorial's bindings: Q1 "*.orange.*"; Q2 "*.*.rabbit" and "lazy.#";
plus a "#" catch-all and "kern.*". Every example key from the tutorial is sent (and a few edge
cases: "lazy" matches "lazy.#" with zero words; a message matching two bindings of one queue
arrives there once). Each queue must get exactly the expected keys, in order.
"""

import threading

import pika

from interop_common import Worker, check_eq, main, pika_params, unique

EXCHANGE = unique("topic_logs")
BINDINGS = {
    "Q1": ["*.orange.*"],
    "Q2": ["*.*.rabbit", "lazy.#"],
    "all": ["#"],
    "kern": ["kern.*"],
}
EXPECTED = {
    "quick.orange.rabbit": ["Q1", "Q2", "all"],
    "lazy.orange.elephant": ["Q1", "Q2", "all"],
    "quick.orange.fox": ["Q1", "all"],
    "lazy.brown.fox": ["Q2", "all"],
    "lazy.pink.rabbit": ["Q2", "all"],
    "quick.brown.fox": ["all"],
    "orange": ["all"],
    "quick.orange.new.rabbit": ["all"],
    "lazy.orange.new.rabbit": ["Q2", "all"],
    "lazy": ["Q2", "all"],
    "kern.critical": ["kern", "all"],
    "kern.critical.disk": ["all"],
    "kern": ["all"],
    "": ["all"],
    ".orange.": ["Q1", "all"],
}
END = "end"


def receive_logs_topic(binding_keys, ready):
    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    channel.exchange_declare(exchange=EXCHANGE, exchange_type="topic")
    result = channel.queue_declare("", exclusive=True)
    queue_name = result.method.queue
    for binding_key in binding_keys + [END]:
        channel.queue_bind(exchange=EXCHANGE, queue=queue_name, routing_key=binding_key)
    received = []

    def callback(ch, method, properties, body):
        if method.routing_key == END:
            ch.stop_consuming()
        else:
            received.append(method.routing_key)
            if body.decode() != "msg for " + method.routing_key:
                received.append("bad body %r" % body)

    channel.basic_consume(queue=queue_name, on_message_callback=callback, auto_ack=True)
    ready.set()
    connection.call_later(30, channel.stop_consuming)  # hang guard
    channel.start_consuming()
    connection.close()
    return received


def emit_log_topic():
    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    channel.exchange_declare(exchange=EXCHANGE, exchange_type="topic")
    for routing_key in list(EXPECTED) + [END]:
        body = "msg for " + routing_key
        channel.basic_publish(exchange=EXCHANGE, routing_key=routing_key, body=body.encode())
    connection.close()


def scenario():
    receivers = {}
    for name, keys in BINDINGS.items():
        ready = threading.Event()
        r = Worker(receive_logs_topic, keys, ready, name=name)
        r.start()
        r.wait_ready(ready, 30)
        receivers[name] = r

    emit_log_topic()
    for name, r in receivers.items():
        expected = [key for key, queues in EXPECTED.items() if name in queues]
        check_eq(r.join_checked(40), expected, "routing keys received by %s" % name)

    connection = pika.BlockingConnection(pika_params())
    connection.channel().exchange_delete(exchange=EXCHANGE)
    connection.close()


if __name__ == "__main__":
    main(scenario)
