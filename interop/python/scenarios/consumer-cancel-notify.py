"""Consumer cancel notification: the broker cancels a consumer whose queue is deleted.

pika announces consumer_cancel_notify in its client capabilities, so when another
connection deletes the queue the broker must send basic.cancel to the consumer (RabbitMQ
does); pika calls the channel's on-cancel callback with the consumer tag, and the channel
stays usable.
"""

import pika

from interop_common import check, check_eq, main, pika_params, unique


def scenario():
    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    queue = unique("cancel-notify")
    channel.queue_declare(queue)
    cancelled = []
    channel.add_on_cancel_callback(lambda frame: cancelled.append(frame.method.consumer_tag))
    tag = channel.basic_consume(queue, lambda *a: None, consumer_tag="interop-consumer")
    check_eq(tag, "interop-consumer", "consumer tag chosen by the client")

    other = pika.BlockingConnection(pika_params())
    other.channel().queue_delete(queue)
    other.close()

    connection.call_later(10, lambda: cancelled.append("timeout"))
    while not cancelled:
        connection.process_data_events(time_limit=0.1)
    check_eq(cancelled[0], "interop-consumer", "consumer tag in the broker's basic.cancel")
    check(channel.is_open, "channel open after the broker cancelled its consumer")
    channel.queue_declare("", exclusive=True)
    connection.close()


if __name__ == "__main__":
    main(scenario)
