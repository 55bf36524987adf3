"""pika over amqps:// with PLAIN: the server is verified against the test CA, a message
makes a round trip through a queue."""
import os
import ssl
import uuid

import pika

tls = os.environ["INTEROP_TLS_DIR"]
ctx = ssl.create_default_context(cafile=os.path.join(tls, "ca.pem"))
params = pika.URLParameters(os.environ["AMQPS_URI"])
params.ssl_options = pika.SSLOptions(ctx, "127.0.0.1")
conn = pika.BlockingConnection(params)
ch = conn.channel()
ch.confirm_delivery()
q = f"interop.tls-plain.{uuid.uuid4().hex}"
ch.queue_declare(q, auto_delete=True)
ch.basic_publish("", q, b"over tls", pika.BasicProperties(content_type="text/plain"))
method, props, body = ch.basic_get(q, auto_ack=True)
assert body == b"over tls", body
assert props.content_type == "text/plain", props
ch.queue_delete(q)
conn.close()
print("ok")
