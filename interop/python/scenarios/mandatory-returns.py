"""Mandatory publishing and basic.return (pika BlockingConnection).

- mandatory to a queue name that does not exist, through the default exchange: returned
  with 312 NO_ROUTE, the exchange and routing key it was published with, body and
  properties intact;
- mandatory through a direct exchange with no matching binding: returned likewise;
- mandatory and routable: delivered, not returned;
- not mandatory and unroutable: silently dropped (no return), and the channel stays usable;
- with publisher confirms: an unroutable mandatory publish is returned and then confirmed
  (pika raises UnroutableError), and a routable one is simply confirmed;
- publishing to an exchange that does not exist closes the channel with 404 NOT_FOUND.
"""

import pika
import pika.exceptions

from interop_common import check, check_eq, main, pika_params, unique


def scenario():
    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    returns = []
    channel.add_on_return_callback(lambda ch, method, props, body: returns.append((method, props, body)))

    exchange = unique("mandatory-ex")
    queue = unique("mandatory-q")
    channel.exchange_declare(exchange, exchange_type="direct")
    channel.queue_declare(queue)
    channel.queue_bind(queue, exchange, routing_key="bound")

    missing = unique("no-such-queue")
    props = pika.BasicProperties(message_id="r-1", headers={"why": "no queue"}, content_type="text/plain")
    channel.basic_publish("", missing, b"to nowhere", props, mandatory=True)
    channel.basic_publish(exchange, "unbound", b"unbound key", mandatory=True)
    channel.basic_publish(exchange, "bound", b"routable", mandatory=True)
    channel.basic_publish(exchange, "unbound", b"dropped quietly", mandatory=False)
    # A synchronous round trip: any return for the publishes above has arrived by now.
    channel.queue_declare(queue, passive=True)
    connection.process_data_events(time_limit=0)

    check_eq(len(returns), 2, "number of basic.return frames")
    method, rprops, body = returns[0]
    check_eq((method.reply_code, method.reply_text), (312, "NO_ROUTE"), "first return's reason")
    check_eq((method.exchange, method.routing_key), ("", missing), "first return's address")
    check_eq(body, b"to nowhere", "first returned body")
    check_eq((rprops.message_id, rprops.headers, rprops.content_type),
             ("r-1", {"why": "no queue"}, "text/plain"), "first returned properties")
    method, _rprops, body = returns[1]
    check_eq((method.reply_code, method.exchange, method.routing_key, body),
             (312, exchange, "unbound", b"unbound key"), "second return")

    # RabbitMQ enqueues asynchronously (a count taken at once can lag the publish): wait for
    # the routable message as a consumer. The count after the confirmed publishes below
    # shows nothing else reached the queue.
    method, _props, body = next(channel.consume(queue, auto_ack=True, inactivity_timeout=10))
    check(method is not None, "the routable mandatory message was delivered")
    check_eq(body, b"routable", "the routable mandatory message")
    channel.cancel()

    confirm_channel = connection.channel()
    confirm_channel.confirm_delivery()
    try:
        confirm_channel.basic_publish(exchange, "unbound", b"confirm+return", mandatory=True)
        raise AssertionError("unroutable mandatory publish with confirms did not raise")
    except pika.exceptions.UnroutableError as exc:
        check_eq(len(exc.messages), 1, "returned messages reported by pika")
        check_eq(exc.messages[0].body, b"confirm+return", "body in UnroutableError")
    confirm_channel.basic_publish(exchange, "bound", b"confirmed", mandatory=True)
    confirm_channel.basic_publish(exchange, "unbound", b"confirmed, dropped")
    check_eq(confirm_channel.queue_declare(queue, passive=True).method.message_count, 1,
             "messages in the bound queue after the confirmed publishes")

    try:
        confirm_channel.basic_publish(unique("no-such-exchange"), "k", b"x")
        raise AssertionError("publish to a missing exchange did not close the channel")
    except pika.exceptions.ChannelClosedByBroker as exc:
        check_eq(exc.reply_code, 404, "reply code for a missing exchange")
    check(channel.is_open, "the other channel stays open")
    channel.queue_delete(queue)
    channel.exchange_delete(exchange)
    connection.close()


if __name__ == "__main__":
    main(scenario)
