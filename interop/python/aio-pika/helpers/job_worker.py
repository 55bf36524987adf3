"""A background-job worker process for aio-pika/background-jobs.py (not a scenario itself).

usage: job_worker.py JOBS_QUEUE RESULTS_QUEUE WORKER_ID [STALL_AFTER]

Its own aio-pika connection, prefetch 10, consuming JOBS_QUEUE through the queue iterator
with manual acks. For each job it computes the SHA-256 of the payload, publishes a result
(job id, worker id, redelivered flag, digest) to RESULTS_QUEUE, then acks the job. With
STALL_AFTER=n, after n jobs it announces the job it holds as {"stalled": id} on
RESULTS_QUEUE and hangs mid-job (never acking), until the scenario SIGKILLs it.
"""

import asyncio
import json

import aio_pika

from catalogue import job_result, job_worker_options, stall_notice
from interop_common import amqp_uri


async def run(jobs_queue, results_queue, worker_id, stall_after):
    connection = await aio_pika.connect(amqp_uri())
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=10)
        queue = await channel.get_queue(jobs_queue, ensure=False)
        done = 0
        async with queue.iterator() as jobs:
            async for message in jobs:
                job = json.loads(message.body)
                if stall_after is not None and done >= stall_after:
                    await channel.default_exchange.publish(
                        aio_pika.Message(json.dumps(stall_notice(job, worker_id)).encode()),
                        routing_key=results_queue)
                    # Hang mid-job, this job and the rest of the prefetch unacked.
                    await asyncio.Event().wait()
                result = job_result(job, worker_id, message.redelivered)
                await channel.default_exchange.publish(
                    aio_pika.Message(json.dumps(result).encode()), routing_key=results_queue)
                await message.ack()
                done += 1


if __name__ == "__main__":
    asyncio.run(run(*job_worker_options()))
