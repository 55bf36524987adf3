"""aio-pika: background jobs with a pool of worker processes, one SIGKILLed mid-job.

A durable jobs queue and a results queue. Four worker processes (helpers/job_worker.py,
each its own aio-pika connection, prefetch 10, manual acks) consume jobs: each computes a
SHA-256 of the payload, publishes a result {job, worker, redelivered, digest}, then acks.
Worker 0 stalls after 300 jobs: it announces the job it holds on the results queue and
hangs with its prefetch unacked; the scenario then kills it with SIGKILL. Meanwhile
INTEROP_JOBS (default 10,000) persistent jobs are published with publisher confirms, a
window of 500 in flight (asyncio.gather); every one must be confirmed with Basic.Ack.

Checks: JobResults.verify (lib/catalogue.py: one result per job with the right digest, a
duplicate only if redelivered, the stalled job redone elsewhere with redelivered=True,
worker 0 SIGKILLed after exactly 300 jobs); every confirm frame a Basic.Ack; the queues
end empty (passive declare) and are deleted.
"""

import asyncio
import json
import signal

import aio_pika
from pamqp.commands import Basic

from catalogue import (JOB_WINDOW, JOB_WORKERS, JOBS, JobResults, job_body, job_worker_argv,
                       stop_workers_async)
from interop_common import amqp_uri, check_eq, main_async, unique

JOBS_Q = unique("jobs")
RESULTS_Q = unique("job-results")


async def publish_jobs(connection):
    channel = await connection.channel(publisher_confirms=True)
    frames = []
    for start in range(0, JOBS, JOB_WINDOW):
        frames += await asyncio.gather(*[
            channel.default_exchange.publish(
                aio_pika.Message(job_body(i), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=JOBS_Q)
            for i in range(start, min(start + JOB_WINDOW, JOBS))
        ])
    await channel.close()
    return frames


async def run():
    connection = await aio_pika.connect(amqp_uri())
    async with connection:
        channel = await connection.channel()
        jobs_q = await channel.declare_queue(JOBS_Q, durable=True)
        results_q = await channel.declare_queue(RESULTS_Q, durable=True)

        procs = [await asyncio.create_subprocess_exec(
                     *job_worker_argv(__file__, JOBS_Q, RESULTS_Q, w))
                 for w in range(JOB_WORKERS)]
        collected = JobResults()
        try:
            publisher = asyncio.ensure_future(publish_jobs(connection))

            async def collect():
                async with results_q.iterator() as messages:
                    async for message in messages:
                        await message.ack()
                        if collected.record(json.loads(message.body)):
                            procs[0].send_signal(signal.SIGKILL)
                            await asyncio.wait_for(procs[0].wait(), 10)
                        if collected.complete():
                            return

            try:
                await asyncio.wait_for(collect(), 90)
            except asyncio.TimeoutError:
                raise AssertionError("only %d of %d results within 90s (per worker %s)"
                                     % (len(collected.results), JOBS, collected.by_worker))
            frames = await asyncio.wait_for(publisher, 30)
            check_eq(len(frames), JOBS, "publish confirmations")
            check_eq({type(f) for f in frames}, {Basic.Ack}, "confirmation frames")
        finally:
            await stop_workers_async(procs)

        collected.verify(procs[0].returncode)

        for name, queue in ((JOBS_Q, jobs_q), (RESULTS_Q, results_q)):
            declared = await channel.declare_queue(name, passive=True)
            check_eq(declared.declaration_result.message_count, 0, "messages left in %s" % name)
            await queue.delete(if_unused=False, if_empty=False)


if __name__ == "__main__":
    main_async(run, 110)
