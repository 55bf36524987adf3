"""RabbitMQ tutorial 4, "Routing": emit_log_direct.py and receive_logs_direct.py.

A direct exchange. One receiver binds its exclusive queue with "error" only; the other binds
"info", "warning" and "error" (three bindings, one queue). Logs of every severity are sent,
including "debug", which no queue binds. Each receiver must get exactly its severities, in
order, each message once, with the routing key it was published with.
"""

import threading

import pika

from interop_common import Worker, check_eq, main, pika_params, unique

EXCHANGE = unique("direct_logs")
LOGS = [(sev, "%s message %d" % (sev, i)) for i in range(5) for sev in ("info", "warning", "error", "debug")]
END = "end"


def receive_logs_direct(severities, ready):
    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    channel.exchange_declare(exchange=EXCHANGE, exchange_type="direct")
    result = channel.queue_declare(queue="", exclusive=True)
    queue_name = result.method.queue
    for severity in severities + [END]:
        channel.queue_bind(exchange=EXCHANGE, queue=queue_name, routing_key=severity)
    received = []

    def callback(ch, method, properties, body):
        if method.routing_key == END:
            ch.stop_consuming()
        else:
            received.append((method.routing_key, body.decode()))

    channel.basic_consume(queue=queue_name, on_message_callback=callback, auto_ack=True)
    ready.set()
    connection.call_later(30, channel.stop_consuming)  # hang guard
    channel.start_consuming()
    connection.close()
    return received


def emit_log_direct():
    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    channel.exchange_declare(exchange=EXCHANGE, exchange_type="direct")
    for severity, message in LOGS + [(END, END)]:
        channel.basic_publish(exchange=EXCHANGE, routing_key=severity, body=message.encode())
    connection.close()


def scenario():
    wanted = {"errors-only": ["error"], "everything": ["info", "warning", "error"]}
    receivers = {}
    for name, severities in wanted.items():
        ready = threading.Event()
        r = Worker(receive_logs_direct, severities, ready, name=name)
        r.start()
        r.wait_ready(ready, 30)
        receivers[name] = r

    emit_log_direct()
    for name, r in receivers.items():
        expected = [(sev, msg) for sev, msg in LOGS if sev in wanted[name]]
        check_eq(r.join_checked(40), expected, "logs received by %s" % name)

    connection = pika.BlockingConnection(pika_params())
    connection.channel().exchange_delete(exchange=EXCHANGE)
    connection.close()


if __name__ == "__main__":
    main(scenario)
