"""The Celery application used by the celery interop scenario (not a scenario itself).

Broker: $AMQP_URI. Result backend: rpc:// (results travel back over AMQP to the caller's
reply queue). The task queue name comes from $INTEROP_CELERY_QUEUE so runs don't collide.
"""

import os

from celery import Celery

app = Celery("tasks", broker=os.environ["AMQP_URI"], backend="rpc://")
app.conf.update(
    task_default_queue=os.environ["INTEROP_CELERY_QUEUE"],
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=False,
    broker_connection_max_retries=0,
    worker_prefetch_multiplier=4,
    task_acks_late=True,
    # Celery's worker sends no AMQP heartbeats while it starts up (imports, forking, mingle)
    # and none at all with the threads pool, so a broker offering a low heartbeat (the suite
    # may run with WARREN_AMQP__HEARTBEAT=1) would drop it, as RabbitMQ would. Opt out in
    # connection.tune-ok, which the broker must honour.
    broker_heartbeat=0,
)


@app.task
def add(x, y):
    return x + y


@app.task
def mul(x, y):
    return x * y


@app.task
def fail(message):
    raise ValueError(message)


@app.task(bind=True)
def whoami(self):
    return {"hostname": self.request.hostname, "delivery_info": self.request.delivery_info}
