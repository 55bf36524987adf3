"""Celery: a real `celery -A tasks worker` process executing tasks sent by a Celery client.

The scenario starts a worker (prefork pool, concurrency 2, late acks, default gossip,
mingle and heartbeat so the pidbox and event exchanges are used too) against the broker,
then sends tasks with the rpc:// result backend: single calls, a group of 30 in flight, a
chain, and a task that raises (its exception must come back). It also pings the worker
through the remote-control (pidbox) fanout, then shuts it down with a broadcast and
waits for it to exit; the wait is bounded and the worker is killed if it overruns.
"""

import os
import sys
import uuid

from interop_common import ScenarioFailure, check_eq, main, unique

HERE = os.path.dirname(os.path.abspath(__file__))
APP_DIR = os.path.join(HERE, "app")
QUEUE = unique("celery")
os.environ["INTEROP_CELERY_QUEUE"] = QUEUE
sys.path.insert(0, APP_DIR)

import celery  # noqa: E402
import tasks  # noqa: E402
from workers import WorkerProcess  # noqa: E402

NODE = "interop-%s@localhost" % uuid.uuid4().hex[:8]


def exercise():
    # The first call doubles as the readiness check: it waits in the queue until the
    # worker has started consuming.
    check_eq(tasks.add.delay(2, 3).get(timeout=60), 5, "add(2, 3)")
    info = tasks.whoami.delay().get(timeout=30)
    check_eq(info["hostname"], NODE, "worker hostname seen by the task")
    check_eq(info["delivery_info"]["routing_key"], QUEUE, "task routing key")

    results = celery.group(tasks.mul.s(i, i) for i in range(30)).apply_async()
    check_eq(results.get(timeout=60), [i * i for i in range(30)], "group of 30 mul tasks")

    chained = celery.chain(tasks.add.s(1, 2), tasks.mul.s(10), tasks.add.s(5)).apply_async()
    check_eq(chained.get(timeout=60), 35, "chain ((1 + 2) * 10) + 5")

    failing = tasks.fail.delay("expected failure")
    try:
        failing.get(timeout=60)
        raise ScenarioFailure("a failing task returned normally")
    except ValueError as exc:
        check_eq(str(exc), "expected failure", "remote exception message")
    check_eq(failing.state, "FAILURE", "state of the failing task")

    pongs = tasks.app.control.ping(destination=[NODE], timeout=5)
    check_eq(pongs, [{NODE: {"ok": "pong"}}], "remote-control ping")


def scenario():
    worker = WorkerProcess(NODE, QUEUE)
    try:
        exercise()
    finally:
        output = worker.stop(tasks.app)
        if output.strip():
            print("worker output:\n" + output)
    check_eq(worker.proc.returncode, 0, "worker exit code")
    with tasks.app.connection_for_write() as conn:
        channel = conn.default_channel
        check_eq(channel.queue_declare(QUEUE, passive=True).message_count, 0, "tasks left")
        channel.queue_delete(QUEUE)
        channel.exchange_delete(QUEUE)  # Celery declares a direct exchange named after it


if __name__ == "__main__":
    main(scenario)
