"""A background-job worker process for background-jobs.py (not a scenario itself).

usage: job_worker.py JOBS_QUEUE RESULTS_QUEUE WORKER_ID [STALL_AFTER]

Consumes JOBS_QUEUE with prefetch 10 and manual acks. For each job it computes the
SHA-256 of the payload, publishes a result (job id, worker id, redelivered flag, digest) to
RESULTS_QUEUE, then acks the job. With STALL_AFTER=n, after n jobs it announces the next
job it holds as "stalled" and hangs mid-job (never acking), waiting to be killed.
"""

import json
import time

import pika

from catalogue import job_result, job_worker_options, stall_notice
from interop_common import pika_params


def run(jobs_queue, results_queue, worker_id, stall_after):
    connection = pika.BlockingConnection(pika_params())
    channel = connection.channel()
    channel.basic_qos(prefetch_count=10)
    done = 0

    def on_job(ch, method, props, body):
        nonlocal done
        job = json.loads(body)
        if stall_after is not None and done >= stall_after:
            ch.basic_publish("", results_queue, json.dumps(stall_notice(job, worker_id)))
            # Hang mid-job with this and up to 9 more jobs unacked, until killed.
            while True:
                time.sleep(1)
        result = job_result(job, worker_id, method.redelivered)
        ch.basic_publish("", results_queue, json.dumps(result))
        ch.basic_ack(method.delivery_tag)
        done += 1

    channel.basic_consume(jobs_queue, on_job)
    channel.start_consuming()


if __name__ == "__main__":
    run(*job_worker_options())
