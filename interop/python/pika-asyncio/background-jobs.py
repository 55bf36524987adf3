"""pika AsyncioConnection: background jobs, a pool of worker processes, one SIGKILLed.

A durable jobs queue and a results queue. Four worker processes (helpers/job_worker.py,
AsyncioConnection, prefetch 10, manual acks) compute a SHA-256 of each job's payload,
publish a result {job, worker, redelivered, digest}, then ack. Worker 0 stalls after 300
jobs: it announces the job it holds and stops, its prefetch unacked; the scenario then
kills it with SIGKILL (asyncio subprocess). Meanwhile a publisher coroutine sends
INTEROP_JOBS (default 10,000) persistent jobs on a confirm-mode channel, at most 500
unconfirmed; all must be acked, none nacked.

Checks: every job has exactly one result with the right digest (a duplicate is tolerated
only if flagged redelivered); the job worker 0 was stuck on was done by another worker
with redelivered=True; worker 0 did exactly 300 jobs and nothing after stalling; the
queues end empty and are deleted.
"""

import asyncio
import hashlib
import json
import os
import signal
import sys

import pika

from interop_common import check, check_eq, main, unique
from pika_async import AsyncioPika

JOBS = int(os.environ.get("INTEROP_JOBS", "10000"))
WORKERS = 4
STALL_AFTER = 300
WINDOW = 500
JOBS_Q = unique("jobs")
RESULTS_Q = unique("job-results")
HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers", "job_worker.py")


def payload(i):
    return "job-%d-" % i + "x" * (i % 100)


async def publish_jobs(amqp, conn):
    ch = await amqp.channel(conn)
    confirms = await amqp.confirms(ch)
    for i in range(JOBS):
        ch.basic_publish("", JOBS_Q, json.dumps({"id": i, "payload": payload(i)}).encode(),
                         pika.BasicProperties(delivery_mode=2))
        confirms.published()
        if confirms.outstanding >= WINDOW:
            await confirms.wait(WINDOW - 1)
    await confirms.wait(0)
    return confirms


async def run():
    amqp = AsyncioPika()
    conn = await amqp.connect()
    ch = await amqp.channel(conn)
    await amqp.call(ch.queue_declare, JOBS_Q, durable=True)
    await amqp.call(ch.queue_declare, RESULTS_Q, durable=True)

    procs = []
    for w in range(WORKERS):
        args = [sys.executable, HELPER, JOBS_Q, RESULTS_Q, str(w)]
        if w == 0:
            args.append(str(STALL_AFTER))
        procs.append(await asyncio.create_subprocess_exec(*args))
    results, duplicates, stalled = {}, [], []
    by_worker = [0] * WORKERS
    try:
        publisher = asyncio.ensure_future(publish_jobs(amqp, conn))
        tag, deliveries = await amqp.consume(ch, RESULTS_Q)
        while len(results) < JOBS:
            if publisher.done():
                publisher.result()  # raises if publishing failed
            method, _props, body = await amqp.next(deliveries, "a result")
            ch.basic_ack(method.delivery_tag)
            msg = json.loads(body)
            if "stalled" in msg:
                check_eq(msg["worker"], 0, "the worker that stalled")
                stalled.append(msg["stalled"])
                procs[0].send_signal(signal.SIGKILL)
                await asyncio.wait_for(procs[0].wait(), 10)
            elif msg["job"] in results:
                duplicates.append(msg)
            else:
                results[msg["job"]] = msg
                by_worker[msg["worker"]] += 1
        await amqp.call(ch.basic_cancel, tag)
        confirms = await asyncio.wait_for(publisher, 30)
        check_eq((confirms.acked, confirms.nacked), (JOBS, []), "job confirms (acked, nacked)")
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await asyncio.wait_for(p.wait(), 10)

    check_eq(len(stalled), 1, "stall announcements from worker 0")
    stalled = stalled[0]
    check_eq(procs[0].returncode, -signal.SIGKILL, "worker 0's exit status")
    check_eq([d for d in duplicates if not d["redelivered"]], [],
             "jobs done twice without a redelivered flag")
    check_eq(by_worker[0], STALL_AFTER, "jobs done by worker 0 (none after it stalled)")
    for i, r in results.items():
        check_eq(r["digest"], hashlib.sha256(payload(i).encode()).hexdigest(),
                 "digest of job %d" % i)
    check(results[stalled]["worker"] != 0, "the stalled job was finished by another worker")
    check_eq(results[stalled]["redelivered"], True, "redelivered flag on the stalled job")
    print("jobs per worker: %s; stalled job %d; %d duplicates"
          % (by_worker, stalled, len(duplicates)))

    for queue in (JOBS_Q, RESULTS_Q):
        frame = await amqp.call(ch.queue_declare, queue, passive=True)
        check_eq(frame.method.message_count, 0, "messages left in %s" % queue)
        await amqp.call(ch.queue_delete, queue)
    await amqp.close(conn)


def scenario():
    asyncio.run(asyncio.wait_for(run(), 100))


if __name__ == "__main__":
    main(scenario)
