"""Background jobs: 10,000 jobs, confirms, a pool of workers, one killed mid-job.

A durable job queue and a results queue. Four worker processes (helpers/job_worker.py,
pika, prefetch 10, manual acks) consume jobs; each publishes a result then acks. Worker 0
is told to hang mid-job after 300 jobs; when it announces that, the scenario SIGKILLs it.
Meanwhile 10,000 persistent jobs are published with publisher confirms (aio-pika, a window
of confirms in flight), all of which must be acked by the broker.

Checks: every job has exactly one result, with the right digest; the job worker 0 was
holding when killed is done by another worker and flagged redelivered; worker 0 did no job
after it stalled; the queues end empty.
"""

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys

import aio_pika
import pika

from interop_common import (Deadline, Worker, amqp_uri, check, check_eq, main, pika_params,
                            unique)

JOBS = int(os.environ.get("INTEROP_JOBS", "10000"))
WORKERS = 4
STALL_AFTER = 300
WINDOW = 500
JOBS_Q = unique("jobs")
RESULTS_Q = unique("job-results")
HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers", "job_worker.py")


def payload(i):
    return "job-%d-" % i + "x" * (i % 100)


async def publish_jobs():
    connection = await aio_pika.connect(amqp_uri())
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        acked = 0
        for start in range(0, JOBS, WINDOW):
            confirms = await asyncio.gather(*[
                channel.default_exchange.publish(
                    aio_pika.Message(json.dumps({"id": i, "payload": payload(i)}).encode(),
                                     delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    routing_key=JOBS_Q)
                for i in range(start, min(start + WINDOW, JOBS))
            ])
            acked += sum(1 for c in confirms if c is not None)
        return acked


def scenario():
    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    channel.queue_declare(JOBS_Q, durable=True)
    channel.queue_declare(RESULTS_Q, durable=True)

    procs = []
    for w in range(WORKERS):
        args = [sys.executable, HELPER, JOBS_Q, RESULTS_Q, str(w)]
        if w == 0:
            args.append(str(STALL_AFTER))
        procs.append(subprocess.Popen(args))
    try:
        publisher = Worker(lambda: asyncio.run(publish_jobs()), name="publisher")
        publisher.start()

        results = {}
        duplicates = []
        stalled = None
        by_worker = [0] * WORKERS
        deadline = Deadline(100)
        for method, _props, body in channel.consume(RESULTS_Q, inactivity_timeout=1):
            if method is not None:
                msg = json.loads(body)
                channel.basic_ack(method.delivery_tag)
                if "stalled" in msg:
                    check_eq(msg["worker"], 0, "the worker that stalled")
                    stalled = msg["stalled"]
                    procs[0].send_signal(signal.SIGKILL)
                    procs[0].wait(10)
                elif msg["job"] in results:
                    duplicates.append(msg)
                else:
                    results[msg["job"]] = msg
                    by_worker[msg["worker"]] += 1
            if len(results) == JOBS or deadline.expired():
                break
        channel.cancel()
        acked = publisher.join_checked(60)
        check_eq(acked, JOBS, "jobs confirmed by the broker")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)

    check(stalled is not None, "worker 0 never stalled (it did %d jobs)" % by_worker[0])
    check_eq(len(results), JOBS, "jobs with a result")
    check_eq(duplicates, [], "jobs done more than once")
    check_eq(by_worker[0], STALL_AFTER, "jobs done by worker 0 before it was killed")
    for i, r in results.items():
        if r["digest"] != hashlib.sha256(payload(i).encode()).hexdigest():
            raise AssertionError("wrong digest for job %d" % i)
    check(results[stalled]["worker"] != 0, "the stalled job was finished by another worker")
    check_eq(results[stalled]["redelivered"], True, "redelivered flag on the stalled job")
    print("jobs per worker: %s; stalled job %d" % (by_worker, stalled))

    for queue in (JOBS_Q, RESULTS_Q):
        left = channel.queue_declare(queue, durable=True, passive=True).method.message_count
        check_eq(left, 0, "messages left in %s" % queue)
        channel.queue_delete(queue)
    connection.close()


if __name__ == "__main__":
    main(scenario)
