"""kombu: mandatory publishing, basic.return through Producer(on_return=...), confirms.

- A Producer with an `on_return` callback publishes mandatory to a queue name that does
  not exist (default exchange) and through a direct exchange with no matching binding:
  after a synchronous call on the same channel (passive queue declare, during which
  py-amqp dispatches the pending returns) the callback has seen both, each with reply
  code 312 / NO_ROUTE, the exchange and routing key used, body and properties
  (message_id, headers, content type) intact;
- a mandatory routable publish is delivered and not returned; a non-mandatory unroutable
  publish is dropped silently (no return);
- on a connection with `confirm_publish`, an unroutable mandatory publish triggers
  on_return while py-amqp waits for the confirm, and then publish() returns normally (the
  broker acked it; a nack would raise MessageNacked): the return came before the ack;
- a publish to an exchange that does not exist closes that channel with 404 NOT_FOUND
  (amqp.exceptions.NotFound); another channel stays usable.
Everything is deleted at the end.
"""

import amqp.exceptions
import kombu

from interop_common import amqp_uri, check_eq, main, unique


def scenario():
    exchange = kombu.Exchange(unique("mandatory-ex"), type="direct", durable=False)
    queue = kombu.Queue(unique("mandatory-q"), exchange, routing_key="bound", durable=False)
    events = []

    def on_return(exc, exchange_name, routing_key, message):
        events.append(("return", exc.reply_code, exc.reply_text, exchange_name, routing_key,
                       message))

    with kombu.Connection(amqp_uri()) as conn:
        channel = conn.channel()
        bound = queue(channel)
        bound.declare()
        # No default exchange on this Producer: publishes without `exchange` go to "".
        producer = kombu.Producer(channel, serializer=None, on_return=on_return)
        missing = unique("no-such-queue")
        producer.publish(b"to nowhere", routing_key=missing, mandatory=True,
                         message_id="r-1", headers={"why": "no queue"},
                         content_type="text/plain", content_encoding="utf-8", retry=False)
        producer.publish(b"unbound key", exchange=exchange, routing_key="unbound",
                         mandatory=True, message_id="r-2", retry=False)
        producer.publish(b"routable", exchange=exchange, routing_key="bound", mandatory=True,
                         retry=False)
        producer.publish(b"dropped quietly", exchange=exchange, routing_key="unbound",
                         mandatory=False, retry=False)
        # A synchronous round trip on the channel: the returns are dispatched on the way.
        bound.queue_declare(passive=True)

        check_eq(len(events), 2, "basic.return callbacks")
        _kind, code, text, ex, key, message = events[0]
        check_eq((code, text, ex, key), (312, "NO_ROUTE", "", missing),
                 "first return (code, text, exchange, key)")
        # py-amqp decodes a body whose content_encoding is set (utf-8 here) to a str.
        check_eq(message.body, "to nowhere", "first returned body")
        check_eq((message.properties.get("message_id"), message.headers,
                  message.properties.get("content_type"),
                  message.properties.get("content_encoding")),
                 ("r-1", {"why": "no queue"}, "text/plain", "utf-8"),
                 "first returned properties")
        _kind, code, _text, ex, key, message = events[1]
        check_eq((code, ex, key, message.body), (312, exchange.name, "unbound", b"unbound key"),
                 "second return")
        delivered = []
        with kombu.Consumer(conn.channel(), queues=[queue], no_ack=True,
                            on_message=lambda m: delivered.append(m.body)):
            conn.drain_events(timeout=10)
        check_eq(delivered, [b"routable"], "messages delivered to the bound queue")

        with kombu.Connection(amqp_uri(), transport_options={"confirm_publish": True}) as cconn:
            cproducer = kombu.Producer(cconn.channel(), exchange=exchange, serializer=None,
                                       on_return=on_return)
            events.clear()
            cproducer.publish(b"confirm+return", routing_key="unbound", mandatory=True,
                              retry=False)
            events.append(("acked",))  # publish() returned: the confirm was an ack
            check_eq([e[0] for e in events], ["return", "acked"],
                     "return before the confirm of an unroutable mandatory publish")
            check_eq((events[0][1], events[0][5].body), (312, b"confirm+return"),
                     "returned while confirming")

            doomed = kombu.Producer(cconn.channel(), serializer=None, auto_declare=False)
            try:
                doomed.publish(b"x", exchange=unique("no-such-exchange"), routing_key="k",
                               retry=False)
                raise AssertionError("publish to a missing exchange did not close the channel")
            except amqp.exceptions.NotFound as exc:
                check_eq(exc.reply_code, 404, "reply code for a missing exchange")
            # (py-amqp answers the broker's channel.close and then reopens the channel.)
            cproducer.publish(b"after the 404", routing_key="bound", retry=False)
            got = queue(cproducer.channel).get(no_ack=True)
            check_eq(got and got.body, b"after the 404", "the other channel still works")

        bound.delete()
        exchange(channel).delete()


if __name__ == "__main__":
    main(scenario)
