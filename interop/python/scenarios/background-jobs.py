"""Background jobs: 10,000 jobs, confirms, a pool of workers, one killed mid-job.

A durable job queue and a results queue. Four worker processes (helpers/job_worker.py,
pika, prefetch 10, manual acks) consume jobs; each publishes a result then acks. Worker 0
is told to hang mid-job after 300 jobs; when it announces that, the scenario SIGKILLs it.
Meanwhile 10,000 persistent jobs are published with publisher confirms (aio-pika, a window
of confirms in flight), all of which must be acked by the broker.

Checks: JobResults.verify (lib/catalogue.py) without tolerating any duplicate: every job
has exactly one result, with the right digest; the job worker 0 was holding when killed is
done by another worker and flagged redelivered; worker 0 did no job after it stalled; the
queues end empty.
"""

import asyncio
import json
import signal
import subprocess

import aio_pika
import pika

from catalogue import (JOB_WINDOW, JOB_WORKERS, JOBS, JobResults, job_body, job_worker_argv,
                       stop_workers)
from interop_common import Deadline, Worker, amqp_uri, check_eq, main, pika_params, unique

JOBS_Q = unique("jobs")
RESULTS_Q = unique("job-results")


async def publish_jobs():
    connection = await aio_pika.connect(amqp_uri())
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        acked = 0
        for start in range(0, JOBS, JOB_WINDOW):
            confirms = await asyncio.gather(*[
                channel.default_exchange.publish(
                    aio_pika.Message(job_body(i), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    routing_key=JOBS_Q)
                for i in range(start, min(start + JOB_WINDOW, JOBS))
            ])
            acked += sum(1 for c in confirms if c is not None)
        return acked


def scenario():
    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    channel.queue_declare(JOBS_Q, durable=True)
    channel.queue_declare(RESULTS_Q, durable=True)

    procs = [subprocess.Popen(job_worker_argv(__file__, JOBS_Q, RESULTS_Q, w))
             for w in range(JOB_WORKERS)]
    collected = JobResults()
    try:
        publisher = Worker(lambda: asyncio.run(publish_jobs()), name="publisher")
        publisher.start()

        deadline = Deadline(100)
        for method, _props, body in channel.consume(RESULTS_Q, inactivity_timeout=1):
            if method is not None:
                channel.basic_ack(method.delivery_tag)
                if collected.record(json.loads(body)):
                    procs[0].send_signal(signal.SIGKILL)
                    procs[0].wait(10)
            if collected.complete() or deadline.expired():
                break
        channel.cancel()
        acked = publisher.join_checked(60)
        check_eq(acked, JOBS, "jobs confirmed by the broker")
    finally:
        stop_workers(procs)

    # This client sees no duplicate at all (a stricter check than the catalogue's).
    collected.verify(procs[0].returncode, duplicates_allowed=False)

    for queue in (JOBS_Q, RESULTS_Q):
        left = channel.queue_declare(queue, durable=True, passive=True).method.message_count
        check_eq(left, 0, "messages left in %s" % queue)
        channel.queue_delete(queue)
    connection.close()


if __name__ == "__main__":
    main(scenario)
