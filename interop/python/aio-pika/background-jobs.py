"""aio-pika: background jobs with a pool of worker processes, one SIGKILLed mid-job.

A durable jobs queue and a results queue. Four worker processes (helpers/job_worker.py,
each its own aio-pika connection, prefetch 10, manual acks) consume jobs: each computes a
SHA-256 of the payload, publishes a result {job, worker, redelivered, digest}, then acks.
Worker 0 stalls after 300 jobs: it announces the job it holds on the results queue and
hangs with its prefetch unacked; the scenario then kills it with SIGKILL. Meanwhile
INTEROP_JOBS (default 10,000) persistent jobs are published with publisher confirms, a
window of 500 in flight (asyncio.gather); every one must be confirmed with Basic.Ack.

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

import aio_pika
from pamqp.commands import Basic

from interop_common import amqp_uri, check, check_eq, main, unique

JOBS = int(os.environ.get("INTEROP_JOBS", "10000"))
WORKERS = 4
STALL_AFTER = 300
WINDOW = 500
JOBS_Q = unique("jobs")
RESULTS_Q = unique("job-results")
HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers", "job_worker.py")


def payload(i):
    return "job-%d-" % i + "x" * (i % 100)


async def publish_jobs(connection):
    channel = await connection.channel(publisher_confirms=True)
    frames = []
    for start in range(0, JOBS, WINDOW):
        frames += await asyncio.gather(*[
            channel.default_exchange.publish(
                aio_pika.Message(json.dumps({"id": i, "payload": payload(i)}).encode(),
                                 delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=JOBS_Q)
            for i in range(start, min(start + WINDOW, JOBS))
        ])
    await channel.close()
    return frames


async def run():
    connection = await aio_pika.connect(amqp_uri())
    async with connection:
        channel = await connection.channel()
        jobs_q = await channel.declare_queue(JOBS_Q, durable=True)
        results_q = await channel.declare_queue(RESULTS_Q, durable=True)

        procs = []
        for w in range(WORKERS):
            args = [sys.executable, HELPER, JOBS_Q, RESULTS_Q, str(w)]
            if w == 0:
                args.append(str(STALL_AFTER))
            procs.append(await asyncio.create_subprocess_exec(*args))
        try:
            publisher = asyncio.ensure_future(publish_jobs(connection))
            results, duplicates, stalled = {}, [], None
            by_worker = [0] * WORKERS

            async def collect():
                nonlocal stalled
                async with results_q.iterator() as messages:
                    async for message in messages:
                        await message.ack()
                        msg = json.loads(message.body)
                        if "stalled" in msg:
                            check_eq(msg["worker"], 0, "the worker that stalled")
                            stalled = msg["stalled"]
                            procs[0].send_signal(signal.SIGKILL)
                            await asyncio.wait_for(procs[0].wait(), 10)
                        elif msg["job"] in results:
                            duplicates.append(msg)
                        else:
                            results[msg["job"]] = msg
                            by_worker[msg["worker"]] += 1
                        if len(results) == JOBS:
                            return

            try:
                await asyncio.wait_for(collect(), 90)
            except asyncio.TimeoutError:
                raise AssertionError("only %d of %d results within 90s (per worker %s)"
                                     % (len(results), JOBS, by_worker))
            frames = await asyncio.wait_for(publisher, 30)
            check_eq(len(frames), JOBS, "publish confirmations")
            check_eq({type(f) for f in frames}, {Basic.Ack}, "confirmation frames")
        finally:
            for p in procs:
                if p.returncode is None:
                    p.kill()
                    await asyncio.wait_for(p.wait(), 10)

        check(stalled is not None, "worker 0 never stalled (it did %d jobs)" % by_worker[0])
        check_eq(procs[0].returncode, -signal.SIGKILL, "worker 0's exit status")
        check_eq(len(results), JOBS, "jobs with a result")
        # A duplicate is only acceptable for a job whose second run was a redelivery.
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

        for name, queue in ((JOBS_Q, jobs_q), (RESULTS_Q, results_q)):
            declared = await channel.declare_queue(name, passive=True)
            check_eq(declared.declaration_result.message_count, 0, "messages left in %s" % name)
            await queue.delete(if_unused=False, if_empty=False)


def scenario():
    asyncio.run(asyncio.wait_for(run(), 110))


if __name__ == "__main__":
    main(scenario)
