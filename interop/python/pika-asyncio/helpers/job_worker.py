"""A background-job worker process for pika-asyncio/background-jobs.py (not a scenario).

usage: job_worker.py JOBS_QUEUE RESULTS_QUEUE WORKER_ID [STALL_AFTER]

An AsyncioConnection client coroutine: prefetch 10, consumes JOBS_QUEUE with manual acks;
for each job it computes the SHA-256 of the payload, publishes a result (job id, worker
id, redelivered flag, digest) to RESULTS_QUEUE, then acks. With STALL_AFTER=n, after n
jobs it publishes {"stalled": id} for the job it holds and then awaits forever, never
acking, until the scenario SIGKILLs it.
"""

import asyncio
import json

from catalogue import job_result, job_worker_options, stall_notice
from pika_async import AsyncioPika


async def run(jobs_queue, results_queue, worker_id, stall_after):
    amqp = AsyncioPika()
    conn = await amqp.connect()
    ch = await amqp.channel(conn)
    await amqp.call(ch.basic_qos, prefetch_count=10)
    _tag, deliveries = await amqp.consume(ch, jobs_queue)
    done = 0
    while True:
        method, _props, body = await deliveries.get()
        job = json.loads(body)
        if stall_after is not None and done >= stall_after:
            ch.basic_publish("", results_queue,
                             json.dumps(stall_notice(job, worker_id)).encode())
            await asyncio.Event().wait()  # stalled mid-job: the loop runs, nothing is acked
        ch.basic_publish("", results_queue,
                         json.dumps(job_result(job, worker_id, method.redelivered)).encode())
        ch.basic_ack(method.delivery_tag)
        done += 1


if __name__ == "__main__":
    asyncio.run(run(*job_worker_options()))
