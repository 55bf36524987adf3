"""Fetches one message with pika (basic_get, acked) and prints its body and properties as
JSON, so the amqp-tools scenario can check what rabbitmq-c's amqp-publish sent."""

import json
import sys

import pika

from interop_common import pika_params


def main():
    queue = sys.argv[1]
    conn = pika.BlockingConnection(pika_params())
    ch = conn.channel()
    method, props, body = ch.basic_get(queue, auto_ack=True)
    if method is None:
        print(json.dumps(None))
    else:
        headers = {
            k: (v.decode() if isinstance(v, bytes) else v) for k, v in (props.headers or {}).items()
        }
        print(
            json.dumps(
                {
                    "body": body.decode(),
                    "content_type": props.content_type,
                    "content_encoding": props.content_encoding,
                    "delivery_mode": props.delivery_mode,
                    "reply_to": props.reply_to,
                    "headers": headers,
                },
                sort_keys=True,
            )
        )
    conn.close()


if __name__ == "__main__":
    main()
