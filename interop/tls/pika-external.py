"""pika over amqps:// with a client certificate and SASL EXTERNAL (the certificate's CN,
guest, is the user); without a certificate EXTERNAL is refused."""
import os
import ssl
import uuid

import pika
import pika.exceptions

tls = os.environ["INTEROP_TLS_DIR"]


def params(with_cert):
    ctx = ssl.create_default_context(cafile=os.path.join(tls, "ca.pem"))
    if with_cert:
        ctx.load_cert_chain(os.path.join(tls, "client.pem"), os.path.join(tls, "client-key.pem"))
    p = pika.URLParameters(os.environ["AMQPS_URI"])
    p.ssl_options = pika.SSLOptions(ctx, "127.0.0.1")
    p.credentials = pika.credentials.ExternalCredentials()
    return p


conn = pika.BlockingConnection(params(True))
ch = conn.channel()
q = f"interop.tls-external.{uuid.uuid4().hex}"
ch.queue_declare(q, auto_delete=True)
ch.basic_publish("", q, b"by certificate")
_, _, body = ch.basic_get(q, auto_ack=True)
assert body == b"by certificate", body
ch.queue_delete(q)
conn.close()

try:
    pika.BlockingConnection(params(False))
except pika.exceptions.ProbableAccessDeniedError:
    pass
except pika.exceptions.ProbableAuthenticationError:
    pass
except pika.exceptions.AuthenticationError:
    pass
else:
    raise AssertionError("EXTERNAL without a client certificate must be refused")
print("ok")
