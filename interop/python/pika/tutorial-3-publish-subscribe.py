"""RabbitMQ tutorial 3, "Publish/Subscribe": emit_log.py and two receive_logs.py.

A fanout exchange; each receiver declares an exclusive, server-named queue
(queue_declare(queue="", exclusive=True)) and binds it. Every receiver must get every log
line, in order. Also checks the server-generated name (amq.gen-...), that another connection
cannot use an exclusive queue (405 RESOURCE_LOCKED), and that the queue disappears when its
connection closes.
"""

import threading

import pika
import pika.exceptions

from interop_common import Worker, check, check_eq, main, pika_params, unique

EXCHANGE = unique("logs")
LINES = ["info: line %d" % i for i in range(20)]
END = "end"


def receive_logs(ready, names):
    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    channel.exchange_declare(exchange=EXCHANGE, exchange_type="fanout")
    result = channel.queue_declare(queue="", exclusive=True)
    queue_name = result.method.queue
    names.append(queue_name)
    channel.queue_bind(exchange=EXCHANGE, queue=queue_name)
    received = []

    def callback(ch, method, properties, body):
        if body == END.encode():
            ch.stop_consuming()
            return
        received.append(body.decode())
        if method.exchange != EXCHANGE:
            received.append("wrong exchange %r" % method.exchange)

    channel.basic_consume(queue=queue_name, on_message_callback=callback, auto_ack=True)
    ready.set()
    connection.call_later(30, channel.stop_consuming)  # hang guard
    channel.start_consuming()
    connection.close()
    return received


def emit_log():
    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    channel.exchange_declare(exchange=EXCHANGE, exchange_type="fanout")
    for line in LINES + [END]:
        # The routing key is ignored by a fanout exchange.
        channel.basic_publish(exchange=EXCHANGE, routing_key="ignored", body=line.encode())
    connection.close()


def scenario():
    names = []
    receivers = []
    for i in range(2):
        ready = threading.Event()
        r = Worker(receive_logs, ready, names, name="receiver-%d" % i)
        r.start()
        r.wait_ready(ready, 30)
        receivers.append(r)

    check_eq(len(set(names)), 2, "distinct server-named queues")
    for name in names:
        check(name.startswith("amq.gen-"), "server-named queue %r lacks the amq.gen- prefix" % name)

    # An exclusive queue belongs to its connection: another one is refused with 405.
    other = pika.BlockingConnection(pika_params())
    try:
        other.channel().queue_declare(queue=names[0], passive=True)
        raise AssertionError("passive declare of another connection's exclusive queue succeeded")
    except pika.exceptions.ChannelClosedByBroker as exc:
        check_eq(exc.reply_code, 405, "reply code for another connection's exclusive queue")

    emit_log()
    for r in receivers:
        check_eq(r.join_checked(40), LINES, "log lines received by %s" % r.name)

    # Both receivers closed their connections, so their exclusive queues are gone (404).
    for name in names:
        try:
            other.channel().queue_declare(queue=name, passive=True)
            raise AssertionError("exclusive queue %s outlived its connection" % name)
        except pika.exceptions.ChannelClosedByBroker as exc:
            check_eq(exc.reply_code, 404, "reply code for a deleted exclusive queue")
    other.channel().exchange_delete(exchange=EXCHANGE)
    other.close()


if __name__ == "__main__":
    main(scenario)
