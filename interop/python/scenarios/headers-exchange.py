"""Headers exchange routing (pika BlockingConnection).

Queues bound to one headers exchange with: x-match=all {format: pdf, type: report};
x-match=any {format: zip, type: log}; no x-match (defaults to all) {priority: 1} (an int);
x-match=all with no other arguments (matches every message); x-match=all {color: red}
plus an "x-" argument, which is not used for matching. Messages with various header
sets (including no headers, wrong types and extra headers) must land exactly where the
rules say, in order. The routing key is ignored.
"""


import pika

from interop_common import check_eq, main, pika_params, unique

BINDINGS = {
    "all-pdf-report": {"x-match": "all", "format": "pdf", "type": "report"},
    "any-zip-log": {"x-match": "any", "format": "zip", "type": "log"},
    "default-priority-1": {"priority": 1},
    "all-empty": {"x-match": "all"},
    "all-red-with-x-arg": {"x-match": "all", "x-note": "not matched on", "color": "red"},
}
MESSAGES = [
    ("m1", {"format": "pdf", "type": "report"}, ["all-pdf-report", "all-empty"]),
    ("m2", {"format": "pdf", "type": "report", "extra": "yes"}, ["all-pdf-report", "all-empty"]),
    ("m3", {"format": "pdf"}, ["all-empty"]),
    ("m4", {"format": "zip"}, ["any-zip-log", "all-empty"]),
    ("m5", {"type": "log", "format": "pdf"}, ["any-zip-log", "all-empty"]),
    ("m6", {"priority": 1}, ["default-priority-1", "all-empty"]),
    ("m7", {"priority": "1"}, ["all-empty"]),
    ("m8", {"priority": 2}, ["all-empty"]),
    ("m9", None, ["all-empty"]),
    ("m10", {"format": "zip", "type": "report", "priority": 1},
     ["any-zip-log", "default-priority-1", "all-empty"]),
    ("m11", {"color": "red"}, ["all-empty", "all-red-with-x-arg"]),
    ("m12", {"color": "red", "x-note": "other"}, ["all-empty", "all-red-with-x-arg"]),
]


def scenario():
    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    exchange = unique("headers")
    channel.exchange_declare(exchange, exchange_type="headers")
    queues = {}
    for name, args in BINDINGS.items():
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, exchange, routing_key="ignored", arguments=args)
        queues[name] = queue
    channel.confirm_delivery()
    for body, headers, _ in MESSAGES:
        channel.basic_publish(exchange, "any-key-%s" % body, body.encode(),
                              pika.BasicProperties(headers=headers))
    for name, queue in queues.items():
        got = []
        while True:
            method, _props, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                break
            got.append(body.decode())
        expected = [b for b, _h, dest in MESSAGES if name in dest]
        check_eq(got, expected, "messages routed to %s" % name)
    channel.exchange_delete(exchange)
    connection.close()


if __name__ == "__main__":
    main(scenario)
