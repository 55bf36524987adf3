"""kombu (over py-amqp): Exchange, Queue, Producer and Consumer round trip.

A direct exchange and two durable queues bound with different routing keys. A Producer
publishes JSON-serialised payloads with headers and priorities to both keys (with
publisher confirms enabled on the transport); a Consumer on both queues decodes them,
checks payloads, content type, headers and delivery info, acks, and drains until every
message is in. Also checks kombu's SimpleQueue put/get/qsize round trip, and that
everything declared is deleted.
"""

import kombu

from interop_common import amqp_uri, check_eq, main, unique

COUNT = 50


def scenario():
    exchange = kombu.Exchange(unique("kombu-ex"), type="direct", durable=True)
    queues = [
        kombu.Queue(unique("kombu-images"), exchange, routing_key="images", durable=True),
        kombu.Queue(unique("kombu-videos"), exchange, routing_key="videos", durable=True),
    ]
    with kombu.Connection(amqp_uri(), transport_options={"confirm_publish": True}) as conn:
        conn.ensure_connection(max_retries=1)
        producer = kombu.Producer(conn.channel(), exchange=exchange, serializer="json")
        for q in queues:
            q.bind(conn.default_channel).declare()
        for i in range(COUNT):
            key = "images" if i % 2 == 0 else "videos"
            producer.publish(
                {"i": i, "kind": key, "tags": ["a", "b"], "nested": {"ok": True}},
                routing_key=key,
                headers={"seq": i},
                priority=i % 5,
                declare=[exchange],
            )

        received = {"images": [], "videos": []}

        def on_message(body, message):
            check_eq(message.content_type, "application/json", "content type")
            check_eq(message.headers, {"seq": body["i"]}, "headers")
            check_eq(message.delivery_info["routing_key"], body["kind"], "routing key")
            check_eq(message.delivery_info["exchange"], exchange.name, "exchange")
            check_eq(body["nested"], {"ok": True}, "nested payload")
            received[body["kind"]].append(body["i"])
            message.ack()

        with kombu.Consumer(conn.channel(), queues=queues, callbacks=[on_message],
                            accept=["json"], prefetch_count=10):
            while sum(len(v) for v in received.values()) < COUNT:
                conn.drain_events(timeout=20)
        check_eq(received["images"], list(range(0, COUNT, 2)), "images received, in order")
        check_eq(received["videos"], list(range(1, COUNT, 2)), "videos received, in order")

        simple = conn.SimpleQueue(unique("kombu-simple"))
        simple.put({"hello": "simple"}, serializer="json")
        message = simple.get(block=True, timeout=20)
        check_eq(message.payload, {"hello": "simple"}, "SimpleQueue payload")
        message.ack()
        check_eq(simple.qsize(), 0, "SimpleQueue size after get")
        simple.close()
        kombu.Queue(simple.queue.name).bind(conn.default_channel).delete()
        # SimpleQueue declares a direct exchange named after its queue.
        conn.default_channel.exchange_delete(simple.queue.exchange.name)

        for q in queues:
            check_eq(q.bind(conn.default_channel).queue_declare(passive=True).message_count, 0,
                     "messages left in %s" % q.name)
            q.bind(conn.default_channel).delete()
        exchange.bind(conn.default_channel).delete()


if __name__ == "__main__":
    main(scenario)
