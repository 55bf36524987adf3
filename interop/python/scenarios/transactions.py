"""AMQP transactions (tx class) with pika BlockingConnection.

- publishes inside tx.select are invisible until tx.commit, and discarded by tx.rollback;
- acks inside a transaction take effect only at commit: acks rolled back leave the
  messages unacked, so closing the channel requeues them (redelivered=true next time);
- a committed ack removes them for good.
"""

import pika

from interop_common import check_eq, main, pika_params, unique


def depth(channel, queue):
    return channel.queue_declare(queue, passive=True).method.message_count


def scenario():
    connection = pika.BlockingConnection(pika_params())
    observer = connection.channel()
    queue = unique("tx")
    observer.queue_declare(queue)

    channel = connection.channel()
    channel.tx_select()
    for i in range(3):
        channel.basic_publish("", queue, b"rolled back %d" % i)
    check_eq(depth(observer, queue), 0, "messages visible before commit")
    channel.tx_rollback()
    check_eq(depth(observer, queue), 0, "messages after rollback")
    for i in range(2):
        channel.basic_publish("", queue, b"committed %d" % i)
    check_eq(depth(observer, queue), 0, "messages visible before the second commit")
    channel.tx_commit()
    check_eq(depth(observer, queue), 2, "messages after commit")

    tags = []
    for i in range(2):
        method, _props, body = channel.basic_get(queue, auto_ack=False)
        check_eq(body, b"committed %d" % i, "fetched body")
        tags.append(method.delivery_tag)
    channel.basic_ack(tags[-1], multiple=True)
    channel.tx_rollback()
    channel.close()  # the rolled-back acks never happened: both are requeued
    check_eq(depth(observer, queue), 2, "messages requeued after the rolled-back ack")

    channel = connection.channel()
    channel.tx_select()
    bodies = []
    for _ in range(2):
        method, _props, body = channel.basic_get(queue, auto_ack=False)
        check_eq(method.redelivered, True, "redelivered flag after requeue")
        bodies.append(body)
        channel.basic_ack(method.delivery_tag)
    check_eq(sorted(bodies), [b"committed 0", b"committed 1"], "requeued bodies")
    channel.tx_commit()
    channel.close()
    check_eq(depth(observer, queue), 0, "messages after the committed acks")
    observer.queue_delete(queue)
    connection.close()


if __name__ == "__main__":
    main(scenario)
