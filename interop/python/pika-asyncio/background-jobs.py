"""pika AsyncioConnection: background jobs, a pool of worker processes, one SIGKILLed.

A durable jobs queue and a results queue. Four worker processes (helpers/job_worker.py,
AsyncioConnection, prefetch 10, manual acks) compute a SHA-256 of each job's payload,
publish a result {job, worker, redelivered, digest}, then ack. Worker 0 stalls after 300
jobs: it announces the job it holds and stops, its prefetch unacked; the scenario then
kills it with SIGKILL (asyncio subprocess). Meanwhile a publisher coroutine sends
INTEROP_JOBS (default 10,000) persistent jobs on a confirm-mode channel, at most 500
unconfirmed; all must be acked, none nacked.

Checks, after the results are in: the publisher's confirms (all acked, none nacked); the
catalogue's JobResults.verify (lib/catalogue.py), i.e. one digest-checked result per job,
duplicates only when redelivered, the stalled job redone by another worker with the
redelivered flag, exactly 300 jobs from worker 0; empty queues, deleted at the end.
"""

import asyncio
import json
import signal

import pika

from catalogue import (JOB_WINDOW, JOB_WORKERS, JOBS, JobResults, job_body, job_worker_argv,
                       stop_workers_async)
from interop_common import check_eq, main_async, unique
from pika_async import AsyncioPika

JOBS_Q = unique("jobs")
RESULTS_Q = unique("job-results")


async def publish_jobs(amqp, conn):
    ch = await amqp.channel(conn)
    confirms = await amqp.confirms(ch)
    for i in range(JOBS):
        ch.basic_publish("", JOBS_Q, job_body(i), pika.BasicProperties(delivery_mode=2))
        confirms.published()
        if confirms.outstanding >= JOB_WINDOW:
            await confirms.wait(JOB_WINDOW - 1)
    await confirms.wait(0)
    return confirms


async def run():
    amqp = AsyncioPika()
    conn = await amqp.connect()
    ch = await amqp.channel(conn)
    await amqp.call(ch.queue_declare, JOBS_Q, durable=True)
    await amqp.call(ch.queue_declare, RESULTS_Q, durable=True)

    procs = [await asyncio.create_subprocess_exec(*job_worker_argv(__file__, JOBS_Q, RESULTS_Q, w))
             for w in range(JOB_WORKERS)]
    collected = JobResults()
    try:
        publisher = asyncio.ensure_future(publish_jobs(amqp, conn))
        tag, deliveries = await amqp.consume(ch, RESULTS_Q)
        while not collected.complete():
            if publisher.done():
                publisher.result()  # raises if publishing failed
            method, _props, body = await amqp.next(deliveries, "a result")
            ch.basic_ack(method.delivery_tag)
            if collected.record(json.loads(body)):
                procs[0].send_signal(signal.SIGKILL)
                await asyncio.wait_for(procs[0].wait(), 10)
        await amqp.call(ch.basic_cancel, tag)
        confirms = await asyncio.wait_for(publisher, 30)
        check_eq((confirms.acked, confirms.nacked), (JOBS, []), "job confirms (acked, nacked)")
    finally:
        await stop_workers_async(procs)

    collected.verify(procs[0].returncode)

    for queue in (JOBS_Q, RESULTS_Q):
        frame = await amqp.call(ch.queue_declare, queue, passive=True)
        check_eq(frame.method.message_count, 0, "messages left in %s" % queue)
        await amqp.call(ch.queue_delete, queue)
    await amqp.close(conn)


if __name__ == "__main__":
    main_async(run, 100)
