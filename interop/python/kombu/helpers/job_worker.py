"""A background-job worker process for kombu/background-jobs.py (not a scenario itself).

usage: job_worker.py JOBS_QUEUE RESULTS_QUEUE WORKER_ID [STALL_AFTER]

A kombu ConsumerMixin on its own Connection, prefetch 10, manual acks. For each job
(JSON) it computes the SHA-256 of the payload, publishes a result (job id, worker id,
redelivered flag, digest) to RESULTS_QUEUE through the default exchange, then acks the job.
With STALL_AFTER=n, after n jobs it announces the job it holds as {"stalled": id} and hangs
mid-job (never acking), until the scenario SIGKILLs it.
"""

import time

import kombu
from kombu.mixins import ConsumerMixin

from catalogue import job_result, job_worker_options, stall_notice
from interop_common import amqp_uri


class JobWorker(ConsumerMixin):
    def __init__(self, connection, jobs_queue, results_queue, worker_id, stall_after):
        self.connection = connection
        self.jobs = kombu.Queue(jobs_queue, durable=True, no_declare=True)
        self.results_queue = results_queue
        self.worker_id = worker_id
        self.stall_after = stall_after
        self.done = 0
        self.producer = kombu.Producer(connection.channel(), serializer="json")

    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[self.jobs], callbacks=[self.on_job], accept=["json"],
                         prefetch_count=10)]

    def result(self, payload):
        self.producer.publish(payload, routing_key=self.results_queue, retry=False)

    def on_job(self, job, message):
        if self.stall_after is not None and self.done >= self.stall_after:
            self.result(stall_notice(job, self.worker_id))
            # Hang mid-job, this job and the rest of the prefetch unacked, until killed.
            while True:
                time.sleep(1)
        self.result(job_result(job, self.worker_id, message.delivery_info["redelivered"]))
        message.ack()
        self.done += 1


if __name__ == "__main__":
    with kombu.Connection(amqp_uri()) as conn:
        JobWorker(conn, *job_worker_options()).run()
