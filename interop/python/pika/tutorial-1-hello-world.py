"""RabbitMQ tutorial 1, "Hello World!": send.py and receive.py with a BlockingConnection.

The sender declares a queue and publishes one message through the default exchange; the
receiver, on its own connection, declares the same queue and consumes with auto-ack.
Checks the body, the routing fields, and that the queue is left empty.
"""

import pika

from interop_common import check_eq, main, pika_params, unique

QUEUE = unique("hello")


def send():
    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    channel.queue_declare(queue=QUEUE)
    channel.basic_publish(exchange="", routing_key=QUEUE, body=b"Hello World!")
    connection.close()


def receive():
    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    channel.queue_declare(queue=QUEUE)
    received = []

    def callback(ch, method, properties, body):
        received.append((method, properties, body))
        ch.stop_consuming()

    channel.basic_consume(queue=QUEUE, on_message_callback=callback, auto_ack=True)
    # Hang guard only: stop_consuming() in the callback ends the loop normally.
    connection.call_later(30, channel.stop_consuming)
    channel.start_consuming()
    check_eq(len(received), 1, "messages received")
    method, _properties, body = received[0]
    check_eq(body, b"Hello World!", "body")
    check_eq(method.exchange, "", "exchange")
    check_eq(method.routing_key, QUEUE, "routing key")
    check_eq(method.redelivered, False, "redelivered")
    check_eq(method.delivery_tag, 1, "first delivery tag on a channel")
    ok = channel.queue_declare(queue=QUEUE, passive=True)
    check_eq(ok.method.message_count, 0, "messages left after auto-ack consume")
    check_eq(ok.method.consumer_count, 0, "consumers after stop_consuming")
    channel.queue_delete(queue=QUEUE)
    connection.close()


def scenario():
    send()
    receive()


if __name__ == "__main__":
    main(scenario)
