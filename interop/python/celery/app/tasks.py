"""The Celery application used by the celery interop scenario (not a scenario itself).

Broker: $AMQP_URI. Result backend: rpc:// (results travel back over AMQP to the caller's
reply queue). The task queue name comes from $INTEROP_CELERY_QUEUE so runs don't collide.
"""

import hashlib
import os
import time

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


@app.task(bind=True)
def job(self, number, payload):
    """A background job: the SHA-256 of its payload. Each execution is logged to
    $INTEROP_JOB_LOG as "<job> <worker> <redelivered>". A worker started with
    $INTEROP_STALL_AFTER=N stalls (never returns) in the first job it starts after it has
    done N, first writing that job's number to $INTEROP_JOB_LOG.stalled."""
    log = os.environ["INTEROP_JOB_LOG"]
    stall_after = os.environ.get("INTEROP_STALL_AFTER")
    if stall_after is not None:
        done = log + ".stall-count"
        if os.path.exists(done) and os.path.getsize(done) >= int(stall_after):
            # Both pool processes may stall at once: each writes its own temporary file.
            tmp = "%s.stalled.%d.tmp" % (log, os.getpid())
            with open(tmp, "w") as marker:
                marker.write(str(number))
            os.replace(tmp, log + ".stalled")
            time.sleep(600)
    redelivered = bool(self.request.delivery_info.get("redelivered"))
    digest = hashlib.sha256(payload.encode()).hexdigest()
    with open(log, "a") as out:
        out.write("%d %s %d\n" % (number, self.request.hostname, redelivered))
    if stall_after is not None:
        with open(log + ".stall-count", "ab") as done_file:
            done_file.write(b".")
    return {"job": number, "digest": digest, "worker": self.request.hostname,
            "redelivered": redelivered}
